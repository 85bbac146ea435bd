// transforms.h: image augmentation with torchvision 0.14's semantics on PIL images (uint8 in,
// uint8 out, rounded and clamped after every op), ToTensor and Normalize, and the flower recipes.
//
// Each op comes twice: a deterministic function with explicit parameters in
// sepal::data::functional (what the tests compare with PIL pixel for pixel), and a Transform
// that draws those parameters from a Generator exactly as torchvision draws them from torch's
// RNG (same distributions, same order of draws, same fallbacks), so a seeded generator replays
// an augmentation and saving/restoring its (seed, offset) state replays it too.
//
// Images are data::Image (HWC uint8, see image.h); ops accept 1 or 3 channels unless stated.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/image.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace sepal::data {

// ---- deterministic ops (torchvision.transforms.functional on PIL images) ----
namespace functional {

// PIL Image.resize(BILINEAR) to height x width: a separable triangle filter whose support grows
// with the downscale factor (antialiasing), 22-bit fixed-point weights, horizontal pass first,
// each pass rounded to uint8.
Image resize(const Image& in, int height, int width);
// torchvision Resize(size) with an int: the shorter side becomes `size`, the longer one
// int(size * long / short); an image whose shorter side already is `size` is returned as is.
Image resize_shorter(const Image& in, int size);
// PIL crop: the box may leave the image; pixels outside it are 0.
Image crop(const Image& in, int top, int left, int height, int width);
// torchvision center_crop: pads with 0 (left/top get the smaller half) when the image is smaller,
// then crops at int(round((H - h) / 2)), int(round((W - w) / 2)) with round half to even.
Image center_crop(const Image& in, int height, int width);
// crop then resize (RandomResizedCrop's op).
Image resized_crop(const Image& in, int top, int left, int height, int width, int out_height,
                   int out_width);
// PIL Image.rotate(angle, NEAREST, expand=False, center=None, fillcolor=0): counter-clockwise
// degrees about (W/2, H/2); output pixels whose source falls outside the image are 0.
Image rotate(const Image& in, double angle_degrees);
Image hflip(const Image& in);
Image vflip(const Image& in);

// PIL convert("L"): L = (19595 R + 38470 G + 7471 B + 32768) >> 16, the fixed-point form of
// R*299/1000 + G*587/1000 + B*114/1000. Returns `channels_out` (1 or 3) equal channels.
Image to_grayscale(const Image& in, int channels_out = 3);
// PIL Image.blend(a, b, alpha): a + alpha * (b - a) in float, truncated to uint8 and clamped.
Image blend(const Image& a, const Image& b, double alpha);
// ImageEnhance: blend of a degenerate image and the input with `factor` (1 = unchanged).
Image adjust_brightness(const Image& in, double factor);  // degenerate: black
Image adjust_contrast(const Image& in, double factor);    // degenerate: mean of L, rounded
Image adjust_saturation(const Image& in, double factor);  // degenerate: L as RGB
// torchvision adjust_hue on PIL: RGB -> HSV (PIL, 8-bit H), H += uint8(hue * 255) modulo 256,
// HSV -> RGB. hue_factor in [-0.5, 0.5]. Grayscale images are returned unchanged.
Image adjust_hue(const Image& in, double hue_factor);

}  // namespace functional

// ---- random transforms ----
// Transforms are immutable once built: one instance may serve many threads at once, each with its
// own Generator.
class Transform {
 public:
  virtual ~Transform() = default;
  // Draws this transform's parameters from `rng` (a fixed number of draws per call for the
  // flips, grayscale, rotation and ColorJitter; RandomResizedCrop draws until it accepts a box).
  virtual Image operator()(const Image& in, Generator& rng) const = 0;
  virtual std::string repr() const = 0;  // torchvision-like, e.g. "RandomHorizontalFlip(p=0.5)"
};
using TransformPtr = std::shared_ptr<const Transform>;

TransformPtr resize(int size);       // shorter side -> size, bilinear with antialiasing
TransformPtr center_crop(int size);  // size x size, zero padding when the image is smaller
// Area fraction uniform in [scale_lo, scale_hi], log aspect ratio uniform in
// [log ratio_lo, log ratio_hi]; 10 attempts, then the central crop clamped to the ratio range;
// the box is resized to size x size (bilinear).
TransformPtr random_resized_crop(int size, double scale_lo = 0.08, double scale_hi = 1.0,
                                 double ratio_lo = 3.0 / 4, double ratio_hi = 4.0 / 3);
TransformPtr random_rotation(double degrees);  // uniform angle in [-degrees, degrees]
TransformPtr random_horizontal_flip(double p = 0.5);
TransformPtr random_vertical_flip(double p = 0.5);
// Factors uniform in [max(0, 1 - b), 1 + b] (same for contrast and saturation), hue uniform in
// [-hue, hue] (hue <= 0.5); an argument of 0 disables that op (no draw); the enabled ops run in
// a random order (a random permutation of the 4, drawn first).
TransformPtr color_jitter(double brightness, double contrast, double saturation, double hue);
TransformPtr random_grayscale(double p = 0.1);  // 3 equal channels out
TransformPtr compose(std::vector<TransformPtr> transforms);

// ---- to tensor ----
// float32 [C, H, W] (C channels, H rows, W columns) in [0, 1]: pixel / 255, on the CPU.
Tensor to_tensor(const Image& image);
// In place on a float32 CPU [C, H, W] tensor: (x - mean[c]) / std[c] in float32, as
// torchvision's Normalize. mean and std have C entries (or 1, broadcast); std must be nonzero.
void normalize_(Tensor& chw, const std::vector<double>& mean = {0.485, 0.456, 0.406},
                const std::vector<double>& std = {0.229, 0.224, 0.225});

// transforms, then to_tensor, then normalize_ (skipped when mean and std are empty).
struct ImagePipeline {
  TransformPtr image;  // may be null: no augmentation
  std::vector<double> mean, std;
  Tensor operator()(const Image& in, Generator& rng) const;
  std::string repr() const;
};

// RandomRotation(45), CenterCrop(image_size), RandomHorizontalFlip, RandomVerticalFlip,
// ColorJitter(0.2, 0.1, 0.1, 0.1), RandomGrayscale(0.025), ToTensor, Normalize(ImageNet).
ImagePipeline flower_train_pipeline(int image_size = 224);
// Resize(resize), CenterCrop(image_size), ToTensor, Normalize(ImageNet).
ImagePipeline flower_valid_pipeline(int image_size = 224, int resize = 256);

}  // namespace sepal::data
