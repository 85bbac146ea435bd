// image.cpp: decoding (stb_image) and encoding (stb_image_write) of 8-bit images; see image.h.
// stb is built here with only the formats torchvision's ImageFolder reads and stb decodes (JPEG,
// PNG, BMP, PPM/PGM), so a stray text file is never mistaken for a lenient format such as TGA.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_MAX_DIMENSIONS (1 << 16)
#define STBI_ASSERT(x) ((void)0)
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_image.h>
#include <stb_image_write.h>
#pragma GCC diagnostic pop

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>

#include "data/image.h"

namespace sepal::data {

namespace {

constexpr uint64_t kMaxPixels = 178956970;         // PIL's DecompressionBombError threshold
constexpr uint64_t kMaxFileBytes = uint64_t(1) << 31;

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

[[noreturn]] void fail(const std::string& name, const std::string& reason) {
  throw DataError(name + ": " + reason);
}

// What a path that is not a regular file is, for the message.
std::string file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

void check_regular(const std::string& path, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file: " + file_kind(st.st_mode));
}

// Opens an image file for reading without ever blocking. The type is checked with stat() (which
// follows links) before anything is opened: opening a FIFO for reading waits for a writer
// forever, and opening a device can have side effects. The open itself is non-blocking and
// checked again with fstat(), so a file replaced by a FIFO between the two cannot block either.
File open_regular(const std::string& path, uint64_t* size) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  check_regular(path, st);
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  File f(fdopen(fd, "rb"));
  if (!f) {
    int err = errno;
    close(fd);
    fail(path, std::string("cannot open: ") + std::strerror(err));
  }
  if (fstat(fd, &st) != 0) fail(path, std::string("cannot stat: ") + std::strerror(errno));
  check_regular(path, st);  // O_NONBLOCK has no effect on a regular file's reads
  if (st.st_size == 0) fail(path, "empty file (0 bytes)");
  if (static_cast<uint64_t>(st.st_size) > kMaxFileBytes) fail(path, "file too large for an image");
  *size = static_cast<uint64_t>(st.st_size);
  return f;
}

// The formats stb cannot decode get a precise message instead of "unknown image type".
std::string unsupported_format(const uint8_t* b, size_t n) {
  if (n >= 4 && ((b[0] == 'I' && b[1] == 'I' && b[2] == 42 && b[3] == 0) ||
                 (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && b[3] == 42)))
    return "TIFF images are not supported (stb_image decodes JPEG, PNG, BMP, PPM/PGM); convert it";
  if (n >= 12 && std::memcmp(b, "RIFF", 4) == 0 && std::memcmp(b + 8, "WEBP", 4) == 0)
    return "WebP images are not supported (stb_image decodes JPEG, PNG, BMP, PPM/PGM); convert it";
  return "";
}

// stb_image 2.27 reads 16-bit PGM/PPM samples (maxval above 255) in the wrong byte order, and for
// a gray PGM expanded to RGB it converts the buffer as 8-bit and then reads past its end. Such
// files are refused (header checked only: P5 or P6 and a 16-bit maxval) before stb decodes them.
constexpr const char* kPnm16 =
    "16-bit PGM/PPM (maxval above 255) is not supported (stb_image 2.27 decodes it wrongly); "
    "convert it to 8 bits or to PNG";
bool is_pnm(const uint8_t* b, size_t n) { return n >= 2 && b[0] == 'P' && (b[1] == '5' || b[1] == '6'); }

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  std::string s = r ? r : "unknown error";
  if (s == "unknown image type") return "not a recognised image (JPEG, PNG, BMP, PPM/PGM)";
  return "cannot decode (" + s + ")";
}

void check_pixels(const std::string& name, int w, int h) {
  if (w <= 0 || h <= 0) fail(name, "image has no pixels");
  if (static_cast<uint64_t>(w) * static_cast<uint64_t>(h) > kMaxPixels)
    fail(name, std::to_string(w) + "x" + std::to_string(h) + " pixels exceeds the limit of " +
                   std::to_string(kMaxPixels) + " (a possible decompression bomb)");
}

// stb's JPEG decoder fills missing data with gray instead of failing, so truncation is checked
// here: the end-of-image marker (FF D9) must follow the last start-of-scan (FF DA). Inside
// entropy-coded data an FF byte is always followed by 00 or a restart code, so neither marker
// can occur there; an EXIF thumbnail's markers come before the main image's scans.
bool jpeg_truncated(const uint8_t* b, size_t n) {
  size_t last_sos = 0;
  bool has_sos = false;
  for (size_t i = 0; i + 1 < n; ++i)
    if (b[i] == 0xFF && b[i + 1] == 0xDA) last_sos = i, has_sos = true;
  if (!has_sos) return true;
  for (size_t i = last_sos + 2; i + 1 < n; ++i)
    if (b[i] == 0xFF && b[i + 1] == 0xD9) return false;
  return true;
}

// BMP: stb reads missing pixel rows as zeros, so the pixel array must fit in the file. The
// header gives the data offset (bytes 10-13), width, height and bits per pixel (BITMAPINFO).
bool bmp_truncated(const uint8_t* b, size_t n) {
  if (n < 30) return true;
  auto u32 = [&](size_t o) { return uint32_t(b[o]) | uint32_t(b[o + 1]) << 8 | uint32_t(b[o + 2]) << 16 | uint32_t(b[o + 3]) << 24; };
  uint32_t header = u32(14);
  if (header < 40) return false;  // OS/2 headers: leave the checks to stb
  int64_t width = static_cast<int32_t>(u32(18));
  int64_t height = static_cast<int32_t>(u32(22));
  uint32_t bpp = uint32_t(b[28]) | uint32_t(b[29]) << 8;
  uint32_t compression = n >= 34 ? u32(30) : 0;
  if (compression != 0 && compression != 3) return false;  // RLE: size unknown up front
  if (height < 0) height = -height;
  uint64_t row = ((static_cast<uint64_t>(width < 0 ? -width : width) * bpp + 31) / 32) * 4;
  return static_cast<uint64_t>(u32(10)) + row * static_cast<uint64_t>(height) > n;
}

}  // namespace

