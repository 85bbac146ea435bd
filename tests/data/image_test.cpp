// image_test.cpp: decoding every PNG flavour, JPEG, BMP and PGM to 8-bit RGB, encoding, and a
// DataError naming the file for every kind of bad file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "data/image.h"
#include "data/png_writer.h"
#include "data/test_util.h"

namespace sepal::data {
namespace {

using testing::TempDir;
using testing::load_error;

std::vector<uint8_t> rgb_of(const Image& img) { return img.pixels; }

TEST(Image, DecodesPngGrayGrayAlphaRgba8Bit) {
  TempDir dir;
  // 2x2, written by our own encoder (png_writer.h), so stb is only the decoder under test.
  testing::write_bytes(dir / "gray.png", testing::encode_png(2, 2, 8, 0, {0, 50, 200, 255}));
  testing::write_bytes(dir / "ga.png", testing::encode_png(2, 2, 8, 4, {10, 0, 20, 99, 30, 255, 40, 7}));
  testing::write_bytes(dir / "rgba.png",
                       testing::encode_png(2, 1, 8, 6, {1, 2, 3, 0, 250, 251, 252, 128}));
  Image gray = load_image(dir / "gray.png");
  EXPECT_EQ(gray.height, 2);
  EXPECT_EQ(gray.width, 2);
  EXPECT_EQ(gray.channels, 3);
  EXPECT_EQ(rgb_of(gray), (std::vector<uint8_t>{0, 0, 0, 50, 50, 50, 200, 200, 200, 255, 255, 255}));
  // Gray + alpha: the gray value replicated, alpha dropped (PIL's convert("RGB")).
  EXPECT_EQ(rgb_of(load_image(dir / "ga.png")),
            (std::vector<uint8_t>{10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40}));
  Image rgba = load_image(dir / "rgba.png");
  EXPECT_EQ(rgba.width, 2);
  EXPECT_EQ(rgba.height, 1);
  EXPECT_EQ(rgb_of(rgba), (std::vector<uint8_t>{1, 2, 3, 250, 251, 252}));
}

TEST(Image, Decodes16BitPngToTheHighByte) {
  TempDir dir;
  testing::write_bytes(dir / "g16.png", testing::encode_png(3, 1, 16, 0, {0x1234, 0xFFFF, 0x00FF}));
  testing::write_bytes(dir / "rgb16.png",
                       testing::encode_png(1, 2, 16, 2, {0xABCD, 0x0100, 0x7F80, 0x0000, 0xFF00, 0x8001}));
  testing::write_bytes(dir / "rgba16.png", testing::encode_png(1, 1, 16, 6, {0x1111, 0x2222, 0x3333, 0x0000}));
  EXPECT_EQ(rgb_of(load_image(dir / "g16.png")),
            (std::vector<uint8_t>{0x12, 0x12, 0x12, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00}));
  Image rgb16 = load_image(dir / "rgb16.png");
  EXPECT_EQ(rgb16.height, 2);
  EXPECT_EQ(rgb_of(rgb16), (std::vector<uint8_t>{0xAB, 0x01, 0x7F, 0x00, 0xFF, 0x80}));
  EXPECT_EQ(rgb_of(load_image(dir / "rgba16.png")), (std::vector<uint8_t>{0x11, 0x22, 0x33}));
}

// The decision documented in image.h: a 16-bit gray sample v becomes its high byte v >> 8, where
// PIL's Image.open(p).convert("RGB") clamps it: min(v, 255) (Pillow 9.4, Debian 12, opens the PNG
// as mode "I"; later versions open it as "I;16", whose I16_RGB clamps the same way). Checked
// with Debian's python3-pil:
//   PIL:   0x0080 -> 128, 0x00FF -> 255, 0x0100 -> 255, 0x1234 -> 255, 0x8000 -> 255, 0xFFFF -> 255
//   sepal: 0x0080 -> 0,   0x00FF -> 0,   0x0100 -> 1,   0x1234 -> 18,  0x8000 -> 128, 0xFFFF -> 255
// For 16-bit gray+alpha PIL takes the high byte too (0x1234 -> 18), like sepal.
TEST(Image, SixteenBitGrayIsTheHighByteNotPilsClamp) {
  TempDir dir;
  const std::vector<uint16_t> v = {0x0080, 0x00FF, 0x0100, 0x1234, 0x8000, 0xFFFF};
  const std::vector<uint8_t> high = {0, 0, 1, 18, 128, 255};
  std::vector<uint8_t> rgb;
  for (uint8_t h : high) rgb.insert(rgb.end(), {h, h, h});
  testing::write_bytes(dir / "g16.png", testing::encode_png(6, 1, 16, 0, v));
  EXPECT_EQ(rgb_of(load_image(dir / "g16.png")), rgb);
  std::vector<uint16_t> with_alpha;
  for (uint16_t s : v) with_alpha.insert(with_alpha.end(), {s, 0xFFFF});
  testing::write_bytes(dir / "ga16.png", testing::encode_png(2, 3, 16, 4, with_alpha));
  EXPECT_EQ(rgb_of(load_image(dir / "ga16.png")), rgb);
}

// stb_image 2.27 decodes 16-bit PGM/PPM wrongly (little-endian samples; a gray PGM read past the
// end of its buffer): they are refused, by the cheap scan too, rather than decoded to garbage.
TEST(Image, SixteenBitPgmAndPpmAreRefused) {
  TempDir dir;
  const std::string reason =
      "16-bit PGM/PPM (maxval above 255) is not supported (stb_image 2.27 decodes it wrongly); "
      "convert it to 8 bits or to PNG";
  for (std::string header : {"P5 3 1 65535\n", "P6 1 1 65535\n", "P5 3 1 1023\n"}) {
    std::vector<uint8_t> pnm(header.begin(), header.end());
    for (uint16_t s : {0x1234, 0x00FF, 0x0080}) pnm.insert(pnm.end(), {uint8_t(s >> 8), uint8_t(s)});
    testing::write_bytes(dir / "x.pgm", pnm);
    EXPECT_EQ(load_error(dir / "x.pgm"), dir / "x.pgm" + ": " + reason) << header;
    std::string probe = "(no error)";
    try {
      probe_image(dir / "x.pgm");
    } catch (const DataError& e) {
      probe = e.what();
    }
    EXPECT_EQ(probe, dir / "x.pgm" + ": " + reason) << header;
  }
  // 8-bit PGM (maxval 255) still decodes.
  testing::write_bytes(dir / "x.pgm", {'P', '5', ' ', '2', ' ', '1', ' ', '2', '5', '5', '\n', 7, 200});
  EXPECT_EQ(rgb_of(load_image(dir / "x.pgm")), (std::vector<uint8_t>{7, 7, 7, 200, 200, 200}));
}

TEST(Image, DecodesBmpAndPgmWrittenByHand) {
  TempDir dir;
  // 24-bit BMP, 2 wide x 2 high, rows bottom-up, pixels BGR, rows padded to 4 bytes.
  std::vector<uint8_t> bmp = {'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0,  // file header
                              40, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 24, 0, 0, 0, 0, 0,
                              16, 0, 0, 0, 0x13, 0x0B, 0, 0, 0x13, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  // bottom row (y = 1): (10,20,30) (40,50,60); top row (y = 0): (70,80,90) (100,110,120)
  std::vector<uint8_t> rows = {30, 20, 10, 60, 50, 40, 0, 0, 90, 80, 70, 120, 110, 100, 0, 0};
  bmp.insert(bmp.end(), rows.begin(), rows.end());
  testing::write_bytes(dir / "a.bmp", bmp);
  EXPECT_EQ(rgb_of(load_image(dir / "a.bmp")),
            (std::vector<uint8_t>{70, 80, 90, 100, 110, 120, 10, 20, 30, 40, 50, 60}));

  testing::write_text(dir / "g.pgm", std::string("P5\n2 1\n255\n") + "\x05\xFA");
  EXPECT_EQ(rgb_of(load_image(dir / "g.pgm")), (std::vector<uint8_t>{5, 5, 5, 250, 250, 250}));
}

TEST(Image, JpegAndPngRoundTrip) {
  TempDir dir;
  // A smooth 24x32 gradient: JPEG at quality 100 keeps it within a few levels.
  Image img(24, 32, 3);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 32; ++x) {
      img.at(y, x, 0) = static_cast<uint8_t>(40 + 4 * x);
      img.at(y, x, 1) = static_cast<uint8_t>(30 + 5 * y);
      img.at(y, x, 2) = static_cast<uint8_t>(200 - 2 * x - y);
    }
  save_png(img, dir / "a.png");
  Image png = load_image(dir / "a.png");
  EXPECT_EQ(png.pixels, img.pixels);
  save_jpeg(img, dir / "a.jpg", 100);
  auto bytes = testing::read_bytes(dir / "a.jpg");
  ASSERT_GE(bytes.size(), 4u);
  EXPECT_EQ(bytes[0], 0xFF);
  EXPECT_EQ(bytes[1], 0xD8);
  Image jpg = load_image(dir / "a.jpg");
  ASSERT_EQ(jpg.height, 24);
  ASSERT_EQ(jpg.width, 32);
  int worst = 0;
  for (size_t i = 0; i < img.pixels.size(); ++i) worst = std::max(worst, std::abs(int(jpg.pixels[i]) - int(img.pixels[i])));
  EXPECT_LE(worst, 8);
  // A gray image saved as a one-channel PNG decodes to replicated RGB.
  Image g(1, 2, 1);
  g.pixels = {7, 9};
  save_png(g, dir / "g.png");
  EXPECT_EQ(load_image(dir / "g.png").pixels, (std::vector<uint8_t>{7, 7, 7, 9, 9, 9}));
  // Encoding errors name the file.
  EXPECT_THROW(save_jpeg(img, dir / "q.jpg", 0), DataError);
  EXPECT_THROW(save_png(Image(), dir / "empty.png"), DataError);
  EXPECT_THROW(save_png(img, dir / "no/such/dir/x.png"), DataError);
}

TEST(Image, DecodeImageFromMemoryNamesTheSource) {
  Image img = testing::pattern_image(3, 4);
  std::vector<uint8_t> png = testing::encode_png(1, 1, 8, 2, {9, 8, 7});
  EXPECT_EQ(decode_image(png.data(), png.size(), "mem").pixels, (std::vector<uint8_t>{9, 8, 7}));
  const uint8_t junk[] = {'h', 'e', 'l', 'l', 'o'};
  try {
    decode_image(junk, sizeof junk, "memory buffer 3");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "memory buffer 3: not a recognised image (JPEG, PNG, BMP, PPM/PGM)");
  }
}

class BadImage : public ::testing::Test {
 protected:
  TempDir dir;
  std::vector<uint8_t> good_png = testing::encode_png(16, 16, 8, 2, std::vector<uint16_t>(16 * 16 * 3, 77));
  std::vector<uint8_t> good_jpeg() {
    save_jpeg(testing::pattern_image(32, 32), dir / "good.jpg", 90);
    return testing::read_bytes(dir / "good.jpg");
  }
  void expect_error(const std::string& name, const std::vector<uint8_t>& bytes, const std::string& reason) {
    std::string path = dir / name;
    testing::write_bytes(path, bytes);
    EXPECT_EQ(load_error(path), path + ": " + reason) << name;
  }
};

TEST_F(BadImage, EmptyFile) {
  expect_error("empty.jpg", {}, "empty file (0 bytes)");
  EXPECT_THROW(probe_image(dir / "empty.jpg"), DataError);
}

TEST_F(BadImage, NonImageWithImageExtension) {
  expect_error("notes.jpg", {'h', 'e', 'l', 'l', 'o', '\n'}, "not a recognised image (JPEG, PNG, BMP, PPM/PGM)");
  try {
    probe_image(dir / "notes.jpg");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), dir / "notes.jpg" + ": not a recognised image (JPEG, PNG, BMP, PPM/PGM)");
  }
}

