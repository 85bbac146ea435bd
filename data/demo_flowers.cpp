// demo_flowers.cpp: renders the procedural demo flowers and writes the demo dataset (see
// demo_flowers.h). A scene is drawn back to front: background (gradient, value noise, grass-like
// streaks), 0-2 leaves, the outer petal ring, the optional inner ring, the centre disc. The flower
// is sampled 5 times per pixel (quincunx anti-aliasing); the smooth background once per pixel.
#include "data/demo_flowers.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace sepal::data {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kMaxPetals = 32;

struct Col {
  double r = 0, g = 0, b = 0;
};
Col col(Rgb c) { return {double(c.r), double(c.g), double(c.b)}; }
Col mix(Col a, Col b, double t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}
Col mul(Col a, double s) { return {a.r * s, a.g * s, a.b * s}; }
Col add(Col a, Col b) { return {a.r + b.r, a.g + b.g, a.b + b.b}; }

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
double hash_unit(uint64_t seed, uint64_t a, uint64_t b) {  // in [-1, 1)
  return static_cast<double>(mix64(seed ^ mix64(a * 0x100000001B3ull + b)) >> 11) * 0x1p-52 - 1.0;
}

double uniform(Generator& rng, double lo, double hi) { return lo + (hi - lo) * rng.next_double(); }

struct Ring {  // one ring of petals
  int n = 0;
  PetalShape shape = PetalShape::Round;
  double length = 0, width = 0;  // pixels; width is the half-width ratio
  std::array<double, kMaxPetals> angle{}, scale{}, cos{}, sin{};  // per petal
  Col base, tip;
};

struct Leaf {
  double cos = 1, sin = 0, length = 0, width = 0;  // direction, length in pixels, width ratio
  Col colour;
};

struct Scene {
  int size = 0;
  double cx = 0, cy = 0, reach = 0;  // flower centre and the radius beyond which it is empty
  Ring outer, inner;
  bool layered = false;
  std::vector<Leaf> leaves;
  double centre_r = 0;
  Col centre, ring;
  bool dotted = false;
  double dot_freq = 0, dot_phase = 0;
  // background
  Col sky_top, sky_bottom;
  double grass = 0, grass_slant = 0, grass_band = 1;
  std::array<double, 36> noise{};  // 6x6 value-noise grid
  // lighting
  double brightness = 1;
  Col tint;
  uint64_t noise_seed = 0;
};

// Half-width of a petal at fraction t of its length, as a fraction of its length.
double petal_profile(PetalShape shape, double t, double width) {
  switch (shape) {
    case PetalShape::Pointed:  // widest at 35%, straight sides to a sharp tip
      return width * (t < 0.35 ? std::sqrt(t / 0.35) : (1.0 - t) / 0.65);
    case PetalShape::Thin:
    case PetalShape::Round:
    case PetalShape::Heart: {  // obovate: widest around 60%
      const double s = t * (0.6 + 0.4 * t), e = 1.0 - (2.0 * s - 1.0) * (2.0 * s - 1.0);
      return e > 0 ? width * std::sqrt(e) : 0.0;
    }
  }
  return 0.0;
}

// The petal of `ring` covering point (dx, dy) (relative to the flower centre, at angle phi), if
// any: returns true and its colour (gradient base -> tip, darker towards the edges).
bool ring_colour(const Ring& ring, double dx, double dy, double phi, Col& out) {
  if (ring.n == 0) return false;
  const double pos = (phi - ring.angle[0]) * ring.n / (2 * kPi);
  const int k0 = static_cast<int>(std::floor(pos));
  double best = 2.0;
  for (int dk = 0; dk <= 1; ++dk) {
    const int k = ((k0 + dk) % ring.n + ring.n) % ring.n;
    // Petal-local coordinates: u along the petal's axis, v across it.
    const double u = dx * ring.cos[k] + dy * ring.sin[k];
    const double v = std::fabs(dy * ring.cos[k] - dx * ring.sin[k]);
    const double len = ring.length * ring.scale[k];
    double t = u / len;
    if (ring.shape == PetalShape::Heart) {  // a notch at the tip: shorter along the midline
      const double a = std::min(1.0, 1.8 * v / (ring.width * len));
      t = u / (len * (0.7 + 0.3 * a));
    }
    if (t <= 0.0 || t >= 1.0) continue;
    const double hw = petal_profile(ring.shape, t, ring.width) * len;
    if (v >= hw) continue;
    const double edge = v / hw;
    if (edge < best) {
      best = edge;
      const double shade = (1.0 - 0.28 * edge * edge) * (0.9 + 0.1 * t);
      out = mul(mix(ring.base, ring.tip, t), shade * ring.scale[k]);
    }
  }
  return best < 2.0;
}

