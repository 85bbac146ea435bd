// json_fuzz.cpp: the libFuzzer target of the one JSON reader (io/json_reader.h), through both of
// its callers (scripts/fuzz.sh builds it with clang under AddressSanitizer and
// UndefinedBehaviorSanitizer from io/*.cpp, checkpoint/safetensors_header.cpp and
// tensor/shape.cpp: no library). Seeds: tests/fuzz/json_corpus. Each input goes
// - to parse_json: a value or a JsonError. A value's writer output (one line and indented) must be
//   valid UTF-8 and read back to an equal value;
// - to the safetensors header reader, as the header text: entries and metadata or an IOError;
//   entries then go through the layout check against a buffer as large as their largest end
//   offset (so that valid layouts are reached too), again an IOError or nothing.
// A crash, a sanitizer report, a leak, another exception, a failed round trip or a hang is a
// finding. (The tensor data that follows a header is read by safetensors.cpp with the library;
// tests/checkpoint/safetensors_test.cpp mutates whole files.)
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "checkpoint/safetensors_header.h"
#include "io/json.h"
#include "io/utf8.h"
#include "tensor/error.h"

namespace {

void round_trip(const sepal::io::Json& v) {
  for (int indent : {-1, 2}) {
    const std::string text = v.dump(indent);
    if (!sepal::io::is_valid_utf8(text)) std::abort();
    try {
      if (!(sepal::io::parse_json(text, "dump") == v)) std::abort();
    } catch (const sepal::io::JsonError&) {
      std::abort();  // the writer wrote something the reader refuses
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace st = sepal::checkpoint::safetensors;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  std::optional<sepal::io::Json> value;
  try {
    value = sepal::io::parse_json(text, "fuzz input");
  } catch (const sepal::io::JsonError&) {
  }
  if (value) round_trip(*value);

  try {
    st::Header header = st::parse_header(text, "fuzz input");
    uint64_t buffer = 0;
    for (const st::Entry& e : header.entries) buffer = std::max(buffer, e.end);
    st::validate_layout(&header.entries, buffer, "fuzz input");
  } catch (const sepal::IOError&) {
  }
  return 0;
}
