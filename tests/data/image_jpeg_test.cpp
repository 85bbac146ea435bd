// image_jpeg_test.cpp: JPEG is decoded by libjpeg-turbo (data/image.cpp): a hostile Huffman table
// (issue 13.6, which made stb_image 2.27 write past its tables) is a DataError naming the file,
// and the pixels equal PIL's exactly for baseline, progressive, 4:2:0/4:2:2/4:4:4, gray and CMYK
// JPEGs (tests/data/jpeg_pil_golden.h, from tests/fuzz/make_image_corpus.py).
#include <gtest/gtest.h>

#include <cstdlib>

#include "data/image.h"
#include "data/jpeg_pil_golden.h"
#include "data/test_util.h"

namespace sepal::data {
namespace {

using testing::TempDir;
using testing::load_error;
using testing::probe_error;

// A DHT segment whose 16 code counts add up to more than 256 (here 16 x 255). stb_image 2.27
// (Debian 12) wrote past the 257-entry size array building the table (stb_image.h:1990; caught
// by this test under ASan + UBSan before the JPEG decoder changed); libjpeg-turbo refuses it.
TEST(ImageJpeg, HostileHuffmanTableIsADataErrorNamingTheFile) {
  TempDir dir;
  save_jpeg(testing::pattern_image(32, 32), dir / "good.jpg", 90);
  std::vector<uint8_t> jpeg = testing::read_bytes(dir / "good.jpg");
  size_t at = 0;
  while (at + 1 < jpeg.size() && !(jpeg[at] == 0xFF && jpeg[at + 1] == 0xC4)) ++at;
  ASSERT_LT(at + 21, jpeg.size()) << "no DHT segment";
  for (size_t i = at + 5; i < at + 21; ++i) jpeg[i] = 0xFF;  // after FF C4, length (2), class/id (1)
  std::string path = dir / "hostile.jpg";
  testing::write_bytes(path, jpeg);
  const std::string expected = path + ": cannot decode (Bogus Huffman table definition)";
  EXPECT_EQ(load_error(path), expected);
  EXPECT_EQ(probe_error(path), expected);  // the table comes before the frame header
  try {
    decode_image(jpeg.data(), jpeg.size(), "buffer 7");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "buffer 7: cannot decode (Bogus Huffman table definition)");
  }
  // The same table alone, before any frame header, in a minimal file.
  std::vector<uint8_t> tiny = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 19, 0x00};
  for (int i = 0; i < 16; ++i) tiny.push_back(0xFF);
  tiny.insert(tiny.end(), {0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9});
  testing::write_bytes(dir / "tiny.jpg", tiny);
  EXPECT_EQ(load_error(dir / "tiny.jpg"), dir / "tiny.jpg" + ": cannot decode (Bogus Huffman table definition)");
}

TEST(ImageJpeg, PixelsEqualPilsExactly) {
  TempDir dir;
  for (const auto& g : testing::pil_jpegs()) {
    std::string path = dir / g.name;
    testing::write_bytes(path, g.jpeg);
    Image img = load_image(path);
    ASSERT_EQ(img.width, g.width) << g.name;
    ASSERT_EQ(img.height, g.height) << g.name;
    ASSERT_EQ(img.pixels.size(), g.rgb.size()) << g.name;
    int worst = 0;
    for (size_t i = 0; i < g.rgb.size(); ++i) worst = std::max(worst, std::abs(int(img.pixels[i]) - int(g.rgb[i])));
    EXPECT_EQ(worst, 0) << g.name << " (PIL mode " << g.pil_mode << ")";
    ImageInfo info = probe_image(path);
    EXPECT_EQ(info.width, g.width);
    EXPECT_EQ(info.height, g.height);
    EXPECT_EQ(info.channels, std::string(g.pil_mode) == "L" ? 1 : 3) << g.name;
    EXPECT_EQ(decode_image(g.jpeg.data(), g.jpeg.size(), g.name).pixels, img.pixels) << g.name;
  }
}

TEST(ImageJpeg, TruncationAndCorruptionNameTheFile) {
  TempDir dir;
  const auto& g = testing::pil_jpegs().front();
  // Cut inside the scan: refused before decoding (no end-of-image marker after the scan).
  std::vector<uint8_t> cut(g.jpeg.begin(), g.jpeg.begin() + g.jpeg.size() * 7 / 10);
  testing::write_bytes(dir / "cut.jpg", cut);
  EXPECT_EQ(load_error(dir / "cut.jpg"),
            dir / "cut.jpg" + ": truncated JPEG (no end-of-image marker after the last scan)");
  // Only the start-of-image marker: libjpeg's own message, naming the file.
  testing::write_bytes(dir / "soi.jpg", {0xFF, 0xD8});
  std::string err = load_error(dir / "soi.jpg");
  EXPECT_EQ(err.rfind(dir / "soi.jpg" + ": ", 0), 0u) << err;
  err = probe_error(dir / "soi.jpg");
  EXPECT_EQ(err, dir / "soi.jpg" + ": cannot decode (Premature end of JPEG file)");
  // A frame header declaring 20000 x 20000 pixels: refused before any pixel memory.
  std::vector<uint8_t> bomb = g.jpeg;
  size_t at = 0;
  while (at + 1 < bomb.size() && !(bomb[at] == 0xFF && (bomb[at + 1] == 0xC0 || bomb[at + 1] == 0xC2))) ++at;
  ASSERT_LT(at + 9, bomb.size());
  for (size_t i = at + 5; i < at + 9; i += 2) bomb[i] = 0x4E, bomb[i + 1] = 0x20;  // height, width
  testing::write_bytes(dir / "bomb.jpg", bomb);
  const std::string limit = ": 20000x20000 pixels exceeds the limit of 178956970 (a possible decompression bomb)";
  EXPECT_EQ(load_error(dir / "bomb.jpg"), dir / "bomb.jpg" + limit);
  EXPECT_EQ(probe_error(dir / "bomb.jpg"), dir / "bomb.jpg" + limit);
}

}  // namespace
}  // namespace sepal::data
