// safetensors.cpp: the safetensors loader (the length field, then the header and layout checks of
// safetensors_header.h, then the tensor data with the BOOL check and F16/BF16 conversion) and the
// writer (made atomic by atomic_file.h). See safetensors.h for the rules.
#include "checkpoint/safetensors.h"

#include "checkpoint/atomic_file.h"
#include "checkpoint/safetensors_header.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string_view>

#include "io/json.h"
#include "io/utf8.h"
#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal::checkpoint {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this loader assumes a little-endian host");

namespace {

using safetensors::Entry;
using safetensors::hex_byte;
using safetensors::Src;

constexpr std::string_view kMetadataKey = "__metadata__";

// ---------------------------------------------------------------------------------------------
// Decoding, from memory or from a file: `read_at(offset, dst, n)` copies n bytes at an absolute
// offset into dst, or throws.

using ReadAt = std::function<void(uint64_t offset, uint8_t* dst, size_t n)>;

void check_header_length(uint64_t header_len, uint64_t total_size, const std::string& source) {
  if (header_len > kSafetensorsMaxHeader)
    throw IOError(source + ": header length " + std::to_string(header_len) + " exceeds the " +
                  std::to_string(kSafetensorsMaxHeader) + "-byte limit; not a safetensors file?");
  if (header_len > total_size - 8)
    throw IOError(source + ": header length " + std::to_string(header_len) + " exceeds the " +
                  std::to_string(total_size - 8) +
                  " bytes that follow the length field (file truncated?)");
}

// Fills `t` (CPU, contiguous, e's shape and output dtype) from e's bytes at `data_start`.
void fill_tensor(const Entry& e, const Tensor& t, uint64_t data_start, const ReadAt& read_at,
                 const std::string& source) {
  if (e.nbytes == 0) return;
  auto* dst = static_cast<uint8_t*>(t.raw_data());
  const size_t n = static_cast<size_t>(e.nbytes);
  const size_t numel = static_cast<size_t>(t.numel());
  switch (e.dtype->src) {
    case Src::F32:
    case Src::F64:
    case Src::I64:
    case Src::U8:
      read_at(data_start + e.begin, dst, n);
      return;
    case Src::BOOL: {
      read_at(data_start + e.begin, dst, n);  // checked as bytes before anyone reads it as bool
      for (size_t i = 0; i < n; ++i)
        if (dst[i] > 1)
          throw IOError(source + ": tensor " + io::quote_name(e.name) + ": BOOL element " + std::to_string(i) +
                        " is byte " + hex_byte(dst[i]) + ", not 0 or 1");
      return;
    }
    case Src::F16:
    case Src::BF16: {
      std::vector<uint8_t> bytes(n);
      read_at(data_start + e.begin, bytes.data(), n);
      auto* out = static_cast<float*>(t.raw_data());
      bool half = e.dtype->src == Src::F16;
      for (size_t i = 0; i < numel; ++i) {
        uint16_t bits;
        std::memcpy(&bits, bytes.data() + 2 * i, 2);
        out[i] = half ? f16_bits_to_float(bits) : bf16_bits_to_float(bits);
      }
      return;
    }
  }
}

SafetensorsFile decode(uint64_t total_size, const ReadAt& read_at, const std::string& source) {
  if (total_size < 8)
    throw IOError(source + ": file is " + std::to_string(total_size) +
                  " bytes, too short for the 8-byte header length; not a safetensors file?");
  uint8_t len_bytes[8];
  read_at(0, len_bytes, 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  check_header_length(header_len, total_size, source);

  std::string header_text(static_cast<size_t>(header_len), '\0');
  if (header_len > 0) read_at(8, reinterpret_cast<uint8_t*>(header_text.data()), header_text.size());
  safetensors::Header header = safetensors::parse_header(header_text, source);
  header_text = {};

  const uint64_t data_start = 8 + header_len;
  safetensors::validate_layout(&header.entries, total_size - data_start, source);
  SafetensorsFile file;
  file.metadata = std::move(header.metadata);
  for (const Entry& e : header.entries) {
    Tensor t = empty(e.shape, TensorOptions(e.dtype->out));
    fill_tensor(e, t, data_start, read_at, source);
    file.tensors.insert(e.name, t);
  }
  return file;
}

std::string os_reason(int err) { return std::strerror(err); }

// Closes a file descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// ---------------------------------------------------------------------------------------------
// Writing

// The padded header, after checking every name, tensor and metadata string. `context` starts
// error messages ("serialize_safetensors" or "save_safetensors: <path>").
std::string build_header(const nn::StateDict& sd, const std::map<std::string, std::string>& metadata,
                         const std::string& context) {
  auto fail = [&](const std::string& what) { throw IOError(context + ": " + what); };
  std::string h = "{";
  bool first = true;
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    for (const auto& [k, v] : metadata) {
      if (!io::is_valid_utf8(k)) fail("metadata key " + io::quote_name(k) + " is not valid UTF-8");
      if (!io::is_valid_utf8(v)) fail("the metadata value of " + io::quote_name(k) + " is not valid UTF-8");
      if (!first) h += ',';
      first = false;
      io::write_json_string(h, k);
      h += ':';
      io::write_json_string(h, v);
    }
    h += "}";
    first = false;
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : sd) {
    if (name == kMetadataKey) fail("a tensor may not be named \"__metadata__\"");
    if (!io::is_valid_utf8(name)) fail("tensor name " + io::quote_name(name) + " is not valid UTF-8");
    if (!t.defined()) fail("tensor " + io::quote_name(name) + " is undefined");
    const char* dtype = safetensors::dtype_name(t.dtype());
    if (!dtype) fail("tensor " + io::quote_name(name) + " has an unsupported dtype");
    uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    if (!first) h += ',';
    first = false;
    io::write_json_string(h, name);
    h += std::string(":{\"dtype\":\"") + dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape().size(); ++i) {
      if (i > 0) h += ',';
      h += std::to_string(t.shape()[i]);
    }
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  if (h.size() > kSafetensorsMaxHeader)
    fail("the header would be " + std::to_string(h.size()) + " bytes, over the " +
         std::to_string(kSafetensorsMaxHeader) + "-byte limit readers accept");
  return h;
}

// Calls sink(ptr, n) with the 8-byte length, the header (from build_header), then each tensor's
// bytes (CPU, contiguous) in the state dict's order; one tensor is copied to the CPU at a time.
void emit(const nn::StateDict& sd, const std::string& header,
          const std::function<void(const uint8_t*, size_t)>& sink) {
  uint8_t len_bytes[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<uint8_t>(n >> (8 * i));
  sink(len_bytes, 8);
  sink(reinterpret_cast<const uint8_t*>(header.data()), header.size());
  for (const auto& [name, t] : sd) {
    if (t.numel() == 0) continue;
    Tensor host = raw::contiguous(raw::to_device(t, Device::cpu()));
    sink(static_cast<const uint8_t*>(host.raw_data()),
         static_cast<size_t>(host.numel()) * host.element_size());
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API

float f16_bits_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0 && mant == 0) {
    bits = sign;  // +-0
  } else if (exp == 0) {
    // Subnormal: mant * 2^-24. Normalise so the leading 1 lands on bit 10: 1.m * 2^(-14-shift).
    uint32_t shift = 0;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      ++shift;
    }
    bits = sign | ((127u - 14u - shift) << 23) | ((mant & 0x3FFu) << 13);
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf, or NaN keeping its payload
  } else {
    bits = sign | ((exp - 15u + 127u) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_bits_to_float(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

SafetensorsFile parse_safetensors_file(const uint8_t* data, size_t size,
                                       const std::string& source_name) {
  ReadAt read_at = [&](uint64_t offset, uint8_t* dst, size_t n) {
    // decode() only asks for ranges it has checked against `size`; guard anyway.
    if (offset > size || n > size - offset)
      throw IOError(source_name + ": internal error: read past the end of the input");
    if (n > 0) std::memcpy(dst, data + offset, n);
  };
  return decode(size, read_at, source_name);
}

nn::StateDict parse_safetensors(const uint8_t* data, size_t size, const std::string& source_name) {
  return parse_safetensors_file(data, size, source_name).tensors;
}

SafetensorsFile load_safetensors_file(const std::string& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) throw IOError(path + ": cannot open: " + os_reason(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw IOError(path + ": cannot stat: " + os_reason(errno));
  if (!S_ISREG(st.st_mode)) throw IOError(path + ": not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  ReadAt read_at = [&](uint64_t offset, uint8_t* dst, size_t n) {
    while (n > 0) {
      size_t chunk = std::min<size_t>(n, size_t{1} << 30);
      ssize_t got = ::pread(f.fd, dst, chunk, static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        throw IOError(path + ": read failed at byte " + std::to_string(offset) + ": " +
                      os_reason(errno));
      }
      if (got == 0)
        throw IOError(path + ": file ended at byte " + std::to_string(offset) + " of " +
                      std::to_string(size) + " (truncated while being read?)");
      dst += got;
      n -= static_cast<size_t>(got);
      offset += static_cast<uint64_t>(got);
    }
  };
  return decode(size, read_at, path);
}

nn::StateDict load_safetensors(const std::string& path) { return load_safetensors_file(path).tensors; }

std::vector<uint8_t> serialize_safetensors(const nn::StateDict& sd,
                                           const std::map<std::string, std::string>& metadata) {
  std::vector<uint8_t> out;
  std::string header = build_header(sd, metadata, "serialize_safetensors");
  emit(sd, header, [&](const uint8_t* p, size_t n) { out.insert(out.end(), p, p + n); });
  return out;
}

void save_safetensors(const nn::StateDict& sd, const std::string& path,
                      const std::map<std::string, std::string>& metadata) {
  const std::string context = "save_safetensors: " + path;
  // Check everything that can be checked before touching the disk.
  const std::string header = build_header(sd, metadata, context);
  write_file_atomically(path, [&](const ByteSink& sink) { emit(sd, header, sink); }, context);
}

}  // namespace sepal::checkpoint
