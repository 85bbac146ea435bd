// random_test.cpp: the random transforms of data/transforms.h: reproducible from a seeded
// Generator (and from a saved and restored state), probabilities 0 and 1, output sizes, the
// parameter draws replayed by hand, the flower pipelines and their tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "data/transforms.h"

namespace sepal::data {
namespace {

namespace F = functional;

// A colourful test image with no symmetry: every flip, rotation and colour change shows.
Image test_image(int h = 40, int w = 48) {
  Image img(h, w, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      img.at(y, x, 0) = static_cast<uint8_t>((x * 37 + y * 11) % 256);
      img.at(y, x, 1) = static_cast<uint8_t>((y * 23 + 40) % 256);
      img.at(y, x, 2) = static_cast<uint8_t>((x * y + 7) % 256);
    }
  return img;
}

std::vector<TransformPtr> all_random() {
  return {random_resized_crop(24),          random_rotation(45),
          random_horizontal_flip(),         random_vertical_flip(),
          color_jitter(0.4, 0.4, 0.4, 0.2), random_grayscale(0.5)};
}

TEST(RandomTransforms, SameSeedSameOutput) {
  const Image img = test_image();
  for (const auto& t : all_random()) {
    SCOPED_TRACE(t->repr());
    Generator a(17), b(17);
    for (int i = 0; i < 5; ++i) EXPECT_EQ((*t)(img, a).pixels, (*t)(img, b).pixels);
    EXPECT_EQ(a.offset(), b.offset());
  }
}

TEST(RandomTransforms, SavedStateReplays) {
  const Image img = test_image();
  for (const auto& t : all_random()) {
    SCOPED_TRACE(t->repr());
    Generator g(3);
    (*t)(img, g);  // move away from the start
    const uint64_t seed = g.seed(), offset = g.offset();
    std::vector<Image> first;
    for (int i = 0; i < 4; ++i) first.push_back((*t)(img, g));
    g.set_state(seed, offset);
    for (int i = 0; i < 4; ++i) EXPECT_EQ((*t)(img, g).pixels, first[i].pixels) << "draw " << i;
  }
}

TEST(RandomTransforms, DifferentDrawsDiffer) {
  const Image img = test_image();
  for (const auto& t : all_random()) {
    SCOPED_TRACE(t->repr());
    Generator g(5);
    const Image first = (*t)(img, g);
    bool differs = false;
    for (int i = 0; i < 20 && !differs; ++i) differs = (*t)(img, g).pixels != first.pixels;
    EXPECT_TRUE(differs);
  }
}

TEST(RandomTransforms, FlipProbabilities) {
  const Image img = test_image();
  Generator g(1);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ((*random_horizontal_flip(0.0))(img, g).pixels, img.pixels);
    EXPECT_EQ((*random_vertical_flip(0.0))(img, g).pixels, img.pixels);
    EXPECT_EQ((*random_horizontal_flip(1.0))(img, g).pixels, F::hflip(img).pixels);
    EXPECT_EQ((*random_vertical_flip(1.0))(img, g).pixels, F::vflip(img).pixels);
  }
  // p = 0.5 flips when the draw u < 0.5.
  Generator replay(9), run(9);
  for (int i = 0; i < 16; ++i) {
    const bool flip = replay.next_double() < 0.5;
    EXPECT_EQ((*random_horizontal_flip(0.5))(img, run).pixels,
              flip ? F::hflip(img).pixels : img.pixels);
  }
}

TEST(RandomTransforms, GrayscaleProbabilitiesAndEqualChannels) {
  const Image img = test_image();
  Generator g(2);
  EXPECT_EQ((*random_grayscale(0.0))(img, g).pixels, img.pixels);
  const Image out = (*random_grayscale(1.0))(img, g);
  ASSERT_EQ(out.channels, 3);
  EXPECT_EQ(out.pixels, F::to_grayscale(img, 3).pixels);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      EXPECT_EQ(out.at(y, x, 0), out.at(y, x, 1));
      EXPECT_EQ(out.at(y, x, 0), out.at(y, x, 2));
    }
}

