// demo_flowers_test.cpp: the procedural demo flowers (data/demo_flowers.h): the species table,
// deterministic rendering, the dataset layout and cat_to_name.json, byte-identical rewrites, and
// that species are told apart by a trivial colour-histogram classifier (learnable).
#include "data/demo_flowers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/temp_dir.h"

namespace sepal::data {
namespace {

namespace fs = std::filesystem;

uint64_t fnv1a(const std::vector<uint8_t>& bytes) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001B3ull;
  return h;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

using sepal::testing::TempDir;

TEST(DemoSpecies, TableIsCompleteAndDistinct) {
  const auto& species = demo_species();
  ASSERT_GE(species.size(), 12u);
  std::set<std::string> names;
  std::set<std::tuple<int, int, int, int, int>> looks;  // petals, shape, petal colour
  for (size_t i = 0; i < species.size(); ++i) {
    const Species& s = species[i];
    EXPECT_EQ(s.folder, std::to_string(i + 1));
    EXPECT_FALSE(s.name.empty());
    EXPECT_TRUE(names.insert(s.name).second) << "duplicate name " << s.name;
    EXPECT_TRUE(
        looks.insert({s.petals, static_cast<int>(s.shape), s.petal.r, s.petal.g, s.petal.b}).second)
        << s.name << " looks like another species";
    EXPECT_GE(s.petals, 3);
    EXPECT_GT(s.centre_radius, 0);
  }
}

TEST(DemoSpecies, CatToNameJsonIsEscapedAndOrdered) {
  const std::string json = demo_cat_to_name_json(3);
  EXPECT_EQ(json, "{\n  \"1\": \"" + demo_species()[0].name + "\",\n  \"2\": \"" +
                      demo_species()[1].name + "\",\n  \"3\": \"" + demo_species()[2].name +
                      "\"\n}\n");
  EXPECT_THROW(demo_cat_to_name_json(0), Error);
  EXPECT_THROW(demo_cat_to_name_json(static_cast<int>(demo_species().size()) + 1), Error);
}

TEST(DemoFlowers, RenderIsDeterministic) {
  for (const Species& s : demo_species()) {
    SCOPED_TRACE(s.name);
    Generator a(42), b(42), c(43);
    const Image x = render_flower(s, 80, a), y = render_flower(s, 80, b);
    ASSERT_EQ(x.height, 80);
    ASSERT_EQ(x.width, 80);
    ASSERT_EQ(x.channels, 3);
    EXPECT_EQ(fnv1a(x.pixels), fnv1a(y.pixels));
    EXPECT_EQ(a.offset(), b.offset());
    EXPECT_NE(fnv1a(render_flower(s, 80, c).pixels), fnv1a(x.pixels));
  }
}

TEST(DemoFlowers, RestoredGeneratorReplays) {
  const Species& s = demo_species()[4];
  Generator g(7);
  render_flower(s, 64, g);
  const uint64_t seed = g.seed(), offset = g.offset();
  const Image first = render_flower(s, 64, g), second = render_flower(s, 64, g);
  EXPECT_NE(first.pixels, second.pixels);
  g.set_state(seed, offset);
  EXPECT_EQ(render_flower(s, 64, g).pixels, first.pixels);
  EXPECT_EQ(render_flower(s, 64, g).pixels, second.pixels);
}

TEST(DemoFlowers, RenderUsesTheWholeRange) {
  // Not a flat or clipped image: a flower on a background has varied, unsaturated statistics.
  Generator g(3);
  const Image img = render_flower(demo_species()[0], 96, g);
  std::set<uint8_t> levels(img.pixels.begin(), img.pixels.end());
  EXPECT_GT(levels.size(), 100u);
  EXPECT_THROW(render_flower(demo_species()[0], 8, g), Error);
}

TEST(DemoFlowers, WritesImageFolderLayout) {
  TempDir dir("sepal_demo_flowers");
  DemoFlowersOptions o;
  o.image_size = 64;
  o.train_per_class = 3;
  o.valid_per_class = 2;
  o.num_species = 12;
  o.seed = 5;
  write_demo_flowers(dir.path(), o);
  const auto& species = demo_species();
  for (int split = 0; split < 2; ++split) {
    const fs::path base = fs::path(dir.path()) / (split == 0 ? "train" : "valid");
    std::set<std::string> folders;
    for (const auto& e : fs::directory_iterator(base)) folders.insert(e.path().filename().string());
    EXPECT_EQ(folders.size(), 12u);
    for (int c = 0; c < 12; ++c) {
      SCOPED_TRACE(base.string() + "/" + species[c].folder);
      const fs::path folder = base / species[c].folder;
      const int expected = split == 0 ? 3 : 2;
      EXPECT_EQ(std::distance(fs::directory_iterator(folder), fs::directory_iterator()), expected);
      for (int i = 0; i < expected; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "image_%04d.png", i);
        const Image img = load_image((folder / name).string());
        ASSERT_EQ(img.height, 64);
        ASSERT_EQ(img.width, 64);
        // Any image can be regenerated alone from its seed (PNG is lossless).
        Generator g(demo_image_seed(o.seed, c, split, i));
        EXPECT_EQ(img.pixels, render_flower(species[c], 64, g).pixels);
      }
    }
  }
  EXPECT_EQ(read_file(fs::path(dir.path()) / "cat_to_name.json"), demo_cat_to_name_json(12));
}

TEST(DemoFlowers, SameOptionsGiveByteIdenticalFiles) {
  TempDir a("sepal_demo_a"), b("sepal_demo_b"), c("sepal_demo_c");
  DemoFlowersOptions o;
  o.image_size = 64;
  o.train_per_class = 2;
  o.valid_per_class = 1;
  write_demo_flowers(a.path(), o);
  write_demo_flowers(b.path(), o);
  o.seed = 2;
  write_demo_flowers(c.path(), o);
  int files = 0, differ_with_seed = 0;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(a.path()))) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), fs::path(a.path()));
    ++files;
    EXPECT_EQ(read_file(e.path()), read_file(fs::path(b.path()) / rel)) << rel;
    differ_with_seed += read_file(e.path()) != read_file(fs::path(c.path()) / rel);
  }
  EXPECT_EQ(files, 10 * 3 + 1);         // 10 species (the default) x 3 images + the json
  EXPECT_EQ(differ_with_seed, 10 * 3);  // another seed changes every image, not the json
}

