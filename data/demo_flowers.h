// demo_flowers.h: the built-in procedural flower dataset. Each species has a petal count, petal
// shape, colours, centre and layering; each rendered image varies pose (rotation), scale,
// position, lighting (brightness and tint), background (gradient, noise, grass-like blades) and
// petal colour. Rendering is pure C++ with anti-aliasing (5 samples a pixel), deterministic: the
// same options write byte-identical files.
//
// Layout written (an ImageFolder dataset in the Oxford 102 style):
//   root/train/<folder>/image_<index>.png (index 0000, 0001, ...), root/valid/<folder>/...,
//   root/cat_to_name.json
// with folders "1".."N" (so the class order is torchvision's string order "1", "10", "2", ...)
// and cat_to_name.json mapping each folder to the species' display name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"
#include "tensor/generator.h"

namespace sepal::data {

enum class PetalShape { Round, Pointed, Thin, Heart };

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

struct Species {
  std::string folder;  // "1".."N"
  std::string name;    // display name, e.g. "scarlet star"
  int petals = 5;
  PetalShape shape = PetalShape::Round;
  double petal_length = 0.42;   // outer radius of a petal tip, as a fraction of the image size
  double petal_width = 0.5;     // petal half-width relative to its length
  Rgb petal, petal_tip;         // colour at the base and at the tip (a radial gradient)
  bool layered = false;         // a second, smaller ring of petals rotated half a petal
  Rgb inner_petal;              // colour of the inner ring when layered
  double centre_radius = 0.08;  // fraction of the image size
  Rgb centre, centre_ring;      // disc colour and the colour of its rim / dots
  bool dotted_centre = false;   // seed-like dots on the disc
};

// At least 12 species, folders "1".."N" in this order. Some pairs are deliberately close
// (the same colours with a different petal count or shape) so the task is not trivial.
const std::vector<Species>& demo_species();

// One size x size RGB image of `species`; every random choice comes from `rng`, so the image
// is a function of (species, size, rng state). size must be in [16, 1024].
Image render_flower(const Species& species, int size, Generator& rng);

struct DemoFlowersOptions {
  int image_size = 96;       // 64..224
  int train_per_class = 40;  // >= 1
  int valid_per_class = 10;  // >= 1
  int num_species = 10;      // 10..demo_species().size()
  // Indices into demo_species() to write instead of the first num_species (at least 2, distinct):
  // the trainer's demo pretrains on some species and transfers to the others.
  std::vector<int> species;
  uint64_t seed = 1;
};

// Writes the dataset under `root` (created if missing); throws sepal::Error on invalid options
// and DataError when a file cannot be written. Image k of split s of species c is rendered from
// its own generator (seed derived from options.seed, c, s and k), so any image can be
// regenerated alone.
void write_demo_flowers(const std::string& root, const DemoFlowersOptions& options);

// cat_to_name.json's text for the first `num_species` species: {"1": "name", ...} (JSON-escaped).
std::string demo_cat_to_name_json(int num_species);
std::string demo_cat_to_name_json(const std::vector<int>& species_indices);

// The generator seed of one image (split 0 = train, 1 = valid); exposed for the tests.
uint64_t demo_image_seed(uint64_t seed, int species_index, int split, int index);

}  // namespace sepal::data
