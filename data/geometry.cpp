// geometry.cpp: the deterministic geometric ops of transforms.h (resize, crops, rotation, flips),
// written to give PIL 9's bytes: its bilinear resampler (Resample.c) and its nearest-neighbour
// affine transform (Geometry.c), including their fixed-point arithmetic and rounding.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/transforms.h"

namespace sepal::data::functional {
namespace {

void check_image(const Image& in, const char* op) {
  if (in.height <= 0 || in.width <= 0 || in.channels <= 0 ||
      in.pixels.size() != static_cast<size_t>(in.height) * in.width * in.channels)
    throw Error(std::string(op) + ": invalid image " + std::to_string(in.height) + "x" +
                std::to_string(in.width) + "x" + std::to_string(in.channels) + " with " +
                std::to_string(in.pixels.size()) + " bytes");
}

void check_size(int height, int width, const char* op) {
  if (height <= 0 || width <= 0)
    throw Error(std::string(op) + ": output size must be positive, got " + std::to_string(height) +
                "x" + std::to_string(width));
}

// ---- PIL Resample.c: triangle filter of support 1 scaled by the downscale factor ----
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;  // per output index: first input index, count
  std::vector<int32_t> k;   // per output index: ksize fixed-point weights
};

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// precompute_coeffs + normalize_coeffs_8bpc for the box [0, in_size).
Coeffs precompute(int in_size, int out_size) {
  Coeffs c;
  double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<size_t>(out_size) * 2);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    double center = 0.0 + (xx + 0.5) * scale;
    double ww = 0.0, ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; ++x) {
      w[x] = bilinear_filter((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      double v = ww != 0.0 ? w[x] / ww : w[x];
      double scaled = v * (1 << kPrecisionBits);
      c.k[static_cast<size_t>(xx) * c.ksize + x] =
          static_cast<int32_t>(v < 0 ? -0.5 + scaled : 0.5 + scaled);
    }
    c.bounds[2 * xx] = xmin;
    c.bounds[2 * xx + 1] = xmax;
  }
  return c;
}

uint8_t clip8(int32_t v) {
  int32_t s = v >> kPrecisionBits;
  return static_cast<uint8_t>(s < 0 ? 0 : s > 255 ? 255 : s);
}

}  // namespace

Image resize(const Image& in, int height, int width) {
  check_image(in, "resize");
  check_size(height, width, "resize");
  if (height == in.height && width == in.width) return in;
  const int C = in.channels;
  Coeffs vert = precompute(in.height, height);
  int ybox_first = vert.bounds[0];
  int ybox_last = vert.bounds[2 * height - 2] + vert.bounds[2 * height - 1];
  Image src = in;
  if (width != in.width) {
    // Horizontal pass over the rows the vertical pass reads.
    Coeffs hor = precompute(in.width, width);
    for (int i = 0; i < height; ++i) vert.bounds[2 * i] -= ybox_first;
    Image tmp(ybox_last - ybox_first, width, C);
    for (int yy = 0; yy < tmp.height; ++yy) {
      const uint8_t* row = &in.pixels[static_cast<size_t>(yy + ybox_first) * in.width * C];
      for (int xx = 0; xx < width; ++xx) {
        int xmin = hor.bounds[2 * xx], xmax = hor.bounds[2 * xx + 1];
        const int32_t* k = &hor.k[static_cast<size_t>(xx) * hor.ksize];
        for (int c = 0; c < C; ++c) {
          int32_t ss = 1 << (kPrecisionBits - 1);
          for (int x = 0; x < xmax; ++x) ss += row[(x + xmin) * C + c] * k[x];
          tmp.at(yy, xx, c) = clip8(ss);
        }
      }
    }
    src = std::move(tmp);
  }
  if (height == in.height) return src;
  Image out(height, width, C);
  const size_t stride = static_cast<size_t>(width) * C;
  for (int yy = 0; yy < height; ++yy) {
    int ymin = vert.bounds[2 * yy], ymax = vert.bounds[2 * yy + 1];
    const int32_t* k = &vert.k[static_cast<size_t>(yy) * vert.ksize];
    for (size_t i = 0; i < stride; ++i) {
      int32_t ss = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < ymax; ++y) ss += src.pixels[(y + ymin) * stride + i] * k[y];
      out.pixels[yy * stride + i] = clip8(ss);
    }
  }
  return out;
}

