// safetensors_header.h: the reading half of safetensors.h that needs no tensors: the header's
// JSON read (with io/json_reader.h) into tensor entries and metadata with every schema check,
// and the layout check of the entries' data_offsets against the data buffer. Split from
// safetensors.cpp so that the fuzzer (tests/fuzz/json_fuzz.cpp) builds it without the library.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/shape.h"

namespace sepal::checkpoint::safetensors {

// A loadable safetensors dtype: its name, its element size in the file, the sepal dtype it loads
// as (F16 and BF16 widen to float32).
enum class Src { F32, F16, BF16, F64, I64, U8, BOOL };
struct SrcDType {
  std::string_view name;
  Src src;
  uint64_t itemsize;
  DType out;
};
// The safetensors name of a dtype sepal writes ("F32", ...), or null.
const char* dtype_name(DType t);

// One tensor of the header; nbytes is set by validate_layout.
struct Entry {
  std::string name;
  const SrcDType* dtype = nullptr;
  Shape shape;
  uint64_t begin = 0, end = 0;
  uint64_t nbytes = 0;
};

struct Header {
  std::vector<Entry> entries;                   // in the header's order
  std::map<std::string, std::string> metadata;  // "__metadata__", empty when absent
};

// Reads the header text (the N bytes after the length field, trailing spaces included) with the
// rules of safetensors.h; IOErrors start with `source`.
Header parse_header(std::string_view text, const std::string& source);

// Checks sizes (with overflow checks), that offsets lie in a buffer of buffer_size bytes and that
// the ranges cover it exactly; sets each entry's nbytes.
void validate_layout(std::vector<Entry>* entries, uint64_t buffer_size, const std::string& source);

// "0x0A": a byte in messages.
std::string hex_byte(uint8_t c);

}  // namespace sepal::checkpoint::safetensors
