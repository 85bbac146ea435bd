// idx_test.cpp: the IDX reader on Debian's Fashion-MNIST (dataset-fashion-mnist) and on small
// hand-made files, plain and gzip, including hostile headers.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/idx.h"
#include "data/png_writer.h"
#include "data/test_util.h"

namespace sepal::data {
namespace {

using testing::TempDir;

const char* kFashion = "/usr/share/datasets/fashion-mnist";

std::vector<uint8_t> idx_bytes(std::vector<uint32_t> dims, const std::vector<uint8_t>& data, uint8_t type = 0x08) {
  std::vector<uint8_t> out = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) testing::put32(out, d);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// gzip (RFC 1952) around deflate stored blocks, written here without zlib.
std::vector<uint8_t> gzip_stored(const std::vector<uint8_t>& raw) {
  std::vector<uint8_t> out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  size_t pos = 0;
  do {
    size_t n = std::min<size_t>(raw.size() - pos, 65535);
    out.push_back(pos + n == raw.size() ? 1 : 0);
    out.insert(out.end(), {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(~n),
                           static_cast<uint8_t>(~n >> 8)});
    out.insert(out.end(), raw.begin() + pos, raw.begin() + pos + n);
    pos += n;
  } while (pos < raw.size());
  uint32_t crc = testing::crc32(raw.data(), raw.size());
  for (uint32_t v : {crc, static_cast<uint32_t>(raw.size())})
    for (int s = 0; s < 32; s += 8) out.push_back(static_cast<uint8_t>(v >> s));
  return out;
}

std::string idx_error(const std::string& path) {
  try {
    read_idx(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Idx, FashionMnistFromDebian) {
  if (!std::filesystem::exists(kFashion))
    GTEST_SKIP() << kFashion << " is absent: apt-get install dataset-fashion-mnist (scripts/install-deps.sh)";
  Splits s = open_idx_splits(kFashion);
  EXPECT_EQ(s.valid_name, "t10k");
  ASSERT_EQ(s.train->size(), 60000u);
  ASSERT_EQ(s.valid->size(), 10000u);
  EXPECT_EQ(s.train->classes(), fashion_mnist_classes());  // the folder name says "fashion"
  // Reference values read with Python's gzip module, independently of this reader:
  //   im = gzip.open('train-images-idx3-ubyte.gz').read(); lb = gzip.open('train-labels-idx1-ubyte.gz').read()
  //   list(lb[8:18]); list(im[16 + 14*28 : 16 + 15*28]); sum(im[16:16+784]); sum(im[-784:])
  // and the same for t10k-*; each class holds 6000 (train) and 1000 (t10k) images.
  std::vector<int64_t> train_labels, test_labels;
  for (size_t i = 0; i < 10; ++i) train_labels.push_back(s.train->get(i).label);
  for (size_t i = 0; i < 10; ++i) test_labels.push_back(s.valid->get(i).label);
  EXPECT_EQ(train_labels, (std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  EXPECT_EQ(test_labels, (std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  auto row14 = [](const Image& img) {
    std::vector<int> row;
    for (int x = 0; x < 28; ++x) row.push_back(img.at(14, x, 0));
    return row;
  };
  auto sum = [](const Image& img) {
    int64_t total = 0;
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) total += img.at(y, x, 1);  // gray replicated: any channel
    return total;
  };
  Image first = s.train->get(0).image;
  ASSERT_EQ(first.height, 28);
  ASSERT_EQ(first.width, 28);
  ASSERT_EQ(first.channels, 3);
  EXPECT_EQ(row14(first), (std::vector<int>{0, 0, 1, 4, 6, 7, 2, 0, 0, 0, 0, 0, 237, 226, 217, 223, 222, 219,
                                            222, 221, 216, 223, 229, 215, 218, 255, 77, 0}));
  EXPECT_EQ(first.at(3, 12, 0), 1);  // flat index 96: the first non-zero pixel
  EXPECT_EQ(first.at(3, 15, 2), 13);
  EXPECT_EQ(sum(first), 76247);
  EXPECT_EQ(sum(s.train->get(59999).image), 16684);
  EXPECT_EQ(s.train->get(59999).label, 5);
  Image test0 = s.valid->get(0).image;
  EXPECT_EQ(row14(test0), (std::vector<int>{0, 0, 0, 0, 0, 0, 2, 4, 1, 0, 0, 0, 98, 136, 110, 109, 110, 162,
                                            135, 144, 149, 159, 167, 144, 158, 169, 119, 0}));
  EXPECT_EQ(sum(test0), 33456);
  EXPECT_EQ(sum(s.valid->get(9999).image), 24390);
  std::vector<int> counts(10, 0);
  auto* train = dynamic_cast<IdxDataset*>(s.train.get());
  ASSERT_NE(train, nullptr);
  for (uint8_t l : train->labels()) counts.at(l)++;
  EXPECT_EQ(counts, std::vector<int>(10, 6000));
}

TEST(Idx, PlainAndGzipGiveTheSameArray) {
  TempDir dir;
  std::vector<uint8_t> pixels(2 * 3 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 11);
  auto bytes = idx_bytes({2, 3, 4}, pixels);
  testing::write_bytes(dir / "img", bytes);
  testing::write_bytes(dir / "img.gz", gzip_stored(bytes));
  for (const char* name : {"img", "img.gz"}) {
    IdxArray a = read_idx(dir / name);
    EXPECT_EQ(a.dims, (std::vector<uint32_t>{2, 3, 4})) << name;
    EXPECT_EQ(a.data, pixels) << name;
  }
  testing::write_bytes(dir / "lab", idx_bytes({2}, {1, 0}));
  IdxDataset ds(dir / "img.gz", dir / "lab");
  EXPECT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.classes(), digit_classes());
  Sample s = ds.get(1);
  EXPECT_EQ(s.label, 0);
  ASSERT_EQ(s.image.height, 3);
  ASSERT_EQ(s.image.width, 4);
  EXPECT_EQ(s.image.at(2, 3, 0), pixels[12 + 11]);
  EXPECT_EQ(s.image.at(2, 3, 1), pixels[12 + 11]);
  EXPECT_EQ(s.image.at(2, 3, 2), pixels[12 + 11]);
  EXPECT_EQ(ds.describe(1), dir / "img.gz" + " [image 1]");
  EXPECT_THROW(ds.get(2), IndexError);
}

TEST(Idx, HostileFilesGiveErrorsNamingTheFile) {
  TempDir dir;
  auto check = [&](const std::string& name, const std::vector<uint8_t>& bytes, const std::string& reason) {
    testing::write_bytes(dir / name, bytes);
    EXPECT_EQ(idx_error(dir / name), dir / name + ": " + reason) << name;
  };
  check("short", {0, 0}, "too short for an IDX header (2 bytes)");
  check("magic", {1, 2, 8, 1, 0, 0, 0, 0}, "not an IDX file (the magic number must start with two zero bytes)");
  check("type", idx_bytes({1}, {0, 0, 0, 0}, 0x0D), "unsupported IDX element type 0x0d (only 0x08, unsigned byte)");
  check("dims", {0, 0, 8, 9}, "IDX header has 9 dimensions (expected 1-4)");
  check("header", {0, 0, 8, 2, 0, 0, 0, 5, 0, 0}, "truncated IDX header");
  check("trunc", idx_bytes({10, 2}, {1, 2, 3}), "truncated: the header says 10x2 = 20 bytes of data, the file holds 3");
  check("trail", idx_bytes({2}, {1, 2, 3}), "trailing bytes after the 2 bytes of data the header declares");
  // A header claiming 4 x 2^32-1 x 2^32-1 bytes: refused without allocating anything.
  check("huge", idx_bytes({4, 0xFFFFFFFF, 0xFFFFFFFF}, {}), "IDX header declares more than 16 GiB of data");
  // A header claiming 2^32-1 x 3 bytes in a tiny file: memory grows only with the data read.
  check("liar", idx_bytes({0xFFFFFFFF, 3}, {1, 2, 3}),
        "truncated: the header says 4294967295x3 = 12884901885 bytes of data, the file holds 3");
  auto gz = gzip_stored(idx_bytes({4}, {1, 2, 3, 4}));
  auto cut = gz;
  cut.resize(gz.size() - 10);
  testing::write_bytes(dir / "cut.gz", cut);
  std::string err = idx_error(dir / "cut.gz");
  EXPECT_EQ(err.rfind(dir / "cut.gz" + ": ", 0), 0u) << err;
  EXPECT_NE(err, "(no error)");
  auto bad = gz;
  bad[10] = 0x07;  // an invalid deflate block type
  testing::write_bytes(dir / "bad.gz", bad);
  err = idx_error(dir / "bad.gz");
  EXPECT_EQ(err.rfind(dir / "bad.gz" + ": corrupt", 0), 0u) << err;
  EXPECT_EQ(idx_error(dir / "missing"), dir / "missing" + ": no such file");
}

TEST(Idx, DatasetChecksShapesCountsAndLabels) {
  TempDir dir;
  testing::write_bytes(dir / "img", idx_bytes({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}));
  testing::write_bytes(dir / "lab3", idx_bytes({3}, {0, 1, 2}));
  testing::write_bytes(dir / "lab_bad", idx_bytes({2}, {0, 10}));
  testing::write_bytes(dir / "flat", idx_bytes({8}, {1, 2, 3, 4, 5, 6, 7, 8}));
  auto error_of = [](auto fn) -> std::string {
    try {
      fn();
    } catch (const DataError& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(error_of([&] { IdxDataset d(dir / "img", dir / "lab3"); }),
            dir / "lab3" + ": holds 3 labels but " + dir / "img" + " holds 2 images");
  EXPECT_EQ(error_of([&] { IdxDataset d(dir / "img", dir / "lab_bad"); }),
            dir / "lab_bad" + ": label 10 of sample 1 is out of range for 10 classes");
  EXPECT_EQ(error_of([&] { IdxDataset d(dir / "flat", dir / "lab3"); }),
            dir / "flat" + ": expected a 3-D IDX image array [N, rows, cols], got 1-D");
  std::string err = error_of([&] { open_idx_splits(dir.path()); });
  EXPECT_EQ(err.rfind(dir.path() + ": missing train-images-idx3-ubyte[.gz]", 0), 0u) << err;
}

}  // namespace
}  // namespace sepal::data
