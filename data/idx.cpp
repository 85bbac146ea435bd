// idx.cpp: the IDX reader (plain or gzip via zlib, sizes checked against the data present) and
// IdxDataset; see idx.h.
#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

namespace fs = std::filesystem;

namespace sepal::data {

namespace {

constexpr uint64_t kMaxIdxBytes = uint64_t(1) << 34;  // 16 GiB of data: far beyond any IDX set

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
  throw DataError(path + ": " + reason);
}

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads up to n bytes; gzread reads plain files unchanged ("transparent" mode) and gzip ones
// decompressed, so one path serves both.
size_t read_some(gzFile f, uint8_t* dst, size_t n, const std::string& path) {
  size_t total = 0;
  while (total < n) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - total, size_t(1) << 24));
    int got = gzread(f, dst + total, chunk);
    if (got < 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      fail(path, std::string("corrupt gzip data (") + (msg ? msg : "zlib error") + ")");
    }
    if (got == 0) break;
    total += static_cast<size_t>(got);
  }
  // A truncated gzip stream reads as a short read with Z_BUF_ERROR set.
  int err = Z_OK;
  const char* msg = gzerror(f, &err);
  if (err != Z_OK && err != Z_STREAM_END)
    fail(path, std::string("corrupt or truncated gzip data (") + (msg ? msg : "zlib error") + ")");
  return total;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) fail(path, fs::exists(path, ec) ? "not a regular file" : "no such file");
  GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) fail(path, std::string("cannot open: ") + std::strerror(errno));
  uint8_t magic[4];
  size_t got = read_some(f.get(), magic, 4, path);
  if (got < 4) fail(path, "too short for an IDX header (" + std::to_string(got) + " bytes)");
  if (magic[0] != 0 || magic[1] != 0)
    fail(path, "not an IDX file (the magic number must start with two zero bytes)");
  if (magic[2] != 0x08)
    fail(path, "unsupported IDX element type 0x" + std::string(1, "0123456789abcdef"[magic[2] >> 4]) +
                   std::string(1, "0123456789abcdef"[magic[2] & 15]) + " (only 0x08, unsigned byte)");
  int ndims = magic[3];
  if (ndims < 1 || ndims > 4) fail(path, "IDX header has " + std::to_string(ndims) + " dimensions (expected 1-4)");
  IdxArray out;
  uint64_t count = 1;
  for (int d = 0; d < ndims; ++d) {
    uint8_t b[4];
    if (read_some(f.get(), b, 4, path) < 4) fail(path, "truncated IDX header");
    uint32_t n = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
    out.dims.push_back(n);
    if (n != 0 && count > kMaxIdxBytes / n) fail(path, "IDX header declares more than 16 GiB of data");
    count *= n;
  }
  // Grow with the data actually read, so a lying header cannot make us allocate.
  const size_t chunk = size_t(1) << 22;
  while (out.data.size() < count) {
    size_t want = std::min<uint64_t>(chunk, count - out.data.size());
    size_t old = out.data.size();
    out.data.resize(old + want);
    size_t n = read_some(f.get(), out.data.data() + old, want, path);
    if (n < want) {
      std::string dims;
      for (uint32_t d : out.dims) {
        if (!dims.empty()) dims += 'x';
        dims += std::to_string(d);
      }
      fail(path, "truncated: the header says " + dims + " = " + std::to_string(count) +
                     " bytes of data, the file holds " + std::to_string(old + n));
    }
  }
  uint8_t extra;
  if (read_some(f.get(), &extra, 1, path) != 0)
    fail(path, "trailing bytes after the " + std::to_string(count) + " bytes of data the header declares");
  return out;
}

const std::vector<std::string>& digit_classes() {
  static const std::vector<std::string> c = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return c;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> c = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                             "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return c;
}

IdxDataset::IdxDataset(const std::string& images_path, const std::string& labels_path,
                       std::vector<std::string> classes)
    : images_path_(images_path), classes_(std::move(classes)) {
  if (classes_.empty()) throw DataError(labels_path + ": IdxDataset needs at least one class name");
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3)
    fail(images_path, "expected a 3-D IDX image array [N, rows, cols], got " + std::to_string(images.dims.size()) + "-D");
  if (labels.dims.size() != 1)
    fail(labels_path, "expected a 1-D IDX label array [N], got " + std::to_string(labels.dims.size()) + "-D");
  if (images.dims[0] != labels.dims[0])
    fail(labels_path, "holds " + std::to_string(labels.dims[0]) + " labels but " + images_path + " holds " +
                          std::to_string(images.dims[0]) + " images");
  if (images.dims[1] == 0 || images.dims[2] == 0 || images.dims[1] > 65536 || images.dims[2] > 65536)
    fail(images_path, "image size " + std::to_string(images.dims[1]) + "x" + std::to_string(images.dims[2]) + " is not usable");
  for (size_t i = 0; i < labels.data.size(); ++i)
    if (labels.data[i] >= classes_.size())
      fail(labels_path, "label " + std::to_string(labels.data[i]) + " of sample " + std::to_string(i) +
                            " is out of range for " + std::to_string(classes_.size()) + " classes");
  rows_ = static_cast<int>(images.dims[1]);
  cols_ = static_cast<int>(images.dims[2]);
  pixels_ = std::move(images.data);
  labels_ = std::move(labels.data);
}

Sample IdxDataset::get(size_t index) const {
  if (index >= labels_.size())
    throw IndexError("IdxDataset " + images_path_ + ": index " + std::to_string(index) + " out of range for " +
                     std::to_string(labels_.size()) + " samples");
  Image image(rows_, cols_, 3);
  const uint8_t* src = pixels_.data() + index * static_cast<size_t>(rows_) * cols_;
  for (size_t p = 0; p < static_cast<size_t>(rows_) * cols_; ++p)
    image.pixels[3 * p] = image.pixels[3 * p + 1] = image.pixels[3 * p + 2] = src[p];
  return Sample{std::move(image), labels_[index]};
}

std::string IdxDataset::describe(size_t index) const {
  return images_path_ + " [image " + std::to_string(index) + "]";
}

namespace {

std::string find_idx(const fs::path& dir, const std::string& base) {
  std::error_code ec;
  for (const std::string& name : {base, base + ".gz"})
    if (fs::is_regular_file(dir / name, ec)) return (dir / name).string();
  throw DataError(dir.string() + ": missing " + base + "[.gz] (an IDX folder holds train-images-idx3-ubyte, "
                  "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, optionally .gz)");
}

}  // namespace

Splits open_idx_splits(const std::string& dir, std::vector<std::string> classes) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw DataError(dir + ": no such folder (expected an IDX folder such as /usr/share/datasets/fashion-mnist)");
  if (classes.empty()) {
    std::string name = fs::path(dir).lexically_normal().string();
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    classes = name.find("fashion") != std::string::npos ? fashion_mnist_classes() : digit_classes();
  }
  fs::path d(dir);
  Splits s;
  std::string train_images = find_idx(d, "train-images-idx3-ubyte"), train_labels = find_idx(d, "train-labels-idx1-ubyte");
  std::string test_images = find_idx(d, "t10k-images-idx3-ubyte"), test_labels = find_idx(d, "t10k-labels-idx1-ubyte");
  s.train = std::make_shared<IdxDataset>(train_images, train_labels, classes);
  s.valid = std::make_shared<IdxDataset>(test_images, test_labels, classes);
  s.valid_name = "t10k";
  return s;
}

}  // namespace sepal::data
