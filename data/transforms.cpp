// transforms.cpp: the random transforms (parameter draws as torchvision 0.14 makes them, from a
// sepal Generator), Compose, ToTensor, Normalize and the flower pipelines. The pixel work is
// in geometry.cpp and color.cpp.
#include "data/transforms.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace sepal::data {
namespace {

namespace F = functional;

// Python's repr of a float: shortest round-trip digits, always with a '.' or exponent.
std::string num(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, end);
  if (s.find_first_of(".ein") == std::string::npos) s += ".0";
  return s;
}

std::string num4(double v) { return num(std::round(v * 1e4) / 1e4); }  // round(v, 4)

double uniform(Generator& rng, double lo, double hi) { return lo + (hi - lo) * rng.next_double(); }

void check_probability(double p, const char* name) {
  if (!(p >= 0.0 && p <= 1.0))
    throw Error(std::string(name) + ": p must be in [0, 1], got " + std::to_string(p));
}

void check_positive_size(int size, const char* name) {
  if (size <= 0)
    throw Error(std::string(name) + ": size must be positive, got " + std::to_string(size));
}

class Resize final : public Transform {
 public:
  explicit Resize(int size) : size_(size) { check_positive_size(size, "Resize"); }
  Image operator()(const Image& in, Generator&) const override {
    return F::resize_shorter(in, size_);
  }
  std::string repr() const override {
    return "Resize(size=" + std::to_string(size_) +
           ", interpolation=bilinear, max_size=None, antialias=None)";
  }

 private:
  int size_;
};

class CenterCrop final : public Transform {
 public:
  explicit CenterCrop(int size) : size_(size) { check_positive_size(size, "CenterCrop"); }
  Image operator()(const Image& in, Generator&) const override {
    return F::center_crop(in, size_, size_);
  }
  std::string repr() const override {
    return "CenterCrop(size=(" + std::to_string(size_) + ", " + std::to_string(size_) + "))";
  }

 private:
  int size_;
};

class RandomResizedCrop final : public Transform {
 public:
  RandomResizedCrop(int size, double scale_lo, double scale_hi, double ratio_lo, double ratio_hi)
      : size_(size),
        scale_lo_(scale_lo),
        scale_hi_(scale_hi),
        ratio_lo_(ratio_lo),
        ratio_hi_(ratio_hi) {
    check_positive_size(size, "RandomResizedCrop");
    if (!(scale_lo > 0 && scale_lo <= scale_hi) || !(ratio_lo > 0 && ratio_lo <= ratio_hi))
      throw Error(
          "RandomResizedCrop: need 0 < scale_lo <= scale_hi and 0 < ratio_lo <= ratio_hi, got "
          "scale (" +
          num(scale_lo) + ", " + num(scale_hi) + "), ratio (" + num(ratio_lo) + ", " +
          num(ratio_hi) + ")");
  }

  Image operator()(const Image& in, Generator& rng) const override {
    const int height = in.height, width = in.width;
    const double area = static_cast<double>(height) * width;
    const double log_lo = std::log(ratio_lo_), log_hi = std::log(ratio_hi_);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target_area = area * uniform(rng, scale_lo_, scale_hi_);
      const double aspect = std::exp(uniform(rng, log_lo, log_hi));
      // int(round(...)) with Python's round half to even.
      const int w = static_cast<int>(std::nearbyint(std::sqrt(target_area * aspect)));
      const int h = static_cast<int>(std::nearbyint(std::sqrt(target_area / aspect)));
      if (0 < w && w <= width && 0 < h && h <= height) {
        const int i = static_cast<int>(rng.next_below(static_cast<uint64_t>(height - h + 1)));
        const int j = static_cast<int>(rng.next_below(static_cast<uint64_t>(width - w + 1)));
        return F::resized_crop(in, i, j, h, w, size_, size_);
      }
    }
    // Fallback: the central crop, clamped to the ratio range.
    const double in_ratio = static_cast<double>(width) / height;
    int w = width, h = height;
    if (in_ratio < ratio_lo_)
      h = static_cast<int>(std::nearbyint(w / ratio_lo_));
    else if (in_ratio > ratio_hi_)
      w = static_cast<int>(std::nearbyint(h * ratio_hi_));
    return F::resized_crop(in, (height - h) / 2, (width - w) / 2, h, w, size_, size_);
  }

  std::string repr() const override {
    return "RandomResizedCrop(size=(" + std::to_string(size_) + ", " + std::to_string(size_) +
           "), scale=(" + num4(scale_lo_) + ", " + num4(scale_hi_) + "), ratio=(" +
           num4(ratio_lo_) + ", " + num4(ratio_hi_) + "), interpolation=bilinear, antialias=None)";
  }

 private:
  int size_;
  double scale_lo_, scale_hi_, ratio_lo_, ratio_hi_;
};

