// safetensors.h: import and export of a state dict in Hugging Face's safetensors format, the
// format torchvision/timm weights are shared in. Every file is treated as hostile: each size
// and offset is checked before use, nothing is allocated from an unchecked field, and any
// malformed input throws sepal::IOError naming the file, the tensor and what is wrong.
//
// Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value", ...}}
// padded with trailing spaces, then the data buffer; offsets are relative to its start.
//
// Loading follows safetensors' own validation (the bar for our loader), plus a few limits:
//   - N <= 100,000,000 and N <= file size - 8; the header is valid UTF-8 and JSON starting
//     with '{' (trailing whitespace allowed);
//   - tensor names are unique, "__metadata__" (optional) maps strings to strings;
//   - each entry has exactly the fields dtype, shape and data_offsets (unknown fields are
//     rejected); dims are non-negative integers, at most kSafetensorsMaxDims of them, and
//     the element count (and the product of the non-zero dims) must fit in int64;
//   - end - begin == numel * itemsize exactly, end <= buffer size, and the ranges, sorted,
//     cover the buffer exactly: no holes, no overlaps, no trailing bytes;
//   - BOOL bytes must be 0 or 1.
// Loaded dtypes: F32 -> float32, F16 and BF16 -> float32 (exact, incl. subnormals, inf, NaN),
// F64 -> float64, I64 -> int64, U8 -> uint8, BOOL -> bool. Any other safetensors dtype (I8,
// I16, I32, U16, U32, U64, F8_*, ...) is an error naming the tensor and the dtype. Tensors are
// created on the CPU; the state dict keeps the header's order.
//
// The header is read with the io JSON reader (io/json_reader.h), schema-directed (header object
// -> tensor entry or metadata object -> string or integer array; safetensors_header.h): nesting
// can never exceed three levels and nothing recurses, so a depth bomb such as
// "shape": [[[[...]]]] fails at its second '['. Integers are read exactly as 64-bit unsigned
// numbers (offsets above 2^53 are not rounded through a double).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "layers/state_dict.h"

namespace sepal::checkpoint {

inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;  // safetensors' MAX_HEADER_SIZE
inline constexpr size_t kSafetensorsMaxDims = 64;

// A loaded file: the tensors in header order, and the "__metadata__" strings (empty when the
// file has none).
struct SafetensorsFile {
  nn::StateDict tensors;
  std::map<std::string, std::string> metadata;
};

// Reads and validates `path`. A missing or unreadable file is an IOError naming the path and
// the OS reason. Tensor data is read straight into the tensors (no copy of the whole file).
SafetensorsFile load_safetensors_file(const std::string& path);
nn::StateDict load_safetensors(const std::string& path);  // the tensors only

// Parses a whole file held in memory (tests, fuzzers). `source_name` names the input in errors.
// `data` may be null when size is 0.
SafetensorsFile parse_safetensors_file(const uint8_t* data, size_t size,
                                       const std::string& source_name);
nn::StateDict parse_safetensors(const uint8_t* data, size_t size, const std::string& source_name);

// The bytes of a safetensors file holding `sd`'s tensors: names and data in the state dict's
// order, the header padded with spaces to a multiple of 8 bytes, "__metadata__" written only
// when `metadata` is non-empty. Tensors may be float32, float64, int64, uint8 or bool, on any
// device (copied to the CPU) and with any strides (written contiguous). Names and metadata must
// be valid UTF-8 and no tensor may be called "__metadata__"; errors are IOErrors.
std::vector<uint8_t> serialize_safetensors(const nn::StateDict& sd,
                                           const std::map<std::string, std::string>& metadata = {});

// Writes serialize_safetensors(sd, metadata) to `path` atomically: a temporary file in the same
// folder is written, fsynced and renamed over `path`, then the folder is fsynced. On error the
// temporary file is removed and `path` is left as it was. Tensor data is streamed, not
// gathered into one buffer.
void save_safetensors(const nn::StateDict& sd, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {});

// IEEE half and bfloat16 bit patterns to float32, exactly (subnormals, infinities, and NaNs
// with their payload). Exposed for tests.
float f16_bits_to_float(uint16_t bits);
float bf16_bits_to_float(uint16_t bits);

}  // namespace sepal::checkpoint
