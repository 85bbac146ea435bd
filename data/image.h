// image.h: the 8-bit image every data path works on, and decoding (JPEG with libjpeg-turbo, PNG,
// BMP, PPM/PGM with stb_image) and encoding (stb_image_write).
// Layout HWC, interleaved: pixel (y, x) channel c is pixels[(y * width + x) * channels + c].
// Decoded images are always 8-bit RGB (channels == 3), whatever the file held (grayscale,
// grayscale+alpha, RGBA, 16-bit PNG: the high byte, see load_image).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace sepal::data {

// A file that cannot be read or decoded; the message starts with the file's path.
class DataError : public IOError {
 public:
  using IOError::IOError;
};

struct Image {
  int height = 0, width = 0, channels = 3;
  std::vector<uint8_t> pixels;  // height * width * channels bytes

  Image() = default;
  Image(int height, int width, int channels = 3, uint8_t fill = 0)
      : height(height), width(width), channels(channels),
        pixels(static_cast<size_t>(height) * width * channels, fill) {}
  bool empty() const { return pixels.empty(); }
  uint8_t& at(int y, int x, int c) { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
  uint8_t at(int y, int x, int c) const { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
};

// Decodes JPEG, PNG (8/16-bit, gray, gray+alpha, RGB, RGBA), BMP, ... to 8-bit RGB. Alpha is
// dropped (as PIL's convert("RGB") does). JPEG is decoded by libjpeg-turbo with PIL's settings
// (libjpeg's defaults), so the pixels equal PIL's (and torchvision's) exactly, CMYK included;
// the other formats by stb_image. Throws DataError "PATH: reason" for an empty,
// truncated, corrupt or non-image file, one that cannot be opened, or anything that is not a
// regular file (a directory, FIFO, socket or device: refused before it is opened, never blocks).
//
// 16-bit PNG samples become their high byte (v >> 8: 0x1234 -> 0x12, 0x00FF -> 0, 0xFFFF ->
// 255). This is what PIL does for 16-bit RGB, RGBA and gray+alpha PNGs, but NOT what PIL (and
// so torchvision's ImageFolder) does for a 16-bit gray PNG: PIL opens it as mode "I" (Pillow
// 9.4) or "I;16" (later versions), and convert("RGB") clamps each value to 0-255 (min(v, 255):
// 0x1234 -> 255, 0x00FF -> 255, 0x0080 -> 128), so the image comes out almost entirely white
// (Pillow issues #2574, #3011). sepal keeps the picture: such files differ from torchvision on
// purpose; convert them to 8 bits to get the same pixels in both. 16-bit PGM/PPM (maxval above
// 255) is refused (a DataError, also from probe_image): stb_image 2.27 decodes it wrongly.
Image load_image(const std::string& path);
Image decode_image(const uint8_t* bytes, size_t size, const std::string& name);

// A cheap check that a file is a decodable image: opens it and parses only the header (no pixel
// decoding), as ImageFolder does at scan time. Returns the size and the channels stored in the
// file (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA); throws DataError "PATH: reason" like load_image.
// Images over 178,956,970 pixels (PIL's decompression-bomb limit) are refused by both.
struct ImageInfo {
  int height = 0, width = 0, channels = 0;
};
ImageInfo probe_image(const std::string& path);
// The same check on bytes in memory (the fuzz target's entry point beside decode_image).
ImageInfo probe_image(const uint8_t* bytes, size_t size, const std::string& name);

// Writes PNG or JPEG (quality 1-100) atomically (temp file, rename); throws DataError.
void save_png(const Image& image, const std::string& path);
void save_jpeg(const Image& image, const std::string& path, int quality = 90);

}  // namespace sepal::data