class RandomRotation final : public Transform {
 public:
  explicit RandomRotation(double degrees) : degrees_(degrees) {
    if (!(degrees >= 0) || !std::isfinite(degrees))
      throw Error("RandomRotation: degrees must be finite and non-negative, got " + num(degrees));
  }
  Image operator()(const Image& in, Generator& rng) const override {
    return F::rotate(in, uniform(rng, -degrees_, degrees_));
  }
  std::string repr() const override {
    return "RandomRotation(degrees=[" + num(-degrees_) + ", " + num(degrees_) +
           "], interpolation=nearest, expand=False, fill=0)";
  }

 private:
  double degrees_;
};

class RandomFlip final : public Transform {
 public:
  RandomFlip(double p, bool horizontal) : p_(p), horizontal_(horizontal) {
    check_probability(p, horizontal ? "RandomHorizontalFlip" : "RandomVerticalFlip");
  }
  Image operator()(const Image& in, Generator& rng) const override {
    if (rng.next_double() < p_) return horizontal_ ? F::hflip(in) : F::vflip(in);
    return in;
  }
  std::string repr() const override {
    return std::string(horizontal_ ? "RandomHorizontalFlip" : "RandomVerticalFlip") +
           "(p=" + num(p_) + ")";
  }

 private:
  double p_;
  bool horizontal_;
};

class ColorJitter final : public Transform {
 public:
  ColorJitter(double brightness, double contrast, double saturation, double hue) {
    const double factors[3] = {brightness, contrast, saturation};
    const char* names[3] = {"brightness", "contrast", "saturation"};
    for (int k = 0; k < 3; ++k) {
      if (!(factors[k] >= 0) || !std::isfinite(factors[k]))
        throw Error(std::string("ColorJitter: ") + names[k] +
                    " must be finite and non-negative, got " + num(factors[k]));
      // torchvision's _check_input: [max(0, 1 - v), 1 + v], disabled when that is [1, 1].
      range_[k] = {std::max(0.0, 1.0 - factors[k]), 1.0 + factors[k]};
      enabled_[k] = factors[k] != 0;
    }
    if (!(hue >= 0 && hue <= 0.5))
      throw Error("ColorJitter: hue must be in [0, 0.5], got " + num(hue));
    range_[3] = {-hue, hue};
    enabled_[3] = hue != 0;
  }

  Image operator()(const Image& in, Generator& rng) const override {
    // torch.randperm(4), then one uniform draw per enabled op in the order b, c, s, h.
    int order[4] = {0, 1, 2, 3};
    for (int k = 3; k > 0; --k)
      std::swap(order[k], order[rng.next_below(static_cast<uint64_t>(k + 1))]);
    double factor[4] = {1, 1, 1, 0};
    for (int k = 0; k < 4; ++k)
      if (enabled_[k]) factor[k] = uniform(rng, range_[k].first, range_[k].second);
    Image img = in;
    for (int op : order) {
      if (!enabled_[op]) continue;
      switch (op) {
        case 0:
          img = F::adjust_brightness(img, factor[0]);
          break;
        case 1:
          img = F::adjust_contrast(img, factor[1]);
          break;
        case 2:
          img = F::adjust_saturation(img, factor[2]);
          break;
        default:
          img = F::adjust_hue(img, factor[3]);
          break;
      }
    }
    return img;
  }

  std::string repr() const override {
    const char* names[4] = {"brightness", "contrast", "saturation", "hue"};
    std::string s = "ColorJitter(";
    for (int k = 0; k < 4; ++k) {
      if (k) s += ", ";
      s += names[k];
      s += enabled_[k] ? "=[" + num(range_[k].first) + ", " + num(range_[k].second) + "]" : "=None";
    }
    return s + ")";
  }

 private:
  std::pair<double, double> range_[4];
  bool enabled_[4];
};

class RandomGrayscale final : public Transform {
 public:
  explicit RandomGrayscale(double p) : p_(p) { check_probability(p, "RandomGrayscale"); }
  Image operator()(const Image& in, Generator& rng) const override {
    if (rng.next_double() < p_) return F::to_grayscale(in, in.channels);
    return in;
  }
  std::string repr() const override { return "RandomGrayscale(p=" + num(p_) + ")"; }

 private:
  double p_;
};

class Compose final : public Transform {
 public:
  explicit Compose(std::vector<TransformPtr> transforms) : transforms_(std::move(transforms)) {
    for (size_t i = 0; i < transforms_.size(); ++i)
      if (!transforms_[i]) throw Error("Compose: transform " + std::to_string(i) + " is null");
  }
  Image operator()(const Image& in, Generator& rng) const override {
    Image img = in;
    for (const auto& t : transforms_) img = (*t)(img, rng);
    return img;
  }
  std::string repr() const override {
    std::string s = "Compose(\n";
    for (const auto& t : transforms_) s += "    " + t->repr() + "\n";
    return s + ")";
  }

 private:
  std::vector<TransformPtr> transforms_;
};

