// golden_test.cpp: the deterministic ops of data/transforms.h against the pixels torchvision 0.14
// + Pillow 9.4 produce (tests/golden/transforms_golden.txt, written by
// scripts/golden/make_transform_golden.py). Every op must match exactly: our code follows PIL's
// own integer and float arithmetic (fixed-point resampling weights, truncating blends, 8-bit
// HSV), so no tolerance is needed, not even for the antialiased resize or the hue shift.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "data/transforms.h"
#include "common/test_data.h"

namespace sepal::data {
namespace {

struct Case {
  std::string op, input;
  std::vector<double> params;
  int d0 = 0, d1 = 0, d2 = 0;  // uint8 cases: H W C; tensor cases: C H W
  std::vector<double> values;
  bool tensor = false;
  std::string digest;  // digest records: FNV-1a 64 of the output bytes, hex
};

struct Golden {
  std::map<std::string, Image> images;
  std::vector<Case> cases, digests;
};

// All 16^3 colours with levels in steps of 17 (make_cube in the golden script).
Image make_cube() {
  Image img(64, 64, 3);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      img.at(y, x, 0) = static_cast<uint8_t>(17 * (x % 16));
      img.at(y, x, 1) = static_cast<uint8_t>(17 * (y % 16));
      img.at(y, x, 2) = static_cast<uint8_t>(17 * (x / 16 + 4 * (y / 16)));
    }
  return img;
}

std::string fnv1a64(const std::vector<uint8_t>& bytes) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001B3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

const Golden& golden() {
  static const Golden g = [] {
    Golden g;
    std::ifstream in(sepal::testing::test_data_path("transforms_golden.txt"));
    EXPECT_TRUE(in) << "missing " << sepal::testing::test_data_path("transforms_golden.txt");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ss(line);
      std::string kind;
      ss >> kind;
      if (kind == "image") {
        std::string name;
        int h, w, c;
        ss >> name >> h >> w >> c;
        Image img(h, w, c);
        for (auto& p : img.pixels) {
          int v;
          ss >> v;
          p = static_cast<uint8_t>(v);
        }
        g.images[name] = img;
      } else if (kind == "case" || kind == "tensor" || kind == "digest") {
        Case k;
        k.tensor = kind == "tensor";
        int n;
        ss >> k.op >> k.input >> n;
        k.params.resize(n);
        for (auto& p : k.params) ss >> p;
        ss >> k.d0 >> k.d1 >> k.d2;
        if (kind == "digest") {
          ss >> k.digest;
          g.digests.push_back(std::move(k));
          continue;
        }
        std::string tok;
        while (ss >> tok) k.values.push_back(std::strtod(tok.c_str(), nullptr));
        EXPECT_EQ(k.values.size(), static_cast<size_t>(k.d0) * k.d1 * k.d2) << line.substr(0, 60);
        g.cases.push_back(std::move(k));
      }
    }
    return g;
  }();
  return g;
}

Image apply(const Case& k, const Image& in) {
  namespace F = functional;
  const auto& p = k.params;
  auto i = [&](size_t n) { return static_cast<int>(p.at(n)); };
  if (k.op == "resize") return F::resize(in, i(0), i(1));
  if (k.op == "resize_shorter") return F::resize_shorter(in, i(0));
  if (k.op == "center_crop") return F::center_crop(in, i(0), i(1));
  if (k.op == "resized_crop") return F::resized_crop(in, i(0), i(1), i(2), i(3), i(4), i(5));
  if (k.op == "rotate") return F::rotate(in, p.at(0));
  if (k.op == "hflip") return F::hflip(in);
  if (k.op == "vflip") return F::vflip(in);
  if (k.op == "grayscale") return F::to_grayscale(in, i(0));
  if (k.op == "brightness") return F::adjust_brightness(in, p.at(0));
  if (k.op == "contrast") return F::adjust_contrast(in, p.at(0));
  if (k.op == "saturation") return F::adjust_saturation(in, p.at(0));
  if (k.op == "hue") return F::adjust_hue(in, p.at(0));
  ADD_FAILURE() << "unknown op " << k.op;
  return in;
}

std::string describe(const Case& k) {
  std::string s = k.op + "(" + k.input;
  for (double p : k.params) s += ", " + std::to_string(p);
  return s + ")";
}

// Runs every golden case of `op`; pixels must be equal.
void check_op(const std::string& op) {
  int n = 0;
  for (const Case& k : golden().cases) {
    if (k.op != op) continue;
    ++n;
    SCOPED_TRACE(describe(k));
    const Image out = apply(k, golden().images.at(k.input));
    ASSERT_EQ(out.height, k.d0);
    ASSERT_EQ(out.width, k.d1);
    ASSERT_EQ(out.channels, k.d2);
    int mismatches = 0;
    for (size_t j = 0; j < out.pixels.size(); ++j)
      if (out.pixels[j] != static_cast<int>(k.values[j]) && ++mismatches <= 5)
        ADD_FAILURE() << "byte " << j << " (y " << j / k.d2 / k.d1 << ", x " << j / k.d2 % k.d1
                      << ", c " << j % k.d2 << "): ours " << int(out.pixels[j]) << ", torchvision "
                      << k.values[j];
    EXPECT_EQ(mismatches, 0);
  }
  EXPECT_GT(n, 0) << "no golden cases for " << op;
}

TEST(TransformGolden, Resize) { check_op("resize"); }
TEST(TransformGolden, ResizeShorterSide) { check_op("resize_shorter"); }
TEST(TransformGolden, CenterCrop) { check_op("center_crop"); }
TEST(TransformGolden, ResizedCrop) { check_op("resized_crop"); }
TEST(TransformGolden, Rotate) { check_op("rotate"); }
TEST(TransformGolden, Flips) {
  check_op("hflip");
  check_op("vflip");
}
TEST(TransformGolden, Grayscale) { check_op("grayscale"); }
TEST(TransformGolden, Brightness) { check_op("brightness"); }
TEST(TransformGolden, Contrast) { check_op("contrast"); }
TEST(TransformGolden, Saturation) { check_op("saturation"); }
TEST(TransformGolden, Hue) { check_op("hue"); }

// The colour and geometry ops on every colour of the 16-level cube, compared by hash.
TEST(TransformGolden, ColourCubeDigests) {
  const Image cube = make_cube();
  ASSERT_GT(golden().digests.size(), 10u);
  for (const Case& k : golden().digests) {
    SCOPED_TRACE(describe(k));
    const Image out = apply(k, cube);
    ASSERT_EQ(out.height, k.d0);
    ASSERT_EQ(out.width, k.d1);
    ASSERT_EQ(out.channels, k.d2);
    EXPECT_EQ(fnv1a64(out.pixels), k.digest);
  }
}

// ToTensor then Normalize in float32: equal to the last bit.
TEST(TransformGolden, ToTensorNormalize) {
  int n = 0;
  for (const Case& k : golden().cases) {
    if (k.op != "normalize") continue;
    ++n;
    SCOPED_TRACE(describe(k));
    const Image& in = golden().images.at(k.input);
    Tensor t = to_tensor(in);
    if (in.channels == 3)
      normalize_(t);
    else
      normalize_(t, {0.5}, {0.25});
    ASSERT_EQ(t.shape(), (Shape{k.d0, k.d1, k.d2}));
    const std::vector<float> ours = t.to_vector<float>();
    for (size_t j = 0; j < ours.size(); ++j)
      ASSERT_EQ(ours[j], static_cast<float>(k.values[j])) << "element " << j;
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace sepal::data
