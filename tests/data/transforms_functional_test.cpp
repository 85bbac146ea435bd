// functional_test.cpp: the deterministic ops of data/transforms.h on tiny images whose results
// are derived by hand (the maths next to each expectation), plus ToTensor and Normalize values.
#include <gtest/gtest.h>

#include <vector>

#include "data/transforms.h"

namespace sepal::data {
namespace {

namespace F = functional;

// A 1-channel image from rows of values.
Image gray(const std::vector<std::vector<int>>& rows) {
  Image img(static_cast<int>(rows.size()), static_cast<int>(rows[0].size()), 1);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) img.at(y, x, 0) = static_cast<uint8_t>(rows[y][x]);
  return img;
}

std::vector<int> values(const Image& img) { return {img.pixels.begin(), img.pixels.end()}; }

Image rgb(const std::vector<std::vector<int>>& pixels) {  // one row of RGB pixels
  Image img(1, static_cast<int>(pixels.size()), 3);
  for (size_t x = 0; x < pixels.size(); ++x)
    for (int c = 0; c < 3; ++c) img.pixels[3 * x + c] = static_cast<uint8_t>(pixels[x][c]);
  return img;
}

// Downscaling by 2 widens the triangle filter to support 2 (antialiasing). Output 0 has centre
// 1.0 and reads inputs 0..2 at distances 0.5, 0.5, 1.5 (halved: 0.25, 0.25, 0.75), weights
// 0.75, 0.75, 0.25 normalised to 3/7, 3/7, 1/7: (30 + 60 + 30) / 7 = 17.1 -> 17. Output 1
// (centre 3.0) reads inputs 1..3 with 1/7, 3/7, 3/7: (20 + 90 + 120) / 7 = 32.9 -> 33.
// A plain 2-tap bilinear would give 15 and 35.
TEST(TransformFunctional, ResizeDownscaleIsAntialiased) {
  EXPECT_EQ(values(F::resize(gray({{10, 20, 30, 40}}), 1, 2)), (std::vector<int>{17, 33}));
}

// Upscaling 2 -> 4: output centres 0.25, 0.75, 1.25, 1.75 in input coordinates; pixel centres
// at 0.5 and 1.5, clamped at the borders: 0, 0.75*0 + 0.25*100, 0.25*0 + 0.75*100, 100.
TEST(TransformFunctional, ResizeUpscaleInterpolates) {
  EXPECT_EQ(values(F::resize(gray({{0, 100}}), 1, 4)), (std::vector<int>{0, 25, 75, 100}));
  const Image col = F::resize(gray({{0}, {100}}), 4, 1);
  EXPECT_EQ(values(col), (std::vector<int>{0, 25, 75, 100}));
}

TEST(TransformFunctional, ResizeShorterSide) {
  Image img(30, 20, 3, 7);
  Image out = F::resize_shorter(img, 10);  // width is shorter: 10, height int(10 * 30 / 20) = 15
  EXPECT_EQ(out.height, 15);
  EXPECT_EQ(out.width, 10);
  EXPECT_EQ(out.pixels, std::vector<uint8_t>(15 * 10 * 3, 7));  // a flat image stays flat
  out = F::resize_shorter(Image(20, 35, 3), 8);                 // int(8 * 35 / 20) = int(14.0) = 14
  EXPECT_EQ(out.height, 8);
  EXPECT_EQ(out.width, 14);
  out = F::resize_shorter(Image(21, 35, 3), 8);  // int(8 * 35 / 21) = int(13.33) = 13
  EXPECT_EQ(out.width, 13);
}

TEST(TransformFunctional, CenterCropRoundsHalfToEven) {
  // 5x5 with value 10*y + x. Crop 2: offset round((5 - 2) / 2) = round(1.5) = 2 (half to even).
  std::vector<std::vector<int>> rows(5, std::vector<int>(5));
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 5; ++x) rows[y][x] = 10 * y + x;
  EXPECT_EQ(values(F::center_crop(gray(rows), 2, 2)), (std::vector<int>{22, 23, 32, 33}));
  // Crop 4 of 5: round(0.5) = 0.
  EXPECT_EQ(values(F::center_crop(gray(rows), 1, 4)), (std::vector<int>{20, 21, 22, 23}));
  // Crop 3: round(1.0) = 1.
  EXPECT_EQ(values(F::center_crop(gray(rows), 1, 3)), (std::vector<int>{21, 22, 23}));
}

TEST(TransformFunctional, CenterCropPadsWithZero) {
  // 2x2 into 5x5: padding left/top (5 - 2) // 2 = 1, right/bottom 2.
  const Image out = F::center_crop(gray({{1, 2}, {3, 4}}), 5, 5);
  EXPECT_EQ(values(out), (std::vector<int>{0, 0, 0, 0, 0,  //
                                           0, 1, 2, 0, 0,  //
                                           0, 3, 4, 0, 0,  //
                                           0, 0, 0, 0, 0,  //
                                           0, 0, 0, 0, 0}));
  // Wider than the image only: pad columns, crop rows at round((3 - 1) / 2) = 1.
  EXPECT_EQ(values(F::center_crop(gray({{1, 2}, {3, 4}, {5, 6}}), 1, 4)),
            (std::vector<int>{0, 3, 4, 0}));
}