Image resize_shorter(const Image& in, int size) {
  check_image(in, "resize_shorter");
  if (size <= 0) throw Error("resize: size must be positive, got " + std::to_string(size));
  const int h = in.height, w = in.width;
  const int shorter = std::min(h, w), longer = std::max(h, w);
  if (shorter == size) return in;
  // Python: int(size * long / short), a true division then truncation.
  int new_long =
      static_cast<int>(static_cast<double>(static_cast<int64_t>(size) * longer) / shorter);
  return w <= h ? resize(in, new_long, size) : resize(in, size, new_long);
}

Image crop(const Image& in, int top, int left, int height, int width) {
  check_image(in, "crop");
  check_size(height, width, "crop");
  const int C = in.channels;
  Image out(height, width, C, 0);
  const int x0 = std::max(0, left), x1 = std::min(in.width, left + width);
  if (x1 <= x0) return out;
  for (int y = std::max(0, top); y < std::min(in.height, top + height); ++y) {
    const uint8_t* src = &in.pixels[(static_cast<size_t>(y) * in.width + x0) * C];
    uint8_t* dst = &out.pixels[(static_cast<size_t>(y - top) * width + (x0 - left)) * C];
    std::copy(src, src + static_cast<size_t>(x1 - x0) * C, dst);
  }
  return out;
}

Image center_crop(const Image& in, int height, int width) {
  check_image(in, "center_crop");
  check_size(height, width, "center_crop");
  // torchvision pads first (left/top get floor of half the excess), then crops the padded image.
  const int pad_left = width > in.width ? (width - in.width) / 2 : 0;
  const int pad_top = height > in.height ? (height - in.height) / 2 : 0;
  const int padded_w = std::max(width, in.width), padded_h = std::max(height, in.height);
  // int(round(x / 2.0)) with Python's round half to even.
  const int top = static_cast<int>(std::nearbyint((padded_h - height) / 2.0));
  const int left = static_cast<int>(std::nearbyint((padded_w - width) / 2.0));
  return crop(in, top - pad_top, left - pad_left, height, width);
}

Image resized_crop(const Image& in, int top, int left, int height, int width, int out_height,
                   int out_width) {
  return resize(crop(in, top, left, height, width), out_height, out_width);
}

Image hflip(const Image& in) {
  check_image(in, "hflip");
  Image out(in.height, in.width, in.channels);
  for (int y = 0; y < in.height; ++y)
    for (int x = 0; x < in.width; ++x)
      for (int c = 0; c < in.channels; ++c) out.at(y, x, c) = in.at(y, in.width - 1 - x, c);
  return out;
}

Image vflip(const Image& in) {
  check_image(in, "vflip");
  Image out(in.height, in.width, in.channels);
  const size_t row = static_cast<size_t>(in.width) * in.channels;
  for (int y = 0; y < in.height; ++y)
    std::copy(&in.pixels[(in.height - 1 - y) * row], &in.pixels[(in.height - 1 - y) * row] + row,
              &out.pixels[y * row]);
  return out;
}

namespace {

// Python's round(x, 15): correctly rounded to 15 decimals, as printf does.
double round15(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15f", x);
  return std::strtod(buf, nullptr);
}

// Python's float modulo: the result has the sign of the divisor.
double py_mod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0.0 && ((r < 0) != (b < 0))) r += b;
  return r == 0.0 ? std::copysign(0.0, b) : r;
}

void copy_pixel(const Image& in, int ys, int xs, Image& out, int y, int x) {
  for (int c = 0; c < in.channels; ++c) out.at(y, x, c) = in.at(ys, xs, c);
}

int coord(double v) { return v < 0.0 ? -1 : static_cast<int>(v); }  // Geometry.c COORD