std::string list(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + num(v[i]);
  return s + "]";
}

}  // namespace

TransformPtr resize(int size) { return std::make_shared<Resize>(size); }
TransformPtr center_crop(int size) { return std::make_shared<CenterCrop>(size); }
TransformPtr random_resized_crop(int size, double scale_lo, double scale_hi, double ratio_lo,
                                 double ratio_hi) {
  return std::make_shared<RandomResizedCrop>(size, scale_lo, scale_hi, ratio_lo, ratio_hi);
}
TransformPtr random_rotation(double degrees) { return std::make_shared<RandomRotation>(degrees); }
TransformPtr random_horizontal_flip(double p) { return std::make_shared<RandomFlip>(p, true); }
TransformPtr random_vertical_flip(double p) { return std::make_shared<RandomFlip>(p, false); }
TransformPtr color_jitter(double brightness, double contrast, double saturation, double hue) {
  return std::make_shared<ColorJitter>(brightness, contrast, saturation, hue);
}
TransformPtr random_grayscale(double p) { return std::make_shared<RandomGrayscale>(p); }
TransformPtr compose(std::vector<TransformPtr> transforms) {
  return std::make_shared<Compose>(std::move(transforms));
}

Tensor to_tensor(const Image& image) {
  const int C = image.channels, H = image.height, W = image.width;
  if (H <= 0 || W <= 0 || C <= 0 || image.pixels.size() != static_cast<size_t>(H) * W * C)
    throw Error("to_tensor: invalid image " + std::to_string(H) + "x" + std::to_string(W) + "x" +
                std::to_string(C) + " with " + std::to_string(image.pixels.size()) + " bytes");
  Tensor t = empty({C, H, W}, TensorOptions(DType::Float32));
  float* out = t.data_ptr<float>();
  const size_t plane = static_cast<size_t>(H) * W;
  // HWC uint8 -> CHW float32, / 255 in float32 as torchvision's ToTensor.
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < C; ++c)
      out[c * plane + i] = static_cast<float>(image.pixels[i * C + c]) / 255.0f;
  return t;
}

void normalize_(Tensor& chw, const std::vector<double>& mean, const std::vector<double>& std) {
  if (!chw.defined() || chw.dim() != 3 || chw.dtype() != DType::Float32 || !chw.device().is_cpu() ||
      !chw.is_contiguous())
    throw Error("normalize_: expected a contiguous float32 CPU tensor [C, H, W], got " +
                (chw.defined() ? shape_str(chw.shape()) : std::string("an undefined tensor")));
  const int64_t C = chw.size(0);
  auto fits = [&](const std::vector<double>& v) {
    return v.size() == 1 || static_cast<int64_t>(v.size()) == C;
  };
  if (!fits(mean) || !fits(std))
    throw Error("normalize_: mean has " + std::to_string(mean.size()) + " and std " +
                std::to_string(std.size()) + " entries for a tensor " + shape_str(chw.shape()) +
                " (need 1 or " + std::to_string(C) + ")");
  for (double s : std)
    if (static_cast<float>(s) == 0.0f) throw Error("normalize_: std has a zero entry " + list(std));
  float* x = chw.data_ptr<float>();
  const int64_t plane = chw.size(1) * chw.size(2);
  for (int64_t c = 0; c < C; ++c) {
    const float m = static_cast<float>(mean[mean.size() == 1 ? 0 : c]);
    const float s = static_cast<float>(std[std.size() == 1 ? 0 : c]);
    for (int64_t i = 0; i < plane; ++i) x[c * plane + i] = (x[c * plane + i] - m) / s;
  }
}

Tensor ImagePipeline::operator()(const Image& in, Generator& rng) const {
  Tensor t = to_tensor(image ? (*image)(in, rng) : in);
  if (!mean.empty() || !std.empty()) normalize_(t, mean, std);
  return t;
}

std::string ImagePipeline::repr() const {
  std::string s = image ? image->repr() + "\n" : std::string();
  s += "ToTensor()";
  if (!mean.empty() || !std.empty())
    s += "\nNormalize(mean=" + list(mean) + ", std=" + list(std) + ")";
  return s;
}

namespace {
const std::vector<double> kImageNetMean = {0.485, 0.456, 0.406};
const std::vector<double> kImageNetStd = {0.229, 0.224, 0.225};
}  // namespace

ImagePipeline flower_train_pipeline(int image_size) {
  return {compose({random_rotation(45), center_crop(image_size), random_horizontal_flip(0.5),
                   random_vertical_flip(0.5), color_jitter(0.2, 0.1, 0.1, 0.1),
                   random_grayscale(0.025)}),
          kImageNetMean, kImageNetStd};
}

ImagePipeline flower_valid_pipeline(int image_size, int resize_to) {
  return {compose({resize(resize_to), center_crop(image_size)}), kImageNetMean, kImageNetStd};
}

}  // namespace sepal::data
