// utf8.h: UTF-8 validation and escaping for byte strings that may not be UTF-8: file names on
// Linux (a folder written by a Latin-1 system holds "caf\xE9", not "café") and the names inside
// hostile files (checkpoints, safetensors headers), which must not reach a terminal unescaped.
// Used by the JSON reader and writer (io/json.h), ImageFolder and the checkpoint readers.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace sepal::io {

// Length (1-4) of the valid UTF-8 sequence that starts at s[i], or 0 when the bytes there are
// not one (RFC 3629, as Rust's str::from_utf8: no overlong forms, no surrogates U+D800-DFFF,
// nothing above U+10FFFF, no stray continuation bytes, no sequence cut short by the end of s).
// Requires i < s.size().
size_t utf8_sequence_length(std::string_view s, size_t i);

// Position of the first byte that breaks UTF-8, or s.size() when all of s is valid.
size_t utf8_error_at(std::string_view s);
inline bool is_valid_utf8(std::string_view s) { return utf8_error_at(s) == s.size(); }

// For messages: s with each byte that is not part of a valid UTF-8 sequence written as \xHH
// (upper-case hex: "caf\xE9"); valid UTF-8, including non-ASCII characters, is kept as it is.
std::string escape_invalid_utf8(std::string_view s);

// A name as it appears in an error message: quoted, `"` and `\` escaped, control characters
// (and, when the name is not valid UTF-8, every non-ASCII byte) as \xHH (lower-case hex), and
// cut after max_bytes on a character boundary with the full length noted: "name"... (1000 bytes).
std::string quote_name(std::string_view s, size_t max_bytes = 200);

}  // namespace sepal::io
