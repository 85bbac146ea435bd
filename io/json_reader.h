// json_reader.h: the one strict JSON reader (RFC 8259: no comments, no trailing commas, no
// leading zeros, no control characters in strings, valid UTF-8, paired \u surrogates). It is a
// pull reader: the caller asks for the value it expects next (a string, a number, an object's
// next member, ...), so a caller that knows its schema reads a hostile document without building
// it first, and nests no deeper than its schema. Two callers: parse_json (io/json.h), which builds
// a Json value from any document, and the safetensors header reader (checkpoint/), which reads
// its fixed schema with its own messages. Errors are JsonSyntaxError: a reason and a byte offset;
// each caller says where (parse_json as NAME:LINE:COLUMN, safetensors as "at header byte N").
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "io/json.h"

namespace sepal::io {

// Malformed JSON: reason() at byte offset() of the text. what() is "reason at byte N"; callers
// usually rethrow with their own framing. kind() and byte() let a caller word the three string
// errors it has always worded its own way (see safetensors.cpp).
class JsonSyntaxError : public JsonError {
 public:
  enum class Kind { Other, ControlCharacter, BadEscape, UnpairedHighSurrogate };
  JsonSyntaxError(std::string reason, size_t offset, Kind kind = Kind::Other, unsigned char byte = 0)
      : JsonError(reason + " at byte " + std::to_string(offset)), reason_(std::move(reason)),
        offset_(offset), kind_(kind), byte_(byte) {}
  const std::string& reason() const { return reason_; }
  size_t offset() const { return offset_; }
  Kind kind() const { return kind_; }
  unsigned char byte() const { return byte_; }  // the control character or the escape letter

 private:
  std::string reason_;
  size_t offset_;
  Kind kind_;
  unsigned char byte_;
};

// The two-character escapes of JSON strings: json_escape_letter('\n') is 'n', and
// json_escape_char('n') is '\n'; 0 when there is none. "\/" reads as '/', but the writer leaves
// '/' as it is; the other characters below 0x20 have no letter and are written as \u00XX.
char json_escape_letter(char c);
char json_escape_char(char letter);

// A number as written, checked against the JSON grammar.
struct JsonNumber {
  std::string_view text;
  size_t offset = 0;
  bool is_integer() const;  // no fraction, no exponent
  // The exact value of a non-negative integer (is_integer(), no '-'), or false when it does not
  // fit in 64 bits: no rounding through a double, so offsets above 2^53 stay exact.
  bool to_uint64(uint64_t* out) const;
};

class JsonReader {
 public:
  static constexpr int kEnd = -1;

  explicit JsonReader(std::string_view text) : s_(text) {}

  // Skips whitespace and returns the next byte (0-255), or kEnd at the end of the text.
  int peek();
  bool at_end() { return peek() == kEnd; }
  size_t offset() const { return pos_; }
  // The next byte for messages: "'x'", "byte 0x0A" or "end of input".
  std::string describe_next();
  std::string describe_at(size_t at) const;  // the byte at `at`, without skipping whitespace
  [[noreturn]] void fail(const std::string& reason) const { fail_at(pos_, reason); }
  [[noreturn]] void fail_at(size_t at, const std::string& reason) const;

  // Values. read_string fails with "expected <what>, found X" unless a string comes next.
  std::string read_string(std::string_view what = "a string");
  JsonNumber read_number();  // the next byte must be '-' or a digit
  double read_double();      // a number as a double (underflow reads as zero, overflow fails)
  void read_literal(const char* word);  // true, false or null

  // Objects: begin_object consumes the '{' that peek() returned; each next_member call reads
  // the separator and the next "key": (its offset: key_offset()), or the closing '}' and returns
  // false. `key_noun` words a missing key ("expected a string key, found 'x'"), `context` a
  // missing separator ("expected ',' or '}' in an object, found 'x'").
  void begin_object() { open('{'); }
  bool next_member(std::string* key, std::string_view key_noun = "a string key",
                   std::string_view context = "in an object");
  size_t key_offset() const { return key_at_; }
  // Arrays: likewise; next_element returns true when a value (or a stray ']' after a comma,
  // for the caller to word) comes next.
  void begin_array() { open('['); }
  bool next_element(std::string_view context = "in an array");

 private:
  void open(char c);
  bool after_value(char close, std::string_view context);
  unsigned hex4();

  std::string_view s_;
  size_t pos_ = 0;
  size_t key_at_ = 0;
  bool first_ = false;  // set by begin_*: the next next_* call reads no separator
};

}  // namespace sepal::io