// The flower (leaves, petals, centre) at sub-pixel point (x, y), or false for background.
bool flower_colour(const Scene& s, double x, double y, Col& out) {
  const double dx = x - s.cx, dy = y - s.cy, r = std::sqrt(dx * dx + dy * dy);
  if (r > s.reach) return false;
  const double phi = std::atan2(dy, dx);
  if (r < s.centre_r) {
    const double q = r / s.centre_r;
    bool dot = false;
    if (s.dotted)
      dot = std::sin(r * s.dot_freq + s.dot_phase) * std::sin(phi * 13.0 + r * 0.7) > 0.35;
    out = (q > 0.8 || dot) ? s.ring : mul(s.centre, 1.0 - 0.25 * q * q);
    return true;
  }
  if (s.layered && ring_colour(s.inner, dx, dy, phi, out)) return true;
  if (ring_colour(s.outer, dx, dy, phi, out)) return true;
  for (const Leaf& leaf : s.leaves) {
    const double u = dx * leaf.cos + dy * leaf.sin, v = std::fabs(dy * leaf.cos - dx * leaf.sin);
    const double t = u / leaf.length;
    if (t <= 0.0 || t >= 1.0) continue;
    const double hw = leaf.width * leaf.length * std::sin(kPi * t);
    if (v < hw) {
      out = mul(leaf.colour, 0.85 + 0.15 * (1.0 - v / hw) + (v < 0.1 * hw ? 0.12 : 0.0));
      return true;
    }
  }
  return false;
}

Col background_colour(const Scene& s, int px, int py) {
  const double fx = (px + 0.5) / s.size, fy = (py + 0.5) / s.size;
  Col c = mix(s.sky_top, s.sky_bottom, fy);
  // Value noise on a 6x6 grid, smoothstep-interpolated.
  const double gx = fx * 5.0, gy = fy * 5.0;
  const int ix = std::min(4, static_cast<int>(gx)), iy = std::min(4, static_cast<int>(gy));
  double tx = gx - ix, ty = gy - iy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  auto n = [&](int i, int j) { return s.noise[j * 6 + i]; };
  const double v = (n(ix, iy) * (1 - tx) + n(ix + 1, iy) * tx) * (1 - ty) +
                   (n(ix, iy + 1) * (1 - tx) + n(ix + 1, iy + 1) * tx) * ty;
  c = add(c, Col{18 * v, 18 * v, 14 * v});
  if (s.grass > 0) {  // slanted streaks, stronger towards the bottom
    const double band = (px + s.grass_slant * (s.size - py)) / s.grass_band;
    const double g = hash_unit(s.noise_seed, 7, static_cast<uint64_t>(std::floor(band) + 4096));
    const double k = s.grass * fy * fy * g;
    c = add(c, Col{12 * k, 30 * k, 8 * k});
  }
  return c;
}

Col jitter(Generator& rng, Col c, double amount) {
  return {c.r + uniform(rng, -amount, amount), c.g + uniform(rng, -amount, amount),
          c.b + uniform(rng, -amount, amount)};
}

void draw_ring(Generator& rng, Ring& ring, double angle0, double angle_jitter) {
  const double step = 2 * kPi / ring.n;
  for (int k = 0; k < ring.n; ++k) {
    ring.angle[k] = angle0 + k * step + uniform(rng, -angle_jitter, angle_jitter) * step;
    ring.scale[k] = uniform(rng, 0.9, 1.08);
    ring.cos[k] = std::cos(ring.angle[k]);
    ring.sin[k] = std::sin(ring.angle[k]);
  }
}

