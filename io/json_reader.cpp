// json_reader.cpp: the strict JSON pull reader declared in json_reader.h: whitespace, strings
// (escapes, surrogate pairs, UTF-8), the number grammar, literals and the separators of objects
// and arrays.
#include "io/json_reader.h"

#include <charconv>
#include <cstdio>
#include <cstring>

#include "io/utf8.h"

namespace sepal::io {

namespace {

bool is_digit(int c) { return c >= '0' && c <= '9'; }

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The two-character escapes: {letter, character}.
constexpr char kEscapes[][2] = {{'"', '"'}, {'\\', '\\'}, {'/', '/'},  {'b', '\b'},
                                {'f', '\f'}, {'n', '\n'},   {'r', '\r'}, {'t', '\t'}};

std::string byte_text(unsigned char c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  return buf;
}

}  // namespace

char json_escape_letter(char c) {
  for (const auto& e : kEscapes)
    if (e[1] == c) return e[0];
  return 0;
}

char json_escape_char(char letter) {
  for (const auto& e : kEscapes)
    if (e[0] == letter) return e[1];
  return 0;
}

// ---- numbers ----

bool JsonNumber::is_integer() const { return text.find_first_of(".eE") == std::string_view::npos; }

bool JsonNumber::to_uint64(uint64_t* out) const {
  if (!is_integer() || text.empty() || text[0] == '-') return false;
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

// ---- the reader ----

void JsonReader::fail_at(size_t at, const std::string& reason) const { throw JsonSyntaxError(reason, at); }

int JsonReader::peek() {
  while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
    pos_++;
  return pos_ < s_.size() ? static_cast<unsigned char>(s_[pos_]) : kEnd;
}

std::string JsonReader::describe_next() {
  peek();
  return describe_at(pos_);
}

std::string JsonReader::describe_at(size_t at) const {
  if (at >= s_.size()) return "end of input";
  const auto c = static_cast<unsigned char>(s_[at]);
  if (c < 0x20 || c >= 0x7F) return byte_text(c);
  return std::string("'") + static_cast<char>(c) + "'";
}

void JsonReader::read_literal(const char* word) {
  peek();
  size_t n = std::strlen(word);
  if (s_.substr(pos_, n) != word) fail(std::string("invalid literal (expected '") + word + "')");
  pos_ += n;
}

JsonNumber JsonReader::read_number() {
  peek();
  const size_t start = pos_;
  auto digit_here = [&] { return pos_ < s_.size() && is_digit(s_[pos_]); };
  auto digits = [&] {
    while (digit_here()) pos_++;
  };
  if (pos_ < s_.size() && s_[pos_] == '-') pos_++;
  if (!digit_here()) fail("invalid number: expected a digit");
  if (s_[pos_] == '0') {
    pos_++;
    if (digit_here()) fail_at(start, "invalid number: leading zero");
  } else {
    digits();
  }
  if (pos_ < s_.size() && s_[pos_] == '.') {
    pos_++;
    if (!digit_here()) fail("invalid number: expected a digit after '.'");
    digits();
  }
  if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
    pos_++;
    if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) pos_++;
    if (!digit_here()) fail("invalid number: expected a digit in the exponent");
    digits();
  }
  return JsonNumber{s_.substr(start, pos_ - start), start};
}

double JsonReader::read_double() {
  const JsonNumber n = read_number();
  const std::string_view text = n.text;
  double d = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), d);
  if (r.ec == std::errc::result_out_of_range) {
    // Too small to represent (a negative exponent or a "0." mantissa) reads as zero, as in
    // Python; too large is an error.
    bool tiny = text.find("e-") != std::string_view::npos || text.find("E-") != std::string_view::npos ||
                text.substr(text[0] == '-' ? 1 : 0, 2) == "0.";
    if (tiny) return text[0] == '-' ? -0.0 : 0.0;
    fail_at(n.offset, "number out of range for a double");
  }
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) fail_at(n.offset, "invalid number");
  return d;
}

unsigned JsonReader::hex4() {
  if (s_.size() - pos_ < 4) {
    pos_ = s_.size();
    fail("truncated \\u escape");
  }
  unsigned v = 0;
  for (int i = 0; i < 4; ++i, ++pos_) {
    const char c = s_[pos_];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else fail("bad hex digit " + describe_at(pos_) + " in a \\u escape");
  }
  return v;
}

std::string JsonReader::read_string(std::string_view what) {
  if (peek() != '"') fail("expected " + std::string(what) + ", found " + describe_next());
  const size_t start = pos_++;
  std::string out;
  while (true) {
    if (pos_ >= s_.size()) fail_at(start, "unterminated string");
    const unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if (c == '"') {
      pos_++;
      return out;
    }
    if (c < 0x20)
      throw JsonSyntaxError("control character in a string (escape it, e.g. \\n)", pos_,
                            JsonSyntaxError::Kind::ControlCharacter, c);
    if (c >= 0x80) {
      size_t n = utf8_sequence_length(s_, pos_);
      if (n == 0) fail("invalid UTF-8 in a string");
      out.append(s_.data() + pos_, n);
      pos_ += n;
      continue;
    }
    if (c != '\\') {
      out += static_cast<char>(c);
      pos_++;
      continue;
    }
    const size_t esc = pos_++;
    if (pos_ >= s_.size()) fail_at(esc, "unterminated escape");
    const char e = s_[pos_++];
    if (const char decoded = json_escape_char(e)) {
      out += decoded;
      continue;
    }
    if (e != 'u')
      throw JsonSyntaxError(std::string("invalid escape '\\") + e + "'", esc, JsonSyntaxError::Kind::BadEscape,
                            static_cast<unsigned char>(e));
    unsigned cp = hex4();
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (s_.substr(pos_, 2) != "\\u")
        throw JsonSyntaxError("unpaired high surrogate in a \\u escape", esc,
                              JsonSyntaxError::Kind::UnpairedHighSurrogate);
      pos_ += 2;
      unsigned lo = hex4();
      if (lo < 0xDC00 || lo > 0xDFFF) fail_at(esc, "high surrogate not followed by a low surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      fail_at(esc, "unpaired low surrogate in a \\u escape");
    }
    append_utf8(out, cp);
  }
}

// ---- objects and arrays ----

void JsonReader::open(char c) {
  if (peek() != static_cast<unsigned char>(c))
    fail(std::string("expected '") + c + "', found " + describe_next());
  pos_++;
  first_ = true;
}

// Before the next member or element: true when one follows (after a ',' unless it is the
// first), false after consuming `close`.
bool JsonReader::after_value(char close, std::string_view context) {
  const int c = peek();
  const bool first = first_;
  first_ = false;
  if (c == static_cast<unsigned char>(close)) {
    pos_++;
    return false;
  }
  if (first) return true;
  if (c != ',')
    fail(std::string("expected ',' or '") + close + "' " + std::string(context) + ", found " + describe_next());
  pos_++;
  peek();
  return true;
}

bool JsonReader::next_member(std::string* key, std::string_view key_noun, std::string_view context) {
  if (!after_value('}', context)) return false;
  if (peek() != '"')
    fail("expected " + std::string(key_noun) + ", found " + describe_next() +
         (peek() == '}' ? " (trailing comma?)" : ""));
  key_at_ = pos_;
  *key = read_string();
  if (peek() != ':') fail("expected ':' after an object key, found " + describe_next());
  pos_++;
  peek();
  return true;
}

bool JsonReader::next_element(std::string_view context) { return after_value(']', context); }

}  // namespace sepal::io
