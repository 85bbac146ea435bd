// demo_species.cpp: the species of the built-in demo flowers (demo_flowers.h) and their
// cat_to_name.json. Deliberately close pairs: "pink five" / "pink eight" (same colours, 5 or 8
// petals), "tangerine button" / "tangerine star" (same colours, round or pointed petals),
// "scarlet star" / "crimson heart" (reds, pointed or notched), "sunny daisy" / "golden sun"
// (many thin petals, white or yellow).
#include <string>
#include <vector>

#include "data/demo_flowers.h"
#include "io/json.h"
#include "tensor/error.h"

namespace sepal::data {
namespace {

Species make(const char* name, int petals, PetalShape shape, double length, double width, Rgb petal,
             Rgb tip, double centre_radius, Rgb centre, Rgb ring, bool dotted = false,
             bool layered = false, Rgb inner = {}) {
  Species s;
  s.name = name;
  s.petals = petals;
  s.shape = shape;
  s.petal_length = length;
  s.petal_width = width;
  s.petal = petal;
  s.petal_tip = tip;
  s.centre_radius = centre_radius;
  s.centre = centre;
  s.centre_ring = ring;
  s.dotted_centre = dotted;
  s.layered = layered;
  s.inner_petal = inner;
  return s;
}

std::vector<Species> build() {
  using P = PetalShape;
  std::vector<Species> v = {
      make("scarlet star", 5, P::Pointed, 0.40, 0.42, {215, 25, 35}, {250, 95, 85}, 0.07,
           {250, 205, 40}, {200, 120, 20}),
      make("sunny daisy", 14, P::Thin, 0.38, 0.14, {250, 250, 250}, {236, 236, 222}, 0.11,
           {245, 185, 25}, {200, 130, 10}, true),
      make("golden sun", 22, P::Thin, 0.40, 0.13, {250, 200, 20}, {255, 228, 70}, 0.16,
           {95, 55, 20}, {50, 30, 10}, true),
      make("blue star", 6, P::Pointed, 0.38, 0.36, {40, 80, 210}, {125, 165, 250}, 0.06,
           {250, 250, 230}, {60, 60, 140}),
      make("violet heart", 5, P::Heart, 0.36, 0.55, {140, 60, 190}, {205, 145, 240}, 0.07,
           {250, 220, 80}, {120, 40, 140}),
      make("pink five", 5, P::Round, 0.36, 0.50, {240, 120, 170}, {255, 192, 218}, 0.07,
           {250, 230, 120}, {200, 90, 120}),
      make("pink eight", 8, P::Round, 0.36, 0.40, {240, 120, 170}, {255, 192, 218}, 0.07,
           {250, 230, 120}, {200, 90, 120}),
      make("coral cup", 6, P::Round, 0.40, 0.48, {245, 110, 80}, {255, 172, 135}, 0.06,
           {120, 60, 30}, {70, 35, 20}, false, true, {255, 205, 175}),
      make("lilac layers", 10, P::Round, 0.40, 0.34, {185, 150, 230}, {228, 208, 252}, 0.06,
           {255, 240, 150}, {210, 170, 60}, false, true, {145, 95, 210}),
      make("crimson heart", 4, P::Heart, 0.38, 0.62, {170, 10, 50}, {225, 60, 90}, 0.08,
           {40, 20, 20}, {250, 200, 60}, true),
      make("tangerine button", 6, P::Round, 0.36, 0.46, {250, 140, 20}, {255, 192, 85}, 0.08,
           {150, 70, 10}, {90, 40, 5}),
      make("tangerine star", 6, P::Pointed, 0.38, 0.40, {250, 140, 20}, {255, 192, 85}, 0.08,
           {150, 70, 10}, {90, 40, 5}),
  };
  for (size_t i = 0; i < v.size(); ++i) v[i].folder = std::to_string(i + 1);
  return v;
}

}  // namespace

const std::vector<Species>& demo_species() {
  static const std::vector<Species> species = build();
  return species;
}

std::string demo_cat_to_name_json(int num_species) {
  const auto& all = demo_species();
  if (num_species < 1 || num_species > static_cast<int>(all.size()))
    throw Error("demo_cat_to_name_json: num_species must be in [1, " + std::to_string(all.size()) +
                "], got " + std::to_string(num_species));
  std::vector<int> first(num_species);
  for (int i = 0; i < num_species; ++i) first[i] = i;
  return demo_cat_to_name_json(first);
}

std::string demo_cat_to_name_json(const std::vector<int>& species_indices) {
  const auto& all = demo_species();
  std::string out = "{";
  for (size_t k = 0; k < species_indices.size(); ++k) {
    const int i = species_indices[k];
    if (i < 0 || i >= static_cast<int>(all.size()))
      throw Error("demo_cat_to_name_json: species index " + std::to_string(i) + " outside [0, " +
                  std::to_string(all.size()) + ")");
    out += k ? ",\n  " : "\n  ";
    out += io::Json(all[i].folder).dump() + ": " + io::Json(all[i].name).dump();
  }
  return out + "\n}\n";
}

}  // namespace sepal::data