TEST(TransformFunctional, CropOutsideIsZero) {
  EXPECT_EQ(values(F::crop(gray({{1, 2}, {3, 4}}), -1, 1, 3, 2)),
            (std::vector<int>{0, 0, 2, 0, 4, 0}));
}

// 90 degrees on a non-square 2x4 image takes PIL's affine path: the inverse map is
// x_in = 3 - y_c, y_in = x_c - 1 for output pixel centres (x_c, y_c) = (x + 0.5, y + 0.5),
// floored. Row 0: x_in = 2.5 -> column 2; y_in = -0.5 (outside), 0.5, 1.5, 2.5 (outside).
// Row 1: column 1. So the output rows are [0, in(0,2), in(1,2), 0] and [0, in(0,1), in(1,1), 0].
TEST(TransformFunctional, RotateNinetyNonSquare) {
  const Image in = gray({{10, 11, 12, 13}, {20, 21, 22, 23}});
  EXPECT_EQ(values(F::rotate(in, 90)), (std::vector<int>{0, 12, 22, 0, 0, 11, 21, 0}));
  // -270 is the same angle (Python's modulo keeps it in [0, 360)).
  EXPECT_EQ(values(F::rotate(in, -270)), values(F::rotate(in, 90)));
}

TEST(TransformFunctional, RotateSquareQuarterTurnsAndHalfTurn) {
  const Image in = gray({{1, 2}, {3, 4}});
  EXPECT_EQ(values(F::rotate(in, 90)), (std::vector<int>{2, 4, 1, 3}));   // counter-clockwise
  EXPECT_EQ(values(F::rotate(in, -90)), (std::vector<int>{3, 1, 4, 2}));  // clockwise
  EXPECT_EQ(values(F::rotate(in, 180)), (std::vector<int>{4, 3, 2, 1}));
  EXPECT_EQ(values(F::rotate(in, 360)), values(in));
}

TEST(TransformFunctional, RotateKeepsSizeAndFillsCornersWithZero) {
  const Image in(9, 9, 3, 200);
  const Image out = F::rotate(in, 45);
  ASSERT_EQ(out.height, 9);
  ASSERT_EQ(out.width, 9);
  EXPECT_EQ(out.at(0, 0, 0), 0);    // a corner maps outside the image
  EXPECT_EQ(out.at(4, 4, 1), 200);  // the centre maps to itself
  EXPECT_EQ(out.at(8, 8, 2), 0);
}

TEST(TransformFunctional, Flips) {
  const Image in = gray({{1, 2, 3}, {4, 5, 6}});
  EXPECT_EQ(values(F::hflip(in)), (std::vector<int>{3, 2, 1, 6, 5, 4}));
  EXPECT_EQ(values(F::vflip(in)), (std::vector<int>{4, 5, 6, 1, 2, 3}));
}

// L = (19595 R + 38470 G + 7471 B + 32768) >> 16: red 255 -> 5029493 >> 16 = 76;
// (10, 200, 30) -> 8146848 >> 16 = 124 (0.299*10 + 0.587*200 + 0.114*30 = 123.8).
TEST(TransformFunctional, GrayscaleLuma) {
  const Image out = F::to_grayscale(rgb({{255, 0, 0}, {10, 200, 30}}), 3);
  EXPECT_EQ(values(out), (std::vector<int>{76, 76, 76, 124, 124, 124}));
  EXPECT_EQ(values(F::to_grayscale(rgb({{255, 0, 0}}), 1)), (std::vector<int>{76}));
}

// Brightness blends with black and truncates: 0.5 * 101 = 50.5 -> 50; 1.37 * 200 -> 255;
// 1.37f * 100 = 137.0000005 -> 137.
TEST(TransformFunctional, BrightnessTruncatesAndClamps) {
  EXPECT_EQ(values(F::adjust_brightness(gray({{101, 200, 100}}), 0.5)),
            (std::vector<int>{50, 100, 50}));
  EXPECT_EQ(values(F::adjust_brightness(gray({{101, 200, 100}}), 1.37)),
            (std::vector<int>{138, 255, 137}));  // 1.37f * 101 = 138.37
  EXPECT_EQ(values(F::adjust_brightness(gray({{101, 200}}), 1.0)), (std::vector<int>{101, 200}));
}

// Contrast blends with the rounded mean of L: L(red) = 76, L(blue) = (255 * 7471 + 32768) >> 16
// = 29, mean 52.5 -> 53. Factor 0.5: 53 + 0.5 * (255 - 53) = 154, 53 + 0.5 * (0 - 53) = 26.5 -> 26.
TEST(TransformFunctional, ContrastUsesMeanLuma) {
  const Image out = F::adjust_contrast(rgb({{255, 0, 0}, {0, 0, 255}}), 0.5);
  EXPECT_EQ(values(out), (std::vector<int>{154, 26, 26, 26, 26, 154}));
  // Factor 0 gives the flat mean image.
  EXPECT_EQ(values(F::adjust_contrast(rgb({{255, 0, 0}, {0, 0, 255}}), 0.0)),
            (std::vector<int>{53, 53, 53, 53, 53, 53}));
}