// Every random choice of one image, in a fixed order.
Scene make_scene(const Species& sp, int size, Generator& rng) {
  Scene s;
  s.size = size;
  const double scale = uniform(rng, 0.72, 1.08) * size;
  s.cx = size * (0.5 + uniform(rng, -0.12, 0.12));
  s.cy = size * (0.5 + uniform(rng, -0.12, 0.12));
  const double rot = uniform(rng, 0, 2 * kPi);
  const Col colour_shift = jitter(rng, Col{}, 14);

  s.outer.n = std::clamp(sp.petals, 1, kMaxPetals);
  s.outer.shape = sp.shape;
  s.outer.length = sp.petal_length * scale;
  s.outer.width = sp.petal_width;
  s.outer.base = add(col(sp.petal), colour_shift);
  s.outer.tip = add(col(sp.petal_tip), colour_shift);
  draw_ring(rng, s.outer, rot, 0.06);
  s.layered = sp.layered;
  if (sp.layered) {
    s.inner = s.outer;
    s.inner.length = s.outer.length * uniform(rng, 0.55, 0.65);
    s.inner.base = add(col(sp.inner_petal), colour_shift);
    s.inner.tip = mix(s.inner.base, Col{255, 255, 255}, 0.25);
    draw_ring(rng, s.inner, rot + kPi / s.outer.n, 0.06);
  }
  s.centre_r = sp.centre_radius * scale * uniform(rng, 0.9, 1.1);
  s.centre = col(sp.centre);
  s.ring = col(sp.centre_ring);
  s.dotted = sp.dotted_centre;
  s.dot_freq = uniform(rng, 1.6, 2.2) * 96.0 / size;
  s.dot_phase = uniform(rng, 0, 2 * kPi);

  const int leaves = static_cast<int>(rng.next_below(3));
  for (int i = 0; i < leaves; ++i) {
    Leaf leaf;
    const double angle = uniform(rng, 0.15 * kPi, 0.85 * kPi);  // downwards (y grows down)
    leaf.cos = std::cos(angle);
    leaf.sin = std::sin(angle);
    leaf.length = size * uniform(rng, 0.45, 0.7);
    leaf.width = uniform(rng, 0.14, 0.22);
    leaf.colour = Col{uniform(rng, 35, 75), uniform(rng, 105, 150), uniform(rng, 25, 55)};
    s.leaves.push_back(leaf);
  }
  s.reach = s.outer.length * 1.1 + 2;
  for (const Leaf& leaf : s.leaves) s.reach = std::max(s.reach, leaf.length + 2);

  // Background: grass (green), sky (blue-grey) or soil (brown) with its own gradient.
  const int kind = static_cast<int>(rng.next_below(3));
  const Col tops[3] = {{95, 140, 70}, {150, 180, 215}, {120, 95, 70}};
  const Col bottoms[3] = {{45, 95, 35}, {95, 130, 90}, {75, 60, 45}};
  s.sky_top = jitter(rng, tops[kind], 25);
  s.sky_bottom = jitter(rng, bottoms[kind], 25);
  for (double& v : s.noise) v = uniform(rng, -1, 1);
  s.grass = kind == 1 ? 0.0 : uniform(rng, 0.5, 1.0);
  s.grass_slant = uniform(rng, -0.3, 0.3);
  s.grass_band = std::max(1.0, size * uniform(rng, 0.012, 0.03));

  s.brightness = uniform(rng, 0.78, 1.15);
  s.tint = Col{uniform(rng, 0.92, 1.08), uniform(rng, 0.92, 1.08), uniform(rng, 0.92, 1.08)};
  s.noise_seed = mix64(rng.next_below(~0ull));
  return s;
}

uint8_t to_byte(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0l, 255l)); }

}  // namespace

