// meta.h: the tensor-free parts of a checkpoint: the training metadata (epoch, best accuracy,
// mode, architecture, classes, preprocessing, generator states, loader position, history,
// version), the identity of each parameter (shape, dtype, trainable, optimizer group), and
// CheckpointError. Kept free of Tensor so the file reader (format.h, schema.h) builds on its own
// for the fuzzer. Every field is stored as its own typed record (docs/checkpoint-format.md).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/error.h"

namespace sepal::checkpoint {

// Every malformed, truncated or unreadable checkpoint, and every failed save. Messages name the
// file, the record (when one is at fault) and what is wrong.
class CheckpointError : public IOError {
 public:
  using IOError::IOError;
};

// The version written into new checkpoints' meta (TrainingMeta::sepal_version) by capture().
inline constexpr const char* kSepalVersion = "0.1.0";

// One finished epoch.
struct EpochRecord {
  int64_t epoch = 0;  // 1-based number of the finished epoch
  double train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0;
  std::vector<double> lrs;  // each optimizer group's lr during the epoch
  double seconds = 0;       // wall time of the epoch
  bool operator==(const EpochRecord&) const = default;
};

// Everything in a checkpoint besides tensors, optimizer and scheduler.
struct TrainingMeta {
  int64_t epoch = 0;  // epochs completed
  double best_val_acc = -1;
  int64_t best_epoch = -1;
  std::string mode;  // "feature-extract", "finetune", "finetune-from=layer4"
  std::string arch;  // "resnet18"
  int64_t num_classes = 0;
  std::vector<std::string> classes;      // index -> folder name (class_to_idx inverted)
  std::vector<std::string> class_names;  // index -> display name (cat_to_name.json); may be empty
  int64_t image_size = 0, resize = 0;
  std::vector<double> mean, std;  // normalisation per channel
  std::map<std::string, std::pair<uint64_t, uint64_t>> generators;  // name -> (seed, offset)
  std::map<std::string, int64_t> counters;     // "loader.epoch", "loader.batch", "global_step", ...
  std::map<std::string, std::string> strings;  // free-form: optimizer choice, data path, options
  std::vector<EpochRecord> history;
  std::string sepal_version;
  bool operator==(const TrainingMeta&) const = default;
};

// A parameter as it was when the checkpoint was taken.
struct ParamIdentity {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::Float32;
  bool trainable = false;  // requires_grad
  int64_t group = -1;      // optimizer group index; -1: in no group (or no optimizer)
  bool operator==(const ParamIdentity&) const = default;
};

}  // namespace sepal::checkpoint
