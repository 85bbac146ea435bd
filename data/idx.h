// idx.h: the IDX format of MNIST and Fashion-MNIST (plain or gzip-compressed), and a Dataset of
// its images as 8-bit RGB (the gray value replicated to 3 channels) with their labels.
//
// IDX: magic 0x00 0x00 <type> <ndims>, then ndims big-endian uint32 sizes, then the data in
// row-major order. Only type 0x08 (unsigned byte) is accepted. Every file is treated as hostile:
// sizes are checked against the data actually present (no trailing bytes either), and memory
// grows with the data read, never from an unchecked header field.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace sepal::data {

struct IdxArray {
  std::vector<uint32_t> dims;  // e.g. {60000, 28, 28} for images, {60000} for labels
  std::vector<uint8_t> data;   // product(dims) bytes
};

// Reads an IDX file, gzip-compressed (.gz, detected by content) or not. DataError naming the
// file on a bad magic, unsupported type, truncated or oversized data, or a corrupt gzip stream.
IdxArray read_idx(const std::string& path);

// "0".."9" and Fashion-MNIST's ten class names, in label order.
const std::vector<std::string>& digit_classes();
const std::vector<std::string>& fashion_mnist_classes();

class IdxDataset : public Dataset {
 public:
  // images: [N, rows, cols]; labels: [N], each < classes.size(). DataError naming the files
  // when the shapes or counts disagree or a label is out of range.
  IdxDataset(const std::string& images_path, const std::string& labels_path,
             std::vector<std::string> classes = digit_classes());

  size_t size() const override { return labels_.size(); }
  Sample get(size_t index) const override;
  const std::vector<std::string>& classes() const override { return classes_; }
  std::string describe(size_t index) const override;

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  const std::vector<uint8_t>& labels() const { return labels_; }

 private:
  std::string images_path_;
  int rows_ = 0, cols_ = 0;
  std::vector<uint8_t> pixels_;
  std::vector<uint8_t> labels_;
  std::vector<std::string> classes_;
};

// Opens DIR/train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz] and the t10k-* pair as
// train and valid (valid_name "t10k"). Without `classes`, a folder whose name contains
// "fashion" (any case) gets fashion_mnist_classes(), any other digit_classes(). DataError
// naming DIR and the expected file names when a file is missing.
Splits open_idx_splits(const std::string& dir, std::vector<std::string> classes = {});

}  // namespace sepal::data
