// safetensors.cpp: the safetensors loader (header checks, a small schema-directed JSON parser,
// layout validation, F16/BF16 conversion) and the writer (made atomic by atomic_file.h). See
// safetensors.h for the rules.
#include "checkpoint/safetensors.h"

#include "checkpoint/atomic_file.h"
#include "checkpoint/text.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <string_view>
#include <unordered_set>

#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal::checkpoint {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this loader assumes a little-endian host");

namespace {

constexpr std::string_view kMetadataKey = "__metadata__";
constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// ---------------------------------------------------------------------------------------------
// Text helpers for error messages.


std::string hex_byte(uint8_t c) {
  const char* digits = "0123456789ABCDEF";
  return std::string("0x") + digits[c >> 4] + digits[c & 15];
}


std::string offsets_str(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// ---------------------------------------------------------------------------------------------
// dtypes

enum class Src { F32, F16, BF16, F64, I64, U8, BOOL };

struct SrcDType {
  std::string_view name;
  Src src;
  uint64_t itemsize;
  DType out;
};

constexpr SrcDType kLoadable[] = {
    {"F32", Src::F32, 4, DType::Float32}, {"F16", Src::F16, 2, DType::Float32},
    {"BF16", Src::BF16, 2, DType::Float32}, {"F64", Src::F64, 8, DType::Float64},
    {"I64", Src::I64, 8, DType::Int64},     {"U8", Src::U8, 1, DType::UInt8},
    {"BOOL", Src::BOOL, 1, DType::Bool},
};

// safetensors dtypes that exist but that sepal has no tensor type for.
constexpr std::string_view kKnownUnsupported[] = {
    "I8", "I16", "U16", "I32", "U32", "U64", "F8_E5M2", "F8_E4M3", "F8_E8M0",
    "F4", "F6_E2M3", "F6_E3M2", "C64"};

const char* safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::UInt8: return "U8";
    case DType::Bool: return "BOOL";
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// The header: a schema-directed JSON parser. The document is an object whose values are tensor
// entries (objects of a string and integer arrays) or the metadata object (of strings), so the
// parser has one function per level and never recurses; any other nesting is a syntax error.

struct Entry {
  std::string name;
  const SrcDType* dtype = nullptr;
  Shape shape;
  uint64_t begin = 0, end = 0;
  uint64_t nbytes = 0;
};

class HeaderParser {
 public:
  HeaderParser(const uint8_t* text, size_t size, const std::string& source)
      : p_(text), n_(size), source_(source) {}

  void parse(std::vector<Entry>* entries, std::map<std::string, std::string>* metadata) {
    if (n_ == 0) fail("header is empty; expected a JSON object");
    size_t bad = utf8_error_at(p_, n_);
    if (bad != n_)
      fail("header is not valid UTF-8 (byte " + hex_byte(p_[bad]) + " at header byte " +
           std::to_string(bad) + ")");
    if (p_[0] != '{')
      fail("header does not start with '{' (found " + describe(0) +
           "); is this a safetensors file?");
    pos_ = 1;
    std::unordered_set<std::string> names;
    bool have_metadata = false;
    std::string last_key;
    ws();
    if (peek_is('}')) {
      ++pos_;
    } else {
      for (;;) {
        ws();
        std::string key = string("a tensor name");
        last_key = key;
        ws();
        expect(':', "after the name " + quote_name(key));
        ws();
        if (key == kMetadataKey) {
          if (have_metadata) fail("\"__metadata__\" appears twice in the header");
          have_metadata = true;
          metadata_object(metadata);
        } else {
          if (!names.insert(key).second)
            fail("tensor " + quote_name(key) + " appears twice in the header");
          entries->emplace_back();
          entries->back().name = std::move(key);
          tensor_entry(&entries->back());
        }
        ws();
        if (peek_is(',')) { ++pos_; continue; }
        if (peek_is('}')) { ++pos_; break; }
        syntax("expected ',' or '}' after the value of " + quote_name(last_key));
      }
    }
    ws();  // safetensors pads the header with spaces
    if (pos_ != n_)
      syntax("unexpected " + describe(pos_) + " after the header object (only whitespace may follow)");
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& source_;
  std::string tensor_;  // the entry being parsed, for messages

  [[noreturn]] void fail(const std::string& what) const { throw IOError(source_ + ": " + what); }
  std::string where() const { return tensor_.empty() ? "" : "tensor " + quote_name(tensor_) + ": "; }
  [[noreturn]] void syntax(const std::string& what) const {
    fail(where() + "header is not valid JSON: " + what + " at header byte " + std::to_string(pos_));
  }
  [[noreturn]] void schema(const std::string& what) const { fail(where() + what); }

  std::string describe(size_t at) const {
    if (at >= n_) return "the end of the header";
    uint8_t c = p_[at];
    if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
    return "byte " + hex_byte(c);
  }
  bool peek_is(char c) const { return pos_ < n_ && p_[pos_] == static_cast<uint8_t>(c); }
  void ws() {
    while (pos_ < n_ && (p_[pos_] == ' ' || p_[pos_] == '\t' || p_[pos_] == '\n' || p_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c, const std::string& context) {
    if (!peek_is(c)) syntax(std::string("expected '") + c + "' " + context + ", found " + describe(pos_));
    ++pos_;
  }

  static void append_utf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xE0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t hex4() {
    if (n_ - pos_ < 4) {
      pos_ = n_;
      syntax("truncated \\u escape");
    }
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      uint8_t c = p_[pos_];
      uint32_t d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else syntax("bad hex digit " + describe(pos_) + " in a \\u escape");
      v = (v << 4) | d;
      ++pos_;
    }
    return v;
  }

  // A JSON string; the header is already known to be valid UTF-8.
  std::string string(const char* what) {
    if (!peek_is('"')) syntax(std::string("expected ") + what + " (a string), found " + describe(pos_));
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ >= n_) syntax("unterminated string");
      uint8_t c = p_[pos_];
      if (c == '"') { ++pos_; return out; }
      if (c < 0x20) syntax("unescaped control character " + hex_byte(c) + " in a string");
      if (c != '\\') { out += static_cast<char>(c); ++pos_; continue; }
      ++pos_;
      if (pos_ >= n_) syntax("unterminated escape");
      char e = static_cast<char>(p_[pos_]);
      size_t escape_at = pos_ - 1;
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            pos_ = escape_at;
            syntax("unpaired low surrogate in a \\u escape");
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (n_ - pos_ < 2 || p_[pos_] != '\\' || p_[pos_ + 1] != 'u') {
              pos_ = escape_at;
              syntax("high surrogate not followed by a \\u low surrogate");
            }
            pos_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) {
              pos_ = escape_at;
              syntax("high surrogate not followed by a low surrogate");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(&out, cp);
          break;
        }
        default:
          pos_ = escape_at;
          syntax("bad escape '\\" + std::string(1, e) + "' in a string");
      }
    }
  }

