// data_setup.h: where a flowers command's images come from (an ImageFolder root, an IDX folder,
// or the built-in demo flowers, generated on first use) and how they are preprocessed.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "data/dataloader.h"
#include "data/dataset.h"
#include "data/transforms.h"

namespace flowers {

namespace data = sepal::data;

struct DataSetup {
  data::Splits splits;
  std::vector<std::string> classes;      // label order (folder names)
  std::vector<std::string> class_names;  // display names (cat_to_name.json), else the folder names
  std::string description;               // "ImageFolder /x (train 6552, valid 818, 102 classes)"
  bool is_idx = false;
};

// The folder the built-in demo flowers are written to for `out`, and writing them when absent
// (deterministic: the same options always give the same files).
std::string demo_data_root(const std::string& out);
void ensure_demo_flowers(const std::string& root, int image_size, int num_species, uint64_t seed = 1);

// Opens config.data (or the demo flowers under config.out). Throws sepal::Error naming the folder.
DataSetup open_data(const TrainConfig& config);

// The train transform (the flower recipe, or the valid preprocessing with --no-augment and for IDX
// data, which needs no rotation or colour jitter) and the valid one (Resize, CenterCrop).
data::ImagePipeline train_pipeline(const TrainConfig& config, bool is_idx);
data::ImagePipeline valid_pipeline(int64_t image_size, int64_t resize);
// The valid Resize: --resize, else image-size*256/224 (IDX images are only scaled to image-size).
int64_t effective_resize(const TrainConfig& config, bool is_idx);

// Display names for `classes` from cat_to_name.json in `root` when it exists.
std::vector<std::string> display_names(const std::string& root, const std::vector<std::string>& classes);

}  // namespace flowers
