// image_hostile_test.cpp: what tests/fuzz/image_fuzz.cpp found in stb_image 2.27 for the formats it
// still decodes (PNG, PPM/PGM), guarded in data/image.cpp: each is a DataError naming the file.
#include <gtest/gtest.h>

#include "data/image.h"
#include "data/png_writer.h"
#include "data/test_util.h"

namespace sepal::data {
namespace {

using testing::TempDir;
using testing::load_error;
using testing::probe_error;

// An IDAT chunk declaring about a gigabyte in a tiny file: stb grew its buffer to the declared
// length before reading (a 1 GB allocation per file). Every chunk must now fit in the file.
TEST(ImageHostile, PngChunkLongerThanTheFile) {
  TempDir dir;
  std::vector<uint8_t> png = testing::encode_png(4, 4, 8, 2, std::vector<uint16_t>(4 * 4 * 3, 9));
  size_t at = 8;
  while (std::string(png.begin() + at + 4, png.begin() + at + 8) != "IDAT") {
    at += 12 + (size_t(png[at]) << 24 | size_t(png[at + 1]) << 16 | size_t(png[at + 2]) << 8 | png[at + 3]);
    ASSERT_LT(at + 8, png.size());
  }
  png[at] = 0x40;  // length 0x40xxxxxx
  std::string path = dir / "idat.png";
  testing::write_bytes(path, png);
  EXPECT_EQ(load_error(path),
            path + ": cannot decode (truncated or corrupt PNG: a chunk is longer than the rest of the file)");
  // The header alone is still fine to probe (ImageFolder's scan reads no pixel data).
  EXPECT_EQ(probe_error(path), "(no error)");
}

// A PGM header number past int's range: stb parsed it with signed overflow (undefined behaviour).
TEST(ImageHostile, PnmHeaderNumbersTooLarge) {
  TempDir dir;
  const std::string reason = ": cannot decode (PGM/PPM header: a number out of range)";
  for (std::string header : {"P5\n46\n# comment 1\n6666666666666 255\n", "P6 99999999999 1 255\n",
                             "P5 1 1 # x\n 77777777777\n"}) {
    std::string path = dir / "big.pgm";
    testing::write_text(path, header + std::string(8, '\x01'));
    EXPECT_EQ(load_error(path), path + reason) << header;
    EXPECT_EQ(probe_error(path), path + reason) << header;
    std::vector<uint8_t> bytes(header.begin(), header.end());
    EXPECT_THROW(decode_image(bytes.data(), bytes.size(), "mem"), DataError);
  }
  // Ordinary headers, comments included, still decode.
  testing::write_text(dir / "ok.pgm", std::string("P5\n# made by hand 123456789012345\n2 1\n255\n") + "\x05\xFA");
  Image img = load_image(dir / "ok.pgm");
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{5, 5, 5, 250, 250, 250}));
  EXPECT_EQ(probe_image(dir / "ok.pgm").width, 2);
}

}  // namespace
}  // namespace sepal::data
