// safetensors_header.cpp: the safetensors header read with the io JSON reader, schema-directed
// (header object -> tensor entry or metadata object -> string or integer array, so a depth bomb
// such as "shape": [[[[...]]]] fails at its second '['), and the layout check of the data
// offsets. See safetensors.h for the rules and safetensors_header.h for the split.
#include "checkpoint/safetensors_header.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "checkpoint/safetensors.h"
#include "io/json_reader.h"
#include "io/utf8.h"
#include "tensor/error.h"

namespace sepal::checkpoint::safetensors {

namespace {

constexpr std::string_view kMetadataKey = "__metadata__";
constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

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

std::string offsets_str(uint64_t begin, uint64_t end) {
  std::string s = "[";  // appended, not "[" + ...: GCC 12 warns (-Wrestrict) on the latter here
  s += std::to_string(begin);
  s += ", ";
  s += std::to_string(end);
  return s + "]";
}

// The reader's reason, in the words the safetensors loader has always used for three string
// errors (the others read the same for every JSON caller).
std::string reason_of(const io::JsonSyntaxError& e) {
  switch (e.kind()) {
    case io::JsonSyntaxError::Kind::ControlCharacter:
      return "unescaped control character " + hex_byte(e.byte()) + " in a string";
    case io::JsonSyntaxError::Kind::BadEscape:
      return "bad escape '\\" + std::string(1, static_cast<char>(e.byte())) + "' in a string";
    case io::JsonSyntaxError::Kind::UnpairedHighSurrogate:
      return "high surrogate not followed by a \\u low surrogate";
    case io::JsonSyntaxError::Kind::Other: break;
  }
  return e.reason();
}

// Walks the header with the JSON reader. Syntax errors (io::JsonSyntaxError) become "header is
// not valid JSON: ... at header byte N"; schema errors are thrown here with their own words.
class HeaderReader {
 public:
  HeaderReader(std::string_view text, const std::string& source) : r_(text), source_(source) {}

  Header read() {
    Header h;
    try {
      r_.begin_object();
      std::unordered_set<std::string> names;
      bool have_metadata = false;
      std::string key, context = "in the header object";
      while (r_.next_member(&key, "a tensor name (a string)", context)) {
        context = "after the value of " + io::quote_name(key);
        if (key == kMetadataKey) {
          if (have_metadata) fail("\"__metadata__\" appears twice in the header");
          have_metadata = true;
          metadata_object(&h.metadata);
        } else {
          if (!names.insert(key).second) fail("tensor " + io::quote_name(key) + " appears twice in the header");
          h.entries.emplace_back();
          h.entries.back().name = std::move(key);
          tensor_entry(&h.entries.back());
        }
      }
      // safetensors pads the header with spaces
      if (!r_.at_end())
        r_.fail("unexpected " + r_.describe_next() + " after the header object (only whitespace may follow)");
    } catch (const io::JsonSyntaxError& e) {
      fail(where() + "header is not valid JSON: " + reason_of(e) + " at header byte " +
           std::to_string(e.offset()));
    }
    return h;
  }

 private:
  io::JsonReader r_;
  const std::string& source_;
  std::string tensor_;  // the entry being read, for messages

  [[noreturn]] void fail(const std::string& what) const { throw IOError(source_ + ": " + what); }
  std::string where() const { return tensor_.empty() ? "" : "tensor " + io::quote_name(tensor_) + ": "; }
  [[noreturn]] void schema(const std::string& what) const { fail(where() + what); }
  // "found 'x' at header byte N", for schema errors at the next value.
  std::string found_here() { return r_.describe_next() + " at header byte " + std::to_string(r_.offset()); }

  uint64_t integer(const std::string& field) {
    const int c = r_.peek();
    if (c == '-')
      schema("\"" + field + "\" holds a negative number at header byte " + std::to_string(r_.offset()) +
             "; only non-negative integers are allowed");
    if (c < '0' || c > '9') schema("\"" + field + "\" must hold non-negative integers, found " + found_here());
    const io::JsonNumber n = r_.read_number();
    if (!n.is_integer())
      schema("\"" + field + "\" holds a number that is not an integer at header byte " +
             std::to_string(n.offset));
    uint64_t v = 0;
    if (!n.to_uint64(&v))
      schema("\"" + field + "\" holds a number too large for 64 bits at header byte " +
             std::to_string(n.offset));
    return v;
  }

  // [n, n, ...] with at most max_count numbers.
  std::vector<uint64_t> integer_array(const std::string& field, size_t max_count) {
    if (r_.peek() != '[')
      schema("\"" + field + "\" must be an array of non-negative integers, found " + found_here());
    r_.begin_array();
    std::vector<uint64_t> out;
    while (r_.next_element("in \"" + field + "\"")) {
      if (out.size() == max_count)
        schema("\"" + field + "\" has more than " + std::to_string(max_count) + " numbers");
      out.push_back(integer(field));
    }
    return out;
  }

