// test_util.h: helpers for the data tests: the shared TempDir (common/temp_dir.h), writing raw bytes, small synthetic images with a known pattern, and the error a bad image gives.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "data/image.h"

namespace sepal::data::testing {

using ::sepal::testing::TempDir;

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::string& path, const std::string& text) {
  write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// An RGB image whose pixel (y, x) is (x * 40 + tag, y * 40, (x + y) * 20 + tag): distinct per tag.
inline Image pattern_image(int h, int w, int tag = 0) {
  Image img(h, w, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      img.at(y, x, 0) = static_cast<uint8_t>(x * 40 + tag);
      img.at(y, x, 1) = static_cast<uint8_t>(y * 40);
      img.at(y, x, 2) = static_cast<uint8_t>((x + y) * 20 + tag);
    }
  return img;
}

// Writes a PNG whose first red value encodes `tag`, creating parent folders.
inline void write_png(const std::string& path, int h = 4, int w = 5, int tag = 0) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  save_png(pattern_image(h, w, tag), path);
}

// The message of the DataError load_image / probe_image throws for `path`, or "(no error)".
inline std::string load_error(const std::string& path) {
  try {
    load_image(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

inline std::string probe_error(const std::string& path) {
  try {
    probe_image(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace sepal::data::testing