TEST_F(BadImage, TruncatedPngJpegBmp) {
  std::vector<uint8_t> png(good_png.begin(), good_png.begin() + good_png.size() / 2);
  std::string path = dir / "half.png";
  testing::write_bytes(path, png);
  std::string err = load_error(path);
  EXPECT_EQ(err.rfind(path + ": cannot decode (", 0), 0u) << err;

  std::vector<uint8_t> jpeg = good_jpeg();
  jpeg.resize(jpeg.size() * 6 / 10);
  expect_error("cut.jpg", jpeg, "truncated JPEG (no end-of-image marker after the last scan)");

  std::vector<uint8_t> bmp = {'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0,
                              40, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 24, 0, 0, 0, 0, 0,
                              16, 0, 0, 0, 0x13, 0x0B, 0, 0, 0x13, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3};
  expect_error("cut.bmp", bmp, "truncated BMP (the pixel data is shorter than the header says)");
}

TEST_F(BadImage, CorruptData) {
  // PNG whose compressed data is garbage: the zlib stream cannot be inflated.
  std::vector<uint8_t> png = good_png;
  for (size_t i = 41; i + 16 < png.size(); ++i) png[i] = static_cast<uint8_t>(0xA5 ^ i);
  std::string path = dir / "corrupt.png";
  testing::write_bytes(path, png);
  std::string err = load_error(path);
  EXPECT_EQ(err.rfind(path + ": cannot decode (", 0), 0u) << err;
  // JPEG with a broken header after the start-of-image marker.
  std::vector<uint8_t> jpeg = good_jpeg();
  for (size_t i = 2; i < 40; ++i) jpeg[i] = 0x00;
  path = dir / "corrupt.jpg";
  testing::write_bytes(path, jpeg);
  err = load_error(path);
  EXPECT_EQ(err.rfind(path + ": ", 0), 0u) << err;
  EXPECT_NE(err, "(no error)");
}