// PIL's ImagingTransformAffine with NEAREST; `a` maps output pixel centres to input coordinates.
Image affine_nearest(const Image& in, const double a[6]) {
  const int w = in.width, h = in.height;
  Image out(h, w, in.channels, 0);
  auto inside = [&](int xs, int ys) { return xs >= 0 && xs < w && ys >= 0 && ys < h; };
  if (a[1] == 0 && a[3] == 0) {  // ImagingScaleAffine
    double yo = a[5] + a[4] * 0.5;
    for (int y = 0; y < h; ++y, yo += a[4]) {
      double xo = a[2] + a[0] * 0.5;
      int ys = coord(yo);
      for (int x = 0; x < w; ++x, xo += a[0])
        if (inside(coord(xo), ys)) copy_pixel(in, ys, coord(xo), out, y, x);
    }
    return out;
  }
  auto fits = [&](int x, int y) {
    return std::fabs(x * a[0] + y * a[1] + a[2]) < 32768.0 &&
           std::fabs(x * a[3] + y * a[4] + a[5]) < 32768.0;
  };
  if (fits(0, 0) && fits(w, h) && fits(0, h) && fits(w, 0)) {  // affine_fixed: 16.16 fixed point
    auto fix = [](double v) {
      double s = v * 65536.0 + 0.5;
      return s < 0.0 ? static_cast<int>(std::floor(s)) : static_cast<int>(s);
    };
    int a0 = fix(a[0]), a1 = fix(a[1]), a3 = fix(a[3]), a4 = fix(a[4]);
    int a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5), a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5);
    for (int y = 0; y < h; ++y, a2 += a1, a5 += a4) {
      int xx = a2, yy = a5;
      for (int x = 0; x < w; ++x, xx += a0, yy += a3)
        if (inside(xx >> 16, yy >> 16)) copy_pixel(in, yy >> 16, xx >> 16, out, y, x);
    }
    return out;
  }
  double xo = a[2] + a[1] * 0.5 + a[0] * 0.5, yo = a[5] + a[4] * 0.5 + a[3] * 0.5;
  for (int y = 0; y < h; ++y, xo += a[1], yo += a[4]) {
    double xx = xo, yy = yo;
    for (int x = 0; x < w; ++x, xx += a[0], yy += a[3])
      if (inside(coord(xx), coord(yy))) copy_pixel(in, coord(yy), coord(xx), out, y, x);
  }
  return out;
}

}  // namespace

Image rotate(const Image& in, double angle_degrees) {
  check_image(in, "rotate");
  if (!std::isfinite(angle_degrees))
    throw Error("rotate: angle must be finite, got " + std::to_string(angle_degrees));
  const int w = in.width, h = in.height;
  const double angle = py_mod(angle_degrees, 360.0);
  // PIL's exact fast paths (transpositions).
  if (angle == 0) return in;
  if (angle == 180) {
    Image out(h, w, in.channels);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) copy_pixel(in, h - 1 - y, w - 1 - x, out, y, x);
    return out;
  }
  if ((angle == 90 || angle == 270) && w == h) {
    Image out(h, w, in.channels);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        if (angle == 90)
          copy_pixel(in, x, w - 1 - y, out, y, x);  // counter-clockwise
        else
          copy_pixel(in, h - 1 - x, y, out, y, x);
      }
    return out;
  }
  // Image.rotate's inverse matrix (output -> input) about the centre (w / 2, h / 2).
  const double cx = w / 2.0, cy = h / 2.0;
  const double rad = -(angle * (M_PI / 180.0));
  double a[6] = {round15(std::cos(rad)),  round15(std::sin(rad)), 0.0,
                 round15(-std::sin(rad)), round15(std::cos(rad)), 0.0};
  a[2] = a[0] * -cx + a[1] * -cy + 0.0;
  a[5] = a[3] * -cx + a[4] * -cy + 0.0;
  a[2] += cx;
  a[5] += cy;
  return affine_nearest(in, a);
}

}  // namespace sepal::data::functional