// Saturation blends with the luma image (L(10, 200, 30) = 124): factor 0 is that gray; factor 2
// doubles the distance from it: 124 + 2 * (10 - 124) = -104 -> 0, 124 + 2 * 76 = 276 -> 255,
// 124 + 2 * (30 - 124) = -64 -> 0.
TEST(TransformFunctional, SaturationBlendsWithGray) {
  EXPECT_EQ(values(F::adjust_saturation(rgb({{10, 200, 30}}), 0.0)),
            (std::vector<int>{124, 124, 124}));
  EXPECT_EQ(values(F::adjust_saturation(rgb({{10, 200, 30}}), 2.0)), (std::vector<int>{0, 255, 0}));
  EXPECT_EQ(values(F::adjust_saturation(rgb({{10, 200, 30}}), 1.0)),
            (std::vector<int>{10, 200, 30}));
}

// Hue: red is H = 0, S = V = 255. +0.25 adds uint8(63.75) = 63: 6 * 63 / 255 = 1.48, sector 1,
// f = 123 / 255, q = round(255 * (1 - f)) = 132 -> (q, v, p) = (132, 255, 0).
// -0.25 adds uint8(-63) = 193: 6 * 193 / 255 = 4.54, sector 4, f = 138 / 255,
// t = round(255 * f) = 138 -> (t, p, v) = (138, 0, 255).
TEST(TransformFunctional, HueRotatesInEightBitHsv) {
  EXPECT_EQ(values(F::adjust_hue(rgb({{255, 0, 0}}), 0.25)), (std::vector<int>{132, 255, 0}));
  EXPECT_EQ(values(F::adjust_hue(rgb({{255, 0, 0}}), -0.25)), (std::vector<int>{138, 0, 255}));
  // Grays have no hue and stay put; 0 is the identity.
  EXPECT_EQ(values(F::adjust_hue(rgb({{90, 90, 90}}), 0.4)), (std::vector<int>{90, 90, 90}));
  EXPECT_EQ(values(F::adjust_hue(rgb({{255, 0, 0}}), 0.0)), (std::vector<int>{255, 0, 0}));
}

TEST(TransformFunctional, InvalidArgumentsThrow) {
  const Image img(4, 4, 3, 1);
  EXPECT_THROW(F::adjust_hue(img, 0.6), Error);
  EXPECT_THROW(F::adjust_brightness(img, -0.1), Error);
  EXPECT_THROW(F::resize(img, 0, 3), Error);
  EXPECT_THROW(F::center_crop(img, 3, -1), Error);
  EXPECT_THROW(F::to_grayscale(Image(2, 2, 4), 3), Error);
  EXPECT_THROW(F::blend(img, Image(4, 5, 3), 0.5), Error);
  Image broken(2, 2, 3);
  broken.pixels.pop_back();
  EXPECT_THROW(F::rotate(broken, 10), Error);
}

// ToTensor: [C, H, W] float32, pixel / 255 in float32. Layout: t[c][y][x] = pixel (y, x, c).
TEST(TransformFunctional, ToTensorLayoutAndScale) {
  Image img(1, 2, 3);
  img.pixels = {51, 0, 255, 102, 1, 128};
  Tensor t = to_tensor(img);
  ASSERT_EQ(t.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_EQ(t.to_vector<float>(),
            (std::vector<float>{51 / 255.0f, 102 / 255.0f, 0.0f, 1 / 255.0f, 1.0f, 128 / 255.0f}));
}

// Normalize: (x - mean[c]) / std[c] in float32; 51 / 255 = 0.2 in channel 0 ->
// (0.2 - 0.485) / 0.229 = -1.2445.
TEST(TransformFunctional, NormalizeImageNet) {
  Image img(1, 1, 3);
  img.pixels = {51, 51, 51};
  Tensor t = to_tensor(img);
  normalize_(t);
  const std::vector<float> v = t.to_vector<float>();
  EXPECT_EQ(v[0], (51 / 255.0f - 0.485f) / 0.229f);
  EXPECT_EQ(v[1], (51 / 255.0f - 0.456f) / 0.224f);
  EXPECT_EQ(v[2], (51 / 255.0f - 0.406f) / 0.225f);
  EXPECT_NEAR(v[0], -1.2445, 1e-4);
  EXPECT_THROW(normalize_(t, {0.5, 0.5}, {0.5, 0.5}), Error);  // 2 entries for 3 channels
  EXPECT_THROW(normalize_(t, {0.5}, {0.0}), Error);
  Tensor d = zeros({3, 2, 2}, DType::Float64);
  EXPECT_THROW(normalize_(d), Error);
}

}  // namespace
}  // namespace sepal::data
