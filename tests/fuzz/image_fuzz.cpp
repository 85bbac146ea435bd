// image_fuzz.cpp: libFuzzer target for the whole image decode path (scripts/fuzz.sh builds it
// with clang under AddressSanitizer and UndefinedBehaviorSanitizer): arbitrary bytes go through
// probe_image and decode_image exactly as ImageFolder's scan and load_image use them, so every
// format sepal reads is reached: JPEG (libjpeg-turbo), PNG, BMP, PPM/PGM (stb_image), and the
// refusals in front of them (TIFF/WebP, 16-bit PNM, truncation checks, the pixel limit). Seeds:
// tests/fuzz/image_corpus (tests/fuzz/make_image_corpus.py). Every input must either decode to a
// consistent 8-bit RGB image or throw DataError; a crash, a sanitizer report, another exception,
// or a decoded size that disagrees with the probe is a finding.
//
// Debian's libjpeg-turbo itself is not instrumented (ASan does not see its own memory accesses);
// it is fuzzed upstream (OSS-Fuzz). sepal's code around it and stb_image are.
#include <cstdint>
#include <cstdlib>

#include "data/image.h"

namespace {

// Images up to the real limit (178,956,970 pixels) are valid inputs, but a few header bytes can
// declare one: each would cost a gigabyte and seconds. Like libjpeg-turbo's own fuzz targets, only
// images up to about a million pixels are decoded; larger ones are probed only.
constexpr uint64_t kFuzzMaxPixels = uint64_t(1) << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sepal::data;
  bool probed = false;
  ImageInfo info;
  try {
    info = probe_image(data, size, "fuzz input");
    probed = true;
    if (info.channels < 1 || info.channels > 4 || info.width <= 0 || info.height <= 0) std::abort();
    if (static_cast<uint64_t>(info.width) * static_cast<uint64_t>(info.height) > kFuzzMaxPixels) return 0;
  } catch (const DataError&) {
  }
  try {
    Image image = decode_image(data, size, "fuzz input");
    if (image.channels != 3 || image.width <= 0 || image.height <= 0 ||
        image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
      std::abort();
    if (probed && (image.width != info.width || image.height != info.height)) std::abort();
  } catch (const DataError&) {
  }
  return 0;
}
