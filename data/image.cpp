// image.cpp: decoding (JPEG with libjpeg-turbo, the rest with stb_image) and encoding
// (stb_image_write) of 8-bit images; see image.h.
// JPEG goes to libjpeg-turbo (Debian's libjpeg62-turbo, hardened and fuzzed upstream; the
// library PIL and so torchvision decode with, with the same defaults, so pixels match PIL's
// exactly). stb_image 2.27 (Debian 12) writes past its Huffman tables on a hostile DHT segment
// (counts summing to more than 256; fixed upstream in 2.28), so its JPEG decoder is not even
// compiled in. stb is built with only the other formats torchvision's ImageFolder reads and stb
// decodes (PNG, BMP, PPM/PGM), so a stray text file is never mistaken for a lenient format such
// as TGA.
#define STB_IMAGE_IMPLEMENTATION
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

#include <jpeglib.h>
#include <jerror.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
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

// stb_image 2.27 parses the PGM/PPM header's width, height and maxval into an int without an
// overflow check (signed overflow, undefined behaviour; found by tests/fuzz/image_fuzz.cpp): the
// header is walked here exactly as stb walks it (whitespace, # comments to the end of the line,
// digits) and a number over 2^24 is refused before stb reads it (a corrupt file). false: refuse. complete: b holds
// the whole file (else a header running past its end is refused too).
constexpr const char* kPnmNumber = "cannot decode (PGM/PPM header: a number out of range)";
bool pnm_numbers_fit(const uint8_t* b, size_t n, bool complete = true) {
  if (!is_pnm(b, n)) return true;
  size_t at = 2;
  auto space = [](uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  for (int number = 0; number < 3; ++number) {
    for (;;) {
      while (at < n && space(b[at])) ++at;
      if (at >= n || b[at] != '#') break;
      while (at < n && b[at] != '\n' && b[at] != '\r') ++at;
    }
    uint64_t value = 0;
    while (at < n && b[at] >= '0' && b[at] <= '9') {
      value = value * 10 + (b[at++] - '0');
      if (value > (uint64_t(1) << 24)) return false;
    }
  }
  return complete || at < n;
}

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

// PNG: stb_image 2.27 grows its compressed-data buffer to each IDAT chunk's declared length before
// reading it, so a chunk header claiming a gigabyte in a 100-byte file makes it allocate a
// gigabyte (found by tests/fuzz/image_fuzz.cpp). Every chunk must fit in the file, up to IEND.
bool png_chunks_fit(const uint8_t* b, size_t n) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (n < 8 || std::memcmp(b, signature, 8) != 0) return true;  // not a PNG: stb says so
  size_t at = 8;
  while (at + 12 <= n) {
    uint64_t length = uint64_t(b[at]) << 24 | uint64_t(b[at + 1]) << 16 | uint64_t(b[at + 2]) << 8 | b[at + 3];
    if (length > n - at - 12) return false;
    if (std::memcmp(b + at + 4, "IEND", 4) == 0) return true;
    at += 12 + static_cast<size_t>(length);
  }
  return false;
}

bool is_jpeg(const uint8_t* b, size_t n) { return n >= 2 && b[0] == 0xFF && b[1] == 0xD8; }

// libjpeg-turbo behind setjmp/longjmp: its error_exit would otherwise call exit(). Everything
// between setjmp and a longjmp is plain C data (no destructors are skipped); what must survive
// the jump lives in JpegRun, which the caller owns.
struct JpegErrorManager {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void sepal_jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings (corrupt data that libjpeg decodes past, extraneous bytes) are ignored, as PIL does;
// nothing goes to stderr. A premature end of the data is an error, as in PIL ("image file is
// truncated"), not a picture filled with gray.
extern "C" void sepal_jpeg_emit_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) sepal_jpeg_error_exit(cinfo);
}