Image render_flower(const Species& species, int size, Generator& rng) {
  if (size < 16 || size > 1024)
    throw Error("render_flower: size must be in [16, 1024], got " + std::to_string(size));
  const Scene s = make_scene(species, size, rng);
  Image img(size, size, 3);
  // Quincunx anti-aliasing: the pixel centre (weight 1/2) and its 4 corners (1/8 each); corners
  // are shared with the neighbours, so a pixel costs 2 evaluations instead of 4.
  struct Sample {
    bool hit = false;
    Col c;
  };
  std::vector<Sample> top(size + 1), bottom(size + 1);
  auto corner_row = [&](int y, std::vector<Sample>& row) {
    for (int x = 0; x <= size; ++x) row[x].hit = flower_colour(s, x, y, row[x].c);
  };
  corner_row(0, top);
  for (int y = 0; y < size; ++y) {
    corner_row(y + 1, bottom);
    for (int x = 0; x < size; ++x) {
      const Col bg = background_colour(s, x, y);
      Col centre;
      Col sum = mul(flower_colour(s, x + 0.5, y + 0.5, centre) ? centre : bg, 0.5);
      for (const Sample* k : {&top[x], &top[x + 1], &bottom[x], &bottom[x + 1]})
        sum = add(sum, mul(k->hit ? k->c : bg, 0.125));
      const double grain = 5.0 * hash_unit(s.noise_seed, static_cast<uint64_t>(y), x);
      img.at(y, x, 0) = to_byte(sum.r * s.brightness * s.tint.r + grain);
      img.at(y, x, 1) = to_byte(sum.g * s.brightness * s.tint.g + grain);
      img.at(y, x, 2) = to_byte(sum.b * s.brightness * s.tint.b + grain);
    }
    std::swap(top, bottom);
  }
  return img;
}

uint64_t demo_image_seed(uint64_t seed, int species_index, int split, int index) {
  return mix64(mix64(mix64(seed) ^ static_cast<uint64_t>(species_index)) ^
               (static_cast<uint64_t>(split) << 32 | static_cast<uint32_t>(index)));
}

void write_demo_flowers(const std::string& root, const DemoFlowersOptions& o) {
  const auto& species = demo_species();
  if (o.image_size < 64 || o.image_size > 224)
    throw Error("write_demo_flowers: image_size must be in [64, 224], got " +
                std::to_string(o.image_size));
  std::vector<int> chosen = o.species;
  if (chosen.empty()) {
    if (o.num_species < 10 || o.num_species > static_cast<int>(species.size()))
      throw Error("write_demo_flowers: num_species must be in [10, " +
                  std::to_string(species.size()) + "], got " + std::to_string(o.num_species));
    for (int c = 0; c < o.num_species; ++c) chosen.push_back(c);
  }
  if (chosen.size() < 2) throw Error("write_demo_flowers: at least 2 species are needed");
  for (size_t k = 0; k < chosen.size(); ++k) {
    if (chosen[k] < 0 || chosen[k] >= static_cast<int>(species.size()))
      throw Error("write_demo_flowers: species index " + std::to_string(chosen[k]) + " outside [0, " +
                  std::to_string(species.size()) + ")");
    for (size_t j = 0; j < k; ++j)
      if (chosen[j] == chosen[k])
        throw Error("write_demo_flowers: species index " + std::to_string(chosen[k]) + " listed twice");
  }
  if (o.train_per_class < 1 || o.valid_per_class < 1)
    throw Error("write_demo_flowers: train_per_class and valid_per_class must be >= 1, got " +
                std::to_string(o.train_per_class) + " and " + std::to_string(o.valid_per_class));
  namespace fs = std::filesystem;
  const char* splits[2] = {"train", "valid"};
  const int counts[2] = {o.train_per_class, o.valid_per_class};
  struct Job {
    int species, split, index;
  };
  std::vector<Job> jobs;
  try {
    for (int c : chosen)
      for (int split = 0; split < 2; ++split) {
        fs::create_directories(fs::path(root) / splits[split] / species[c].folder);
        for (int i = 0; i < counts[split]; ++i) jobs.push_back({c, split, i});
      }
  } catch (const fs::filesystem_error& e) {
    throw DataError(root + ": cannot create the demo dataset folders: " + e.what());
  }
  // Every image has its own generator, so the files do not depend on the thread schedule.
  std::exception_ptr error;
  std::mutex error_mu;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t j = 0; j < static_cast<int64_t>(jobs.size()); ++j) {
    try {
      const Job& job = jobs[j];
      Generator rng(demo_image_seed(o.seed, job.species, job.split, job.index));
      const Image img = render_flower(species[job.species], o.image_size, rng);
      char name[32];
      std::snprintf(name, sizeof name, "image_%04d.png", job.index);
      save_png(img,
               (fs::path(root) / splits[job.split] / species[job.species].folder / name).string());
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  const std::string path = (fs::path(root) / "cat_to_name.json").string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << demo_cat_to_name_json(chosen);
  if (!out.flush()) throw DataError(path + ": cannot write");
}

}  // namespace sepal::data
