// text.h: the text checks and quoting shared by the checkpoint and safetensors readers: strict
// UTF-8 validation and names quoted for error messages (a hostile file's names may hold control
// characters or invalid bytes, which must not reach a terminal unescaped).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sepal::checkpoint {

// Position of the first byte that breaks UTF-8 (overlong forms, surrogates and code points above
// U+10FFFF are invalid, as in Rust's str::from_utf8), or n when all of s is valid.
size_t utf8_error_at(const uint8_t* s, size_t n);
inline bool valid_utf8(const uint8_t* s, size_t n) { return utf8_error_at(s, n) == n; }
inline bool valid_utf8(const std::string& s) {
  return valid_utf8(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// A name as it appears in an error message: quoted, `"` and `\` escaped, control characters
// (and, when the name is not valid UTF-8, every non-ASCII byte) as \xHH, and cut after max_bytes
// on a character boundary with the full length noted.
std::string quote_name(const std::string& s, size_t max_bytes = 200);

}  // namespace sepal::checkpoint