TEST(RandomTransforms, RotationAngleIsUniformInRange) {
  const Image img = test_image();
  Generator replay(11), run(11);
  for (int i = 0; i < 5; ++i) {
    const double angle = -30.0 + 60.0 * replay.next_double();
    EXPECT_EQ((*random_rotation(30))(img, run).pixels, F::rotate(img, angle).pixels);
  }
  EXPECT_EQ((*random_rotation(0))(img, run).pixels, img.pixels);
}

TEST(RandomTransforms, ResizedCropSizesAndFallback) {
  const Image img = test_image(40, 48);
  Generator g(4);
  for (int i = 0; i < 10; ++i) {
    const Image out = (*random_resized_crop(17))(img, g);
    EXPECT_EQ(out.height, 17);
    EXPECT_EQ(out.width, 17);
    EXPECT_EQ(out.channels, 3);
  }
  // Scale 1 and ratio 1 on a square image: the whole image, resized.
  const Image square = test_image(30, 30);
  EXPECT_EQ((*random_resized_crop(12, 1.0, 1.0, 1.0, 1.0))(square, g).pixels,
            F::resize(square, 12, 12).pixels);
  // An area larger than the image never fits: after 10 attempts (20 draws) the central crop,
  // clamped to the ratio range. A 10x40 image has ratio 4 > 4/3: h = 10, w = round(10 * 4/3) =
  // 13, at ((10 - 10) / 2, (40 - 13) / 2) = (0, 13).
  const Image wide = test_image(10, 40);
  const uint64_t before = g.offset();
  const Image out = (*random_resized_crop(8, 2.0, 3.0))(wide, g);
  EXPECT_EQ(g.offset() - before, 20u);
  EXPECT_EQ(out.pixels, F::resized_crop(wide, 0, 13, 10, 13, 8, 8).pixels);
}

TEST(RandomTransforms, ResizedCropReplaysDraws) {
  const Image img = test_image(40, 48);
  Generator replay(21), run(21);
  for (int i = 0; i < 5; ++i) {
    // One attempt: area fraction, log-ratio, then the top and left offsets. With scale at most
    // 0.7 the box always fits (w <= sqrt(0.7 * 1920 * 4/3) = 42.3), so the first attempt wins.
    const double area = 40.0 * 48 * (0.3 + 0.4 * replay.next_double());
    const double lo = std::log(0.75), hi = std::log(4.0 / 3);
    const double ratio = std::exp(lo + (hi - lo) * replay.next_double());
    const int w = static_cast<int>(std::nearbyint(std::sqrt(area * ratio)));
    const int h = static_cast<int>(std::nearbyint(std::sqrt(area / ratio)));
    const int top = static_cast<int>(replay.next_below(40 - h + 1));
    const int left = static_cast<int>(replay.next_below(48 - w + 1));
    EXPECT_EQ((*random_resized_crop(16, 0.3, 0.7))(img, run).pixels,
              F::resized_crop(img, top, left, h, w, 16, 16).pixels);
  }
}

TEST(RandomTransforms, ColorJitterZeroIsIdentityAndDrawsOnlyTheOrder) {
  const Image img = test_image();
  Generator g(6);
  EXPECT_EQ((*color_jitter(0, 0, 0, 0))(img, g).pixels, img.pixels);
  EXPECT_EQ(g.offset(), 3u);  // the permutation of 4 ops: 3 draws, no factor draws
  const uint64_t before = g.offset();
  (*color_jitter(0.2, 0, 0.1, 0))(img, g);
  EXPECT_EQ(g.offset() - before, 5u);  // permutation + brightness + saturation
}

TEST(RandomTransforms, ColorJitterSingleOpReplaysFactor) {
  const Image img = test_image();
  Generator replay(8), run(8);
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 3; ++k) replay.next_double();  // the permutation
    const double factor = 0.7 + 0.6 * replay.next_double();
    EXPECT_EQ((*color_jitter(0.3, 0, 0, 0))(img, run).pixels,
              F::adjust_brightness(img, factor).pixels);
  }
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 3; ++k) replay.next_double();
    const double hue = -0.1 + 0.2 * replay.next_double();
    EXPECT_EQ((*color_jitter(0, 0, 0, 0.1))(img, run).pixels, F::adjust_hue(img, hue).pixels);
  }
}

