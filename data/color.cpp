// color.cpp: the deterministic colour ops of transforms.h (grayscale, blend, brightness,
// contrast, saturation, hue), written to give PIL 9's bytes: Convert.c's fixed-point luma and
// 8-bit HSV, Blend.c's float interpolation truncated to uint8, ImageEnhance's degenerate images.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "data/transforms.h"

namespace sepal::data::functional {
namespace {

void check_color_image(const Image& in, const char* op) {
  if (in.height <= 0 || in.width <= 0 || (in.channels != 1 && in.channels != 3) ||
      in.pixels.size() != static_cast<size_t>(in.height) * in.width * in.channels)
    throw Error(std::string(op) + ": expected a 1- or 3-channel image, got " +
                std::to_string(in.height) + "x" + std::to_string(in.width) + "x" +
                std::to_string(in.channels) + " with " + std::to_string(in.pixels.size()) +
                " bytes");
}

void check_factor(double factor, const char* op) {
  if (!(factor >= 0.0) || !std::isfinite(factor))
    throw Error(std::string(op) + ": factor must be finite and non-negative, got " +
                std::to_string(factor));
}

// Convert.c L24: ITU-R 601-2 luma in 16-bit fixed point, rounded.
uint8_t luma(const uint8_t* rgb) {
  return static_cast<uint8_t>((rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16);
}

// Convert.c rgb2hsv_row (float and double exactly where PIL has them).
void rgb_to_hsv(const uint8_t* in, uint8_t* out) {
  const uint8_t r = in[0], g = in[1], b = in[2];
  const uint8_t maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  uint8_t uh = 0, us = 0;
  if (minc != maxc) {
    float cr = static_cast<float>(maxc - minc);
    float s = cr / static_cast<float>(maxc);
    float rc = static_cast<float>(maxc - r) / cr;
    float gc = static_cast<float>(maxc - g) / cr;
    float bc = static_cast<float>(maxc - b) / cr;
    float h;
    if (r == maxc)
      h = bc - gc;
    else if (g == maxc)
      h = static_cast<float>(2.0 + rc - bc);
    else
      h = static_cast<float>(4.0 + gc - rc);
    h = static_cast<float>(std::fmod(h / 6.0 + 1.0, 1.0));
    auto clip = [](int v) { return static_cast<uint8_t>(v <= 0 ? 0 : v >= 255 ? 255 : v); };
    uh = clip(static_cast<int>(h * 255.0));
    us = clip(static_cast<int>(s * 255.0));
  }
  out[0] = uh;
  out[1] = us;
  out[2] = maxc;
}

// Convert.c hsv2rgb.
void hsv_to_rgb(const uint8_t* in, uint8_t* out) {
  const uint8_t h = in[0], s = in[1], v = in[2];
  if (s == 0) {
    out[0] = out[1] = out[2] = v;
    return;
  }
  int i = static_cast<int>(std::floor(static_cast<float>(h) * 6.0 / 255.0));
  float f = static_cast<float>(static_cast<float>(h) * 6.0 / 255.0 - static_cast<float>(i));
  float fs = static_cast<float>(static_cast<float>(s) / 255.0);
  auto clip = [](double x) {
    int n = static_cast<int>(std::round(x));
    return static_cast<uint8_t>(n <= 0 ? 0 : n >= 255 ? 255 : n);
  };
  const uint8_t p = clip(static_cast<float>(v) * (1.0 - fs));
  const uint8_t q = clip(static_cast<float>(v) * (1.0 - fs * f));
  const uint8_t t = clip(static_cast<float>(v) * (1.0 - fs * (1.0 - f)));
  const uint8_t table[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  const uint8_t* rgb = table[i % 6];
  out[0] = rgb[0];
  out[1] = rgb[1];
  out[2] = rgb[2];
}

}  // namespace

Image to_grayscale(const Image& in, int channels_out) {
  check_color_image(in, "to_grayscale");
  if (channels_out != 1 && channels_out != 3)
    throw Error("to_grayscale: channels_out must be 1 or 3, got " + std::to_string(channels_out));
  Image out(in.height, in.width, channels_out);
  const size_t n = static_cast<size_t>(in.height) * in.width;
  for (size_t i = 0; i < n; ++i) {
    uint8_t l = in.channels == 3 ? luma(&in.pixels[3 * i]) : in.pixels[i];
    for (int c = 0; c < channels_out; ++c) out.pixels[i * channels_out + c] = l;
  }
  return out;
}

Image blend(const Image& a, const Image& b, double alpha) {
  if (a.height != b.height || a.width != b.width || a.channels != b.channels ||
      a.pixels.size() != b.pixels.size())
    throw Error("blend: images differ in size: " + std::to_string(a.height) + "x" +
                std::to_string(a.width) + "x" + std::to_string(a.channels) + " and " +
                std::to_string(b.height) + "x" + std::to_string(b.width) + "x" +
                std::to_string(b.channels));
  const float al = static_cast<float>(alpha);  // ImagingBlend takes a C float
  if (al == 0.0f) return a;
  if (al == 1.0f) return b;
  Image out(a.height, a.width, a.channels);
  const bool interpolate = al >= 0 && al <= 1.0f;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    const int x1 = a.pixels[i], x2 = b.pixels[i];
    const float v = static_cast<float>(x1) + al * static_cast<float>(x2 - x1);
    if (interpolate)
      out.pixels[i] = static_cast<uint8_t>(v);
    else
      out.pixels[i] = v <= 0.0f ? 0 : v >= 255.0f ? 255 : static_cast<uint8_t>(v);
  }
  return out;
}

Image adjust_brightness(const Image& in, double factor) {
  check_color_image(in, "adjust_brightness");
  check_factor(factor, "adjust_brightness");
  return blend(Image(in.height, in.width, in.channels, 0), in, factor);
}

Image adjust_contrast(const Image& in, double factor) {
  check_color_image(in, "adjust_contrast");
  check_factor(factor, "adjust_contrast");
  // ImageStat mean of the L image (an exact integer sum over a double count), rounded half up.
  const Image gray = to_grayscale(in, 1);
  uint64_t sum = 0;
  for (uint8_t v : gray.pixels) sum += v;
  const double mean = static_cast<double>(sum) / static_cast<double>(gray.pixels.size());
  const auto level = static_cast<uint8_t>(static_cast<int>(mean + 0.5));
  return blend(Image(in.height, in.width, in.channels, level), in, factor);
}

Image adjust_saturation(const Image& in, double factor) {
  check_color_image(in, "adjust_saturation");
  check_factor(factor, "adjust_saturation");
  return blend(to_grayscale(in, in.channels), in, factor);
}

Image adjust_hue(const Image& in, double hue_factor) {
  check_color_image(in, "adjust_hue");
  if (!(hue_factor >= -0.5 && hue_factor <= 0.5))
    throw Error("adjust_hue: hue_factor must be in [-0.5, 0.5], got " + std::to_string(hue_factor));
  if (in.channels == 1) return in;
  // np.uint8(hue_factor * 255): truncation toward zero, then modulo 256.
  const auto shift = static_cast<uint8_t>(static_cast<int>(hue_factor * 255.0));
  Image out(in.height, in.width, 3);
  for (size_t i = 0; i < out.pixels.size(); i += 3) {
    uint8_t hsv[3];
    rgb_to_hsv(&in.pixels[i], hsv);
    hsv[0] = static_cast<uint8_t>(hsv[0] + shift);
    hsv_to_rgb(hsv, &out.pixels[i]);
  }
  return out;
}

}  // namespace sepal::data::functional
