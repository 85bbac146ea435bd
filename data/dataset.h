// dataset.h: the Dataset interface every data source implements (ImageFolder, IdxDataset, demo
// data) and the train/validation pair the trainer opens. A Dataset maps an index to a decoded
// 8-bit RGB image and its class label; the DataLoader batches and transforms samples.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/image.h"

namespace sepal::data {

// What to do with a file that cannot be decoded (corrupt, truncated, empty, unreadable, not an
// image): Error stops with a DataError naming the file; Skip leaves the sample out, counts it
// and prints one warning line to stderr. A skipped file never shifts another file's label.
enum class BadDataPolicy { Error, Skip };

struct Sample {
  Image image;    // 8-bit RGB, HWC
  int64_t label;  // index into classes()
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual size_t size() const = 0;
  // Thread-safe (the DataLoader's workers call it concurrently). Throws DataError naming the
  // file when a sample cannot be decoded, and IndexError when index >= size().
  virtual Sample get(size_t index) const = 0;
  // Class names in label order (the folder names for an ImageFolder).
  virtual const std::vector<std::string>& classes() const = 0;
  // Where sample `index` comes from, for error messages (a file path for an ImageFolder).
  virtual std::string describe(size_t index) const { return "sample " + std::to_string(index); }
  // How the DataLoader treats a DataError from get(): Skip drops the sample and counts it.
  virtual BadDataPolicy bad_data_policy() const { return BadDataPolicy::Error; }
};

// The two halves the trainer works on: train/ and valid/ (or test/) of an ImageFolder root, or
// the train and t10k files of an IDX folder. valid_name says which folder or file set was used.
struct Splits {
  std::shared_ptr<Dataset> train, valid;
  std::string valid_name;
};

}  // namespace sepal::data