  void tensor_entry(Entry* e) {
    tensor_ = e->name;
    if (r_.peek() != '{')
      schema("expected an object with dtype, shape and data_offsets, found " + found_here());
    r_.begin_object();
    bool have_dtype = false, have_shape = false, have_offsets = false;
    std::string key;
    while (r_.next_member(&key, "a field name (a string)", "in the entry")) {
      if (key == "dtype") {
        if (have_dtype) schema("field \"dtype\" appears twice");
        have_dtype = true;
        e->dtype = lookup_dtype(r_.read_string("the dtype (a string)"));
      } else if (key == "shape") {
        if (have_shape) schema("field \"shape\" appears twice");
        have_shape = true;
        for (uint64_t d : integer_array("shape", kSafetensorsMaxDims)) {
          if (d > kInt64Max) schema("dimension " + std::to_string(d) + " in \"shape\" is too large");
          e->shape.push_back(static_cast<int64_t>(d));
        }
      } else if (key == "data_offsets") {
        if (have_offsets) schema("field \"data_offsets\" appears twice");
        have_offsets = true;
        std::vector<uint64_t> offsets = integer_array("data_offsets", 2);
        if (offsets.size() != 2)
          schema("\"data_offsets\" must be [begin, end], got " + std::to_string(offsets.size()) + " numbers");
        e->begin = offsets[0];
        e->end = offsets[1];
      } else {
        schema("unknown field " + io::quote_name(key) + " (expected dtype, shape and data_offsets)");
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
        schema("dtype " + name + " is not supported (sepal loads F32, F16, BF16, F64, I64, U8 and BOOL)");
    schema("unknown dtype " + io::quote_name(name));
  }

  void metadata_object(std::map<std::string, std::string>* metadata) {
    if (r_.peek() != '{') fail("\"__metadata__\" must be an object of strings, found " + found_here());
    r_.begin_object();
    std::string key;
    while (r_.next_member(&key, "a metadata key (a string)", "in \"__metadata__\"")) {
      if (r_.peek() != '"')
        fail("\"__metadata__\": the value of " + io::quote_name(key) + " must be a string, found " +
             found_here());
      std::string value = r_.read_string();
      if (!metadata->emplace(key, std::move(value)).second)
        fail("\"__metadata__\": key " + io::quote_name(key) + " appears twice");
    }
  }
};

}  // namespace

std::string hex_byte(uint8_t c) {
  const char* digits = "0123456789ABCDEF";
  return std::string("0x") + digits[c >> 4] + digits[c & 15];
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::UInt8: return "U8";
    case DType::Bool: return "BOOL";
  }
  return nullptr;
}

Header parse_header(std::string_view text, const std::string& source) {
  auto fail = [&](const std::string& what) { throw IOError(source + ": " + what); };
  if (text.empty()) fail("header is empty; expected a JSON object");
  const size_t bad = io::utf8_error_at(text);
  if (bad != text.size())
    fail("header is not valid UTF-8 (byte " + hex_byte(static_cast<uint8_t>(text[bad])) + " at header byte " +
         std::to_string(bad) + ")");
  if (text[0] != '{')
    fail("header does not start with '{' (found " + io::JsonReader(text).describe_at(0) +
         "); is this a safetensors file?");
  return HeaderReader(text, source).read();
}

void validate_layout(std::vector<Entry>* entries, uint64_t buffer_size, const std::string& source) {
  auto fail = [&](const Entry& e, const std::string& what) {
    throw IOError(source + ": tensor " + io::quote_name(e.name) + ": " + what);
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
      throw IOError(source + ": tensors " + io::quote_name(prev->name) + " (data_offsets " +
                    offsets_str(prev->begin, prev->end) + ") and " + io::quote_name(e->name) +
                    " (data_offsets " + offsets_str(e->begin, e->end) + ") overlap");
    if (e->begin > cursor)
      throw IOError(source + ": bytes [" + std::to_string(cursor) + ", " + std::to_string(e->begin) +
                    ") of the data buffer belong to no tensor (a hole before tensor " +
                    io::quote_name(e->name) + ")");
    cursor = e->end;
    prev = e;
  }
  if (cursor != buffer_size)
    throw IOError(source + ": " + std::to_string(buffer_size - cursor) +
                  " trailing bytes after the last tensor's data (the tensors cover " +
                  std::to_string(cursor) + " of the " + std::to_string(buffer_size) +
                  " data bytes)");
}

}  // namespace sepal::checkpoint::safetensors
