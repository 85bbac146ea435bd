// data_setup.cpp: opening the trainer's data and choosing its preprocessing.
#include "data_setup.h"

#include <filesystem>

#include "data/demo_flowers.h"
#include "data/idx.h"
#include "data/image_folder.h"

namespace flowers {

namespace fs = std::filesystem;

std::string demo_data_root(const std::string& out) { return (fs::path(out) / "demo-flowers").string(); }

void ensure_demo_flowers(const std::string& root, int image_size, int num_species, uint64_t seed) {
  // A marker written last records the options: a half-written or different folder is rewritten.
  const fs::path marker = fs::path(root) / ".complete";
  const std::string want = std::to_string(image_size) + " " + std::to_string(num_species) + " " + std::to_string(seed);
  if (fs::exists(marker)) {
    std::FILE* f = std::fopen(marker.c_str(), "r");
    char buf[128] = {0};
    if (f) {
      size_t n = std::fread(buf, 1, sizeof buf - 1, f);
      buf[n] = 0;
      std::fclose(f);
    }
    if (want == buf) return;
  }
  fs::remove_all(root);
  data::DemoFlowersOptions options;
  options.image_size = image_size;
  options.num_species = num_species;
  options.seed = seed;
  data::write_demo_flowers(root, options);
  std::FILE* f = std::fopen(marker.c_str(), "w");
  if (!f) throw sepal::IOError(marker.string() + ": cannot write");
  std::fputs(want.c_str(), f);
  std::fclose(f);
}

std::vector<std::string> display_names(const std::string& root, const std::vector<std::string>& classes) {
  const fs::path file = fs::path(root) / "cat_to_name.json";
  if (!fs::exists(file)) return classes;
  return data::class_names(classes, data::load_cat_to_name(file.string()));
}

namespace {
bool looks_like_idx(const fs::path& dir) {
  for (const char* name : {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"})
    if (fs::exists(dir / name)) return true;
  return false;
}
}  // namespace

DataSetup open_data(const TrainConfig& config) {
  DataSetup setup;
  std::string root = config.data;
  if (root.empty()) {
    root = demo_data_root(config.out);
    ensure_demo_flowers(root, static_cast<int>(config.demo_size), 10);
  }
  if (!fs::is_directory(root)) throw sepal::IOError(root + ": no such folder (--data)");
  const auto policy = config.skip_bad_images ? data::BadDataPolicy::Skip : data::BadDataPolicy::Error;
  std::string kind;
  if (looks_like_idx(root)) {
    setup.splits = data::open_idx_splits(root);
    setup.is_idx = true;
    setup.class_names = setup.splits.train->classes();
    kind = "IDX";
  } else {
    setup.splits = data::open_image_folder_splits(root, policy);
    setup.class_names = display_names(root, setup.splits.train->classes());
    kind = config.data.empty() ? "built-in demo flowers" : "ImageFolder";
  }
  setup.classes = setup.splits.train->classes();
  setup.description = kind + " " + root + " (train " + std::to_string(setup.splits.train->size()) + ", " +
                      setup.splits.valid_name + " " + std::to_string(setup.splits.valid->size()) + ", " +
                      std::to_string(setup.classes.size()) + " classes)";
  if (setup.splits.train->size() == 0) throw sepal::IOError(root + ": the training split has no images");
  if (setup.splits.valid->size() == 0) throw sepal::IOError(root + ": the validation split has no images");
  return setup;
}

int64_t effective_resize(const TrainConfig& config, bool is_idx) {
  if (is_idx && config.resize == 0) return config.image_size;  // small digits: scale, don't crop
  return config.valid_resize();
}

data::ImagePipeline valid_pipeline(int64_t image_size, int64_t resize) {
  return data::flower_valid_pipeline(static_cast<int>(image_size), static_cast<int>(resize));
}

data::ImagePipeline train_pipeline(const TrainConfig& config, bool is_idx) {
  if (!config.augment || is_idx) return valid_pipeline(config.image_size, effective_resize(config, is_idx));
  return data::flower_train_pipeline(static_cast<int>(config.image_size));
}

}  // namespace flowers