TEST(DemoFlowers, InvalidOptionsThrow) {
  DemoFlowersOptions o;
  o.image_size = 32;
  EXPECT_THROW(write_demo_flowers("/nonexistent/never", o), Error);
  o.image_size = 96;
  o.num_species = 9;
  EXPECT_THROW(write_demo_flowers("/nonexistent/never", o), Error);
  o.num_species = 10;
  o.valid_per_class = 0;
  EXPECT_THROW(write_demo_flowers("/nonexistent/never", o), Error);
}

// A 4x4x4 colour histogram of the central half of the image (where the flower mostly is).
std::vector<double> colour_histogram(const Image& img) {
  std::vector<double> h(64, 0.0);
  const int lo = img.height / 4, hi = img.height - img.height / 4;
  double n = 0;
  for (int y = lo; y < hi; ++y)
    for (int x = lo; x < hi; ++x) {
      h[(img.at(y, x, 0) / 64) * 16 + (img.at(y, x, 1) / 64) * 4 + img.at(y, x, 2) / 64] += 1;
      n += 1;
    }
  for (double& v : h) v /= n;
  return h;
}

// Species differ visibly: nearest-centroid classification on colour histograms, far above
// chance (1/12). Same-colour pairs (e.g. pink five / pink eight) are allowed to be confused, so
// the bar is well below 100%; a renderer that ignored the species would sit near chance.
TEST(DemoFlowers, SpeciesAreToldApartByColour) {
  const auto& species = demo_species();
  const int n = static_cast<int>(species.size()), train = 6, test = 4;
  std::vector<std::vector<double>> centroid(n, std::vector<double>(64, 0.0));
  for (int c = 0; c < n; ++c)
    for (int i = 0; i < train; ++i) {
      Generator g(demo_image_seed(11, c, 0, i));
      const auto h = colour_histogram(render_flower(species[c], 64, g));
      for (int k = 0; k < 64; ++k) centroid[c][k] += h[k] / train;
    }
  int correct = 0;
  for (int c = 0; c < n; ++c)
    for (int i = 0; i < test; ++i) {
      Generator g(demo_image_seed(11, c, 1, i));
      const auto h = colour_histogram(render_flower(species[c], 64, g));
      int best = -1;
      double best_d = 1e9;
      for (int k = 0; k < n; ++k) {
        double d = 0;
        for (int j = 0; j < 64; ++j) d += std::abs(h[j] - centroid[k][j]);
        if (d < best_d) best_d = d, best = k;
      }
      correct += best == c;
    }
  EXPECT_GE(correct, n * test / 2) << correct << " of " << n * test;
}

// The trainer's demo writes two disjoint subsets of species (pretrain on some, transfer to others).
TEST(DemoFlowers, WritesAChosenSubsetOfSpecies) {
  TempDir dir("sepal_demo_subset");
  sepal::data::DemoFlowersOptions o;
  o.image_size = 64;
  o.train_per_class = 2;
  o.valid_per_class = 1;
  o.species = {6, 9};
  sepal::data::write_demo_flowers(dir.path(), o);
  const auto& all = sepal::data::demo_species();
  std::set<std::string> folders;
  for (const auto& entry : fs::directory_iterator(fs::path(dir.path()) / "train")) folders.insert(entry.path().filename().string());
  EXPECT_EQ(folders, (std::set<std::string>{all[6].folder, all[9].folder}));
  EXPECT_TRUE(fs::exists(fs::path(dir.path()) / "valid" / all[9].folder / "image_0000.png"));
  EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "valid" / all[9].folder / "image_0001.png"));
  std::ifstream in(fs::path(dir.path()) / "cat_to_name.json");
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(json.find(all[6].name), std::string::npos);
  EXPECT_NE(json.find(all[9].name), std::string::npos);
  EXPECT_EQ(json.find(all[0].name), std::string::npos);

  o.species = {3, 3};
  EXPECT_THROW(sepal::data::write_demo_flowers(dir.path(), o), sepal::Error);
  o.species = {3, 99};
  EXPECT_THROW(sepal::data::write_demo_flowers(dir.path(), o), sepal::Error);
}

}  // namespace
}  // namespace sepal::data