// A progressive JPEG can hold any number of scans, each a pass over the whole image: a few
// kilobytes could keep a decoder busy for minutes (libjpeg-turbo's advice: limit the scans).
constexpr int kMaxJpegScans = 500;
extern "C" void sepal_jpeg_progress(j_common_ptr cinfo) {
  if (cinfo->is_decompressor && reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number > kMaxJpegScans) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof err->message, "more than %d progressive scans", kMaxJpegScans);
    std::longjmp(err->jump, 1);
  }
}

struct JpegRun {
  int width = 0, height = 0, components = 0;
  bool too_many_pixels = false;
  unsigned char* pixels = nullptr;  // malloc'd RGB, height * width * 3 (decode only)
  unsigned char* row = nullptr;     // malloc'd CMYK scanline
  char message[JMSG_LENGTH_MAX] = {};
  ~JpegRun() {
    std::free(pixels);
    std::free(row);
  }
};

// PIL's CMYK -> RGB (Pillow 9.4, Convert.c cmyk2rgb) on the samples as libjpeg returns them. PIL
// reads every CMYK JPEG inverted (rawmode "CMYK;I", Adobe's convention), so its c is 255 - raw.
inline uint8_t cmyk_channel(int raw_c, int raw_k) {
  int c = 255 - raw_c, nk = raw_k;  // nk = 255 - k with k = 255 - raw_k
  int t = c * nk + 128;
  int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Reads the header from memory (bytes) or a file (file), and with decode the pixels as 8-bit
// RGB: gray is replicated and CMYK/YCCK converted as PIL's convert("RGB") does. libjpeg's
// defaults are kept (JDCT_ISLOW, fancy upsampling, block smoothing), which are PIL's. Returns
// false with run->message on an error; an image over kMaxPixels is not decoded
// (run->too_many_pixels).
bool jpeg_run(const uint8_t* bytes, size_t size, FILE* file, bool decode, JpegRun* run) {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  jpeg_progress_mgr progress;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = sepal_jpeg_error_exit;
  err.mgr.emit_message = sepal_jpeg_emit_message;
  err.message[0] = 0;
  if (setjmp(err.jump)) {
    std::memcpy(run->message, err.message, sizeof run->message);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  progress.progress_monitor = sepal_jpeg_progress;
  cinfo.progress = &progress;
  if (file)
    jpeg_stdio_src(&cinfo, file);
  else
    jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  run->width = static_cast<int>(cinfo.image_width);
  run->height = static_cast<int>(cinfo.image_height);
  run->components = cinfo.num_components;
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  if (static_cast<uint64_t>(cinfo.image_width) * cinfo.image_height > kMaxPixels) run->too_many_pixels = true;
  if (!decode || run->too_many_pixels || run->width <= 0 || run->height <= 0) {
    jpeg_destroy_decompress(&cinfo);
    return true;
  }
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t w = cinfo.output_width, h = cinfo.output_height;
  run->width = static_cast<int>(w);
  run->height = static_cast<int>(h);
  run->pixels = static_cast<unsigned char*>(std::malloc(w * h * 3));
  if (cmyk) run->row = static_cast<unsigned char*>(std::malloc(w * 4));
  if (!run->pixels || (cmyk && !run->row)) {
    std::snprintf(run->message, sizeof run->message, "out of memory for %zux%zu pixels", w, h);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  while (cinfo.output_scanline < h) {
    unsigned char* out = run->pixels + static_cast<size_t>(cinfo.output_scanline) * w * 3;
    JSAMPROW row = cmyk ? run->row : out;
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
      std::snprintf(run->message, sizeof run->message, "no progress reading the scanlines");
      jpeg_destroy_decompress(&cinfo);
      return false;
    }
    if (cmyk)
      for (size_t x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) out[x * 3 + c] = cmyk_channel(run->row[x * 4 + c], run->row[x * 4 + 3]);
  }
  // Not jpeg_finish_decompress: the pixels are complete; what follows the last scan is not read.
  jpeg_destroy_decompress(&cinfo);
  return true;
}

std::string jpeg_reason(const JpegRun& run) { return std::string("cannot decode (") + run.message + ")"; }

constexpr const char* kJpegTruncated = "truncated JPEG (no end-of-image marker after the last scan)";

Image decode_jpeg(const uint8_t* bytes, size_t size, const std::string& name) {
  if (jpeg_truncated(bytes, size)) fail(name, kJpegTruncated);
  JpegRun run;
  if (!jpeg_run(bytes, size, nullptr, true, &run)) {
    if (std::strcmp(run.message, "Premature end of JPEG file") == 0) fail(name, kJpegTruncated);
    fail(name, jpeg_reason(run));
  }
  check_pixels(name, run.width, run.height);
  Image image;
  image.height = run.height;
  image.width = run.width;
  image.channels = 3;
  image.pixels.assign(run.pixels, run.pixels + static_cast<size_t>(run.width) * run.height * 3);
  return image;
}

ImageInfo jpeg_info(const uint8_t* bytes, size_t size, FILE* file, const std::string& name) {
  JpegRun run;
  if (!jpeg_run(bytes, size, file, false, &run)) fail(name, jpeg_reason(run));
  check_pixels(name, run.width, run.height);
  // Gray stays 1; color (YCbCr, RGB, CMYK, YCCK) decodes to RGB: 3, never read as RGBA.
  return ImageInfo{run.height, run.width, run.components == 1 ? 1 : 3};
}

}  // namespace

Image decode_image(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size == 0) fail(name, "empty file (0 bytes)");
  if (size > static_cast<size_t>(INT32_MAX)) fail(name, "file too large for an image");
  std::string unsupported = unsupported_format(bytes, size);
  if (!unsupported.empty()) fail(name, unsupported);
  if (is_jpeg(bytes, size)) return decode_jpeg(bytes, size, name);
  if (!pnm_numbers_fit(bytes, size)) fail(name, kPnmNumber);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(bytes, static_cast<int>(size), &w, &h, &c)) fail(name, stb_reason());
  check_pixels(name, w, h);
  if (is_pnm(bytes, size) && stbi_is_16_bit_from_memory(bytes, static_cast<int>(size))) fail(name, kPnm16);
  if (!png_chunks_fit(bytes, size))
    fail(name, "cannot decode (truncated or corrupt PNG: a chunk is longer than the rest of the file)");
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
  if (is_jpeg(head, got)) return jpeg_info(nullptr, 0, f.get(), path);
  if (is_pnm(head, got)) {  // the header, comments included, within its first 64 KB
    std::vector<uint8_t> start(std::min<uint64_t>(size, 65536));
    size_t n = std::fread(start.data(), 1, start.size(), f.get());
    if (!pnm_numbers_fit(start.data(), n, n == size)) fail(path, kPnmNumber);
    std::rewind(f.get());
  }
  ImageInfo info;
  if (!stbi_info_from_file(f.get(), &info.width, &info.height, &info.channels)) fail(path, stb_reason());
  check_pixels(path, info.width, info.height);
  if (is_pnm(head, got) && stbi_is_16_bit_from_file(f.get())) fail(path, kPnm16);
  return info;
}

ImageInfo probe_image(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size == 0) fail(name, "empty file (0 bytes)");
  if (size > static_cast<size_t>(INT32_MAX)) fail(name, "file too large for an image");
  std::string unsupported = unsupported_format(bytes, size);
  if (!unsupported.empty()) fail(name, unsupported);
  if (is_jpeg(bytes, size)) return jpeg_info(bytes, size, nullptr, name);
  if (!pnm_numbers_fit(bytes, size)) fail(name, kPnmNumber);
  ImageInfo info;
  if (!stbi_info_from_memory(bytes, static_cast<int>(size), &info.width, &info.height, &info.channels))
    fail(name, stb_reason());
  check_pixels(name, info.width, info.height);
  if (is_pnm(bytes, size) && stbi_is_16_bit_from_memory(bytes, static_cast<int>(size))) fail(name, kPnm16);
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
