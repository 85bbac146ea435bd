// utf8.h: UTF-8 validation and escaping for byte strings that may not be UTF-8, such as file
// names on Linux (a folder written by a Latin-1 system holds "caf\xE9", not "café"). Used by the
// JSON writer (every string it writes is valid UTF-8) and by ImageFolder (class names must be).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace sepal::data {

// Length (1-4) of the valid UTF-8 sequence that starts at s[i], or 0 when the bytes there are
// not one (RFC 3629: no overlong forms, no surrogates U+D800-DFFF, nothing above U+10FFFF, no
// stray continuation bytes, no sequence cut short by the end of s). Requires i < s.size().
size_t utf8_sequence_length(std::string_view s, size_t i);

bool is_valid_utf8(std::string_view s);

// For messages: s with each byte that is not part of a valid UTF-8 sequence written as \xHH
// (upper-case hex: "caf\xE9"); valid UTF-8, including non-ASCII characters, is kept as it is.
std::string escape_invalid_utf8(std::string_view s);

}  // namespace sepal::data