TEST_F(BadImage, UnsupportedFormatsAndHugeImages) {
  expect_error("a.tif", {'I', 'I', 42, 0, 8, 0, 0, 0},
               "TIFF images are not supported (stb_image decodes JPEG, PNG, BMP, PPM/PGM); convert it");
  expect_error("a.webp", {'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'E', 'B', 'P'},
               "WebP images are not supported (stb_image decodes JPEG, PNG, BMP, PPM/PGM); convert it");
  // A PNG header declaring 15000 x 12000 pixels (180 million): refused before any pixel memory
  // is allocated. (stb itself refuses images over 2^30 bytes.)
  std::vector<uint8_t> bomb = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr;
  testing::put32(ihdr, 15000);
  testing::put32(ihdr, 12000);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  testing::png_chunk(bomb, "IHDR", ihdr);
  testing::png_chunk(bomb, "IEND", {});
  expect_error("bomb.png", bomb, "15000x12000 pixels exceeds the limit of 178956970 (a possible decompression bomb)");
}

TEST_F(BadImage, MissingDirectoryAndUnreadableFiles) {
  EXPECT_EQ(load_error(dir / "missing.png"), dir / "missing.png" + ": cannot open: No such file or directory");
  std::filesystem::create_directories(dir / "folder.png");
  EXPECT_EQ(load_error(dir / "folder.png"), dir / "folder.png" + ": not a regular file: a directory");
  if (geteuid() == 0) GTEST_SKIP() << "running as root, which can read a chmod 000 file";
  testing::write_bytes(dir / "locked.png", good_png);
  ASSERT_EQ(chmod((dir / "locked.png").c_str(), 0), 0);
  EXPECT_EQ(load_error(dir / "locked.png"), dir / "locked.png" + ": cannot open: Permission denied");
}

}  // namespace
}  // namespace sepal::data