TEST(RandomTransforms, InvalidParametersThrow) {
  EXPECT_THROW(random_horizontal_flip(1.5), Error);
  EXPECT_THROW(random_grayscale(-0.1), Error);
  EXPECT_THROW(color_jitter(0.1, 0.1, 0.1, 0.6), Error);
  EXPECT_THROW(color_jitter(-0.1, 0, 0, 0), Error);
  EXPECT_THROW(random_rotation(-1), Error);
  EXPECT_THROW(random_resized_crop(0), Error);
  EXPECT_THROW(random_resized_crop(10, 0.9, 0.1), Error);
  EXPECT_THROW(center_crop(0), Error);
  EXPECT_THROW(compose({random_rotation(5), nullptr}), Error);
}

TEST(RandomTransforms, ComposeAppliesInOrder) {
  const Image img = test_image();
  Generator g(1);
  const auto t = compose({resize(20), center_crop(16), random_horizontal_flip(1.0)});
  const Image expected = F::hflip(F::center_crop(F::resize_shorter(img, 20), 16, 16));
  EXPECT_EQ((*t)(img, g).pixels, expected.pixels);
  EXPECT_EQ(t->repr(),
            "Compose(\n"
            "    Resize(size=20, interpolation=bilinear, max_size=None, antialias=None)\n"
            "    CenterCrop(size=(16, 16))\n"
            "    RandomHorizontalFlip(p=1.0)\n"
            ")");
}

TEST(ImagePipelines, ValidPipelineIsResizeCropNormalize) {
  const Image img = test_image(60, 50);
  Generator g(1);
  const ImagePipeline valid = flower_valid_pipeline(32, 40);
  const Tensor t = valid(img, g);
  ASSERT_EQ(t.shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(g.offset(), 0u);  // no randomness
  Tensor expected = to_tensor(F::center_crop(F::resize_shorter(img, 40), 32, 32));
  normalize_(expected);
  EXPECT_EQ(t.to_vector<float>(), expected.to_vector<float>());
}

TEST(ImagePipelines, TrainPipelineShapesAndReproducibility) {
  const Image img = test_image(60, 50);
  const ImagePipeline train = flower_train_pipeline(32);
  Generator a(99), b(99);
  const Tensor ta = train(img, a), tb = train(img, b);
  ASSERT_EQ(ta.shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(ta.to_vector<float>(), tb.to_vector<float>());
  // Usable wherever a std::function<Tensor(const Image&, Generator&)> is expected.
  std::function<Tensor(const Image&, Generator&)> fn = train;
  EXPECT_EQ(fn(img, a).shape(), (Shape{3, 32, 32}));
  // Normalised values: (0 - 0.485) / 0.229 .. (1 - 0.406) / 0.225.
  for (float v : ta.to_vector<float>()) {
    EXPECT_GE(v, -2.12f);
    EXPECT_LE(v, 2.65f);
  }
  const std::string r = train.repr();
  for (const char* part : {"RandomRotation(degrees=[-45.0, 45.0]", "CenterCrop(size=(32, 32))",
                           "RandomHorizontalFlip(p=0.5)", "RandomVerticalFlip(p=0.5)",
                           "ColorJitter(brightness=[0.8, 1.2], contrast=[0.9, 1.1], "
                           "saturation=[0.9, 1.1], hue=[-0.1, 0.1])",
                           "RandomGrayscale(p=0.025)", "ToTensor()",
                           "Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])"})
    EXPECT_NE(r.find(part), std::string::npos) << part << " not in\n" << r;
}

TEST(ImagePipelines, NoTransformNoNormalize) {
  Image img(2, 2, 3, 255);
  Generator g;
  const ImagePipeline plain{nullptr, {}, {}};
  EXPECT_EQ(plain(img, g).to_vector<float>(), std::vector<float>(12, 1.0f));
  EXPECT_EQ(plain.repr(), "ToTensor()");
}

}  // namespace
}  // namespace sepal::data