Image decode_image(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size == 0) fail(name, "empty file (0 bytes)");
  if (size > static_cast<size_t>(INT32_MAX)) fail(name, "file too large for an image");
  std::string unsupported = unsupported_format(bytes, size);
  if (!unsupported.empty()) fail(name, unsupported);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(bytes, static_cast<int>(size), &w, &h, &c)) fail(name, stb_reason());
  check_pixels(name, w, h);
  if (is_pnm(bytes, size) && stbi_is_16_bit_from_memory(bytes, static_cast<int>(size))) fail(name, kPnm16);
  const bool jpeg = size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
  if (jpeg && jpeg_truncated(bytes, size)) fail(name, "truncated JPEG (no end-of-image marker after the last scan)");
  if (size >= 2 && bytes[0] == 'B' && bytes[1] == 'M' && bmp_truncated(bytes, size))
    fail(name, "truncated BMP (the pixel data is shorter than the header says)");
  // 16-bit samples are reduced to 8 bits by stb (the high byte; PIL clamps 16-bit gray instead,
  // see image.h); gray, gray+alpha and RGBA become RGB (gray replicated, alpha dropped as PIL's
  // convert("RGB") does).
  stbi_uc* pixels = stbi_load_from_memory(bytes, static_cast<int>(size), &w, &h, &c, 3);
  if (!pixels) fail(name, stb_reason());
  std::unique_ptr<stbi_uc, void (*)(void*)> owned(pixels, stbi_image_free);
  Image image;
  image.height = h;
  image.width = w;
  image.channels = 3;
  image.pixels.assign(pixels, pixels + static_cast<size_t>(w) * h * 3);
  return image;
}

Image load_image(const std::string& path) {
  uint64_t size = 0;
  File f = open_regular(path, &size);
  std::vector<uint8_t> bytes(size);
  if (std::fread(bytes.data(), 1, size, f.get()) != size)
    fail(path, std::string("read error: ") + (std::ferror(f.get()) ? std::strerror(errno) : "file shrank while reading"));
  return decode_image(bytes.data(), bytes.size(), path);
}

ImageInfo probe_image(const std::string& path) {
  uint64_t size = 0;
  File f = open_regular(path, &size);
  uint8_t head[16] = {};
  size_t got = std::fread(head, 1, sizeof head, f.get());
  std::string unsupported = unsupported_format(head, got);
  if (!unsupported.empty()) fail(path, unsupported);
  std::rewind(f.get());
  ImageInfo info;
  if (!stbi_info_from_file(f.get(), &info.width, &info.height, &info.channels)) fail(path, stb_reason());
  check_pixels(path, info.width, info.height);
  if (is_pnm(head, got) && stbi_is_16_bit_from_file(f.get())) fail(path, kPnm16);
  return info;
}

namespace {

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

void check_writable(const Image& image, const std::string& path) {
  if (image.width <= 0 || image.height <= 0) fail(path, "cannot write an image with no pixels");
  if (image.channels < 1 || image.channels > 4)
    fail(path, "cannot write an image with " + std::to_string(image.channels) + " channels (1-4)");
  if (image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels)
    fail(path, "image buffer holds " + std::to_string(image.pixels.size()) + " bytes, expected " +
                   std::to_string(static_cast<size_t>(image.width) * image.height * image.channels));
}

// Temp file next to the target, then rename: readers never see a half-written image.
void write_atomically(const std::vector<uint8_t>& bytes, const std::string& path) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string tmp = path + ".tmp" + std::to_string(rng() % 1000000000);
  {
    File f(std::fopen(tmp.c_str(), "wb"));
    if (!f) fail(path, std::string("cannot create ") + tmp + ": " + std::strerror(errno));
    bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f.get()) == bytes.size();
    ok = std::fflush(f.get()) == 0 && ok;
    if (!ok) {
      int err = errno;
      std::remove(tmp.c_str());
      fail(path, std::string("write error: ") + std::strerror(err));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    fail(path, std::string("cannot rename the temp file into place: ") + std::strerror(err));
  }
}

}  // namespace

void save_png(const Image& image, const std::string& path) {
  check_writable(image, path);
  std::vector<uint8_t> bytes;
  if (!stbi_write_png_to_func(append_bytes, &bytes, image.width, image.height, image.channels,
                              image.pixels.data(), image.width * image.channels))
    fail(path, "PNG encoding failed");
  write_atomically(bytes, path);
}

void save_jpeg(const Image& image, const std::string& path, int quality) {
  check_writable(image, path);
  if (quality < 1 || quality > 100) fail(path, "JPEG quality " + std::to_string(quality) + " outside 1-100");
  std::vector<uint8_t> bytes;
  if (!stbi_write_jpg_to_func(append_bytes, &bytes, image.width, image.height, image.channels,
                              image.pixels.data(), quality))
    fail(path, "JPEG encoding failed");
  write_atomically(bytes, path);
}

}  // namespace sepal::data