  uint64_t integer(const std::string& field) {
    if (peek_is('-'))
      schema("\"" + field + "\" holds a negative number at header byte " + std::to_string(pos_) +
             "; only non-negative integers are allowed");
    if (pos_ >= n_ || p_[pos_] < '0' || p_[pos_] > '9')
      schema("\"" + field + "\" must hold non-negative integers, found " + describe(pos_) +
             " at header byte " + std::to_string(pos_));
    size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < n_ && p_[pos_] >= '0' && p_[pos_] <= '9') {
      uint64_t d = p_[pos_] - '0';
      if (v > (std::numeric_limits<uint64_t>::max() - d) / 10)
        schema("\"" + field + "\" holds a number too large for 64 bits at header byte " +
               std::to_string(start));
      v = v * 10 + d;
      ++pos_;
    }
    if (p_[start] == '0' && pos_ - start > 1) {
      pos_ = start;
      syntax("number with a leading zero");
    }
    if (peek_is('.') || peek_is('e') || peek_is('E'))
      schema("\"" + field + "\" holds a number that is not an integer at header byte " +
             std::to_string(start));
    return v;
  }

  // [n, n, ...] with at most max_count numbers.
  std::vector<uint64_t> integer_array(const std::string& field, size_t max_count) {
    if (!peek_is('['))
      schema("\"" + field + "\" must be an array of non-negative integers, found " +
             describe(pos_) + " at header byte " + std::to_string(pos_));
    ++pos_;
    std::vector<uint64_t> out;
    ws();
    if (peek_is(']')) { ++pos_; return out; }
    for (;;) {
      ws();
      if (out.size() == max_count)
        schema("\"" + field + "\" has more than " + std::to_string(max_count) + " numbers");
      out.push_back(integer(field));
      ws();
      if (peek_is(',')) { ++pos_; continue; }
      if (peek_is(']')) { ++pos_; return out; }
      syntax("expected ',' or ']' in \"" + field + "\", found " + describe(pos_));
    }
  }

  void tensor_entry(Entry* e) {
    tensor_ = e->name;
    if (!peek_is('{'))
      schema("expected an object with dtype, shape and data_offsets, found " + describe(pos_) +
             " at header byte " + std::to_string(pos_));
    ++pos_;
    bool have_dtype = false, have_shape = false, have_offsets = false;
    ws();
    if (peek_is('}')) {
      ++pos_;
    } else {
      for (;;) {
        ws();
        std::string key = string("a field name");
        ws();
        expect(':', "after the field name " + quote_name(key));
        ws();
        if (key == "dtype") {
          if (have_dtype) schema("field \"dtype\" appears twice");
          have_dtype = true;
          std::string name = string("the dtype");
          e->dtype = lookup_dtype(name);
        } else if (key == "shape") {
          if (have_shape) schema("field \"shape\" appears twice");
          have_shape = true;
          std::vector<uint64_t> dims = integer_array("shape", kSafetensorsMaxDims);
          for (uint64_t d : dims) {
            if (d > kInt64Max) schema("dimension " + std::to_string(d) + " in \"shape\" is too large");
            e->shape.push_back(static_cast<int64_t>(d));
          }
        } else if (key == "data_offsets") {
          if (have_offsets) schema("field \"data_offsets\" appears twice");
          have_offsets = true;
          std::vector<uint64_t> offsets = integer_array("data_offsets", 2);
          if (offsets.size() != 2)
            schema("\"data_offsets\" must be [begin, end], got " + std::to_string(offsets.size()) +
                   " numbers");
          e->begin = offsets[0];
          e->end = offsets[1];
        } else {
          schema("unknown field " + quote_name(key) + " (expected dtype, shape and data_offsets)");
        }
        ws();
        if (peek_is(',')) { ++pos_; continue; }
        if (peek_is('}')) { ++pos_; break; }
        syntax("expected ',' or '}' in the entry, found " + describe(pos_));
      }
    }
    if (!have_dtype) schema("missing field \"dtype\"");
    if (!have_shape) schema("missing field \"shape\"");
    if (!have_offsets) schema("missing field \"data_offsets\"");
    tensor_.clear();
  }

  const SrcDType* lookup_dtype(const std::string& name) const {
    for (const SrcDType& d : kLoadable)
      if (d.name == name) return &d;
    for (std::string_view u : kKnownUnsupported)
      if (u == name)
        schema("dtype " + name +
               " is not supported (sepal loads F32, F16, BF16, F64, I64, U8 and BOOL)");
    schema("unknown dtype " + quote_name(name));
  }

  void metadata_object(std::map<std::string, std::string>* metadata) {
    if (!peek_is('{'))
      fail("\"__metadata__\" must be an object of strings, found " + describe(pos_) +
           " at header byte " + std::to_string(pos_));
    ++pos_;
    ws();
    if (peek_is('}')) { ++pos_; return; }
    for (;;) {
      ws();
      std::string key = string("a metadata key");
      ws();
      expect(':', "after the metadata key " + quote_name(key));
      ws();
      if (!peek_is('"'))
        fail("\"__metadata__\": the value of " + quote_name(key) + " must be a string, found " +
             describe(pos_) + " at header byte " + std::to_string(pos_));
      std::string value = string("a metadata value");
      if (!metadata->emplace(key, std::move(value)).second)
        fail("\"__metadata__\": key " + quote_name(key) + " appears twice");
      ws();
      if (peek_is(',')) { ++pos_; continue; }
      if (peek_is('}')) { ++pos_; return; }
      syntax("expected ',' or '}' in \"__metadata__\", found " + describe(pos_));
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Layout validation: sizes with overflow checks, offsets in range, exact coverage of the buffer.

void validate(std::vector<Entry>* entries, uint64_t buffer_size, const std::string& source) {
  auto fail = [&](const Entry& e, const std::string& what) {
    throw IOError(source + ": tensor " + quote_name(e.name) + ": " + what);
  };
  for (Entry& e : *entries) {
    // numel with overflow checks. The product of the non-zero dims is checked, not just numel:
    // contiguous strides are computed from it, so it must fit in int64 even when a zero dim
    // makes numel 0 (safetensors' own left-to-right checked product accepts [0, 2^62, 2^62]).
    uint64_t nonzero = 1;
    bool has_zero = false;
    for (int64_t d64 : e.shape) {
      auto d = static_cast<uint64_t>(d64);
      if (d == 0) { has_zero = true; continue; }
      if (nonzero > kInt64Max / d)
        fail(e, "shape " + shape_str(e.shape) + " has too many elements (the count overflows int64)");
      nonzero *= d;
    }
    const uint64_t numel = has_zero ? 0 : nonzero;
    if (numel > kInt64Max / e.dtype->itemsize)
      fail(e, std::string(e.dtype->name) + " " + shape_str(e.shape) +
                  " needs more bytes than fit in int64 (size overflow)");
    e.nbytes = numel * e.dtype->itemsize;
    if (e.begin > e.end)
      fail(e, "data_offsets " + offsets_str(e.begin, e.end) + " are reversed (begin > end)");
    if (e.end - e.begin != e.nbytes)
      fail(e, "data_offsets " + offsets_str(e.begin, e.end) + " hold " +
                  std::to_string(e.end - e.begin) + " bytes but " + std::string(e.dtype->name) +
                  " " + shape_str(e.shape) + " needs " + std::to_string(e.nbytes));
    if (e.end > buffer_size)
      fail(e, "data_offsets " + offsets_str(e.begin, e.end) + " run past the end of the data buffer (" +
                  std::to_string(buffer_size) + " bytes; file truncated?)");
  }
  // Sorted by (begin, end), the ranges must tile [0, buffer_size) exactly.
  std::vector<const Entry*> order;
  order.reserve(entries->size());
  for (const Entry& e : *entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t cursor = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : order) {
    if (e->begin < cursor)
      throw IOError(source + ": tensors " + quote_name(prev->name) + " (data_offsets " +
                    offsets_str(prev->begin, prev->end) + ") and " + quote_name(e->name) +
                    " (data_offsets " + offsets_str(e->begin, e->end) + ") overlap");
    if (e->begin > cursor)
      throw IOError(source + ": bytes [" + std::to_string(cursor) + ", " + std::to_string(e->begin) +
                    ") of the data buffer belong to no tensor (a hole before tensor " +
                    quote_name(e->name) + ")");
    cursor = e->end;
    prev = e;
  }
  if (cursor != buffer_size)
    throw IOError(source + ": " + std::to_string(buffer_size - cursor) +
                  " trailing bytes after the last tensor's data (the tensors cover " +
                  std::to_string(cursor) + " of the " + std::to_string(buffer_size) +
                  " data bytes)");
}

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
          throw IOError(source + ": tensor " + quote_name(e.name) + ": BOOL element " + std::to_string(i) +
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

  std::vector<uint8_t> header(static_cast<size_t>(header_len));
  if (header_len > 0) read_at(8, header.data(), header.size());
  std::vector<Entry> entries;
  SafetensorsFile file;
  HeaderParser(header.data(), header.size(), source).parse(&entries, &file.metadata);
  header = {};

  const uint64_t data_start = 8 + header_len;
  validate(&entries, total_size - data_start, source);
  for (const Entry& e : entries) {
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

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<uint8_t>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          const char* digits = "0123456789abcdef";
          out += "\\u00";
          out += digits[c >> 4];
          out += digits[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

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
      if (!valid_utf8(k)) fail("metadata key " + quote_name(k) + " is not valid UTF-8");
      if (!valid_utf8(v)) fail("the metadata value of " + quote_name(k) + " is not valid UTF-8");
      if (!first) h += ',';
      first = false;
      h += json_string(k) + ":" + json_string(v);
    }
    h += "}";
    first = false;
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : sd) {
    if (name == kMetadataKey) fail("a tensor may not be named \"__metadata__\"");
    if (!valid_utf8(name)) fail("tensor name " + quote_name(name) + " is not valid UTF-8");
    if (!t.defined()) fail("tensor " + quote_name(name) + " is undefined");
    const char* dtype = safetensors_dtype_name(t.dtype());
    if (!dtype) fail("tensor " + quote_name(name) + " has an unsupported dtype");
    uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    if (!first) h += ',';
    first = false;
    h += json_string(name) + ":{\"dtype\":\"" + dtype + "\",\"shape\":[";
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
