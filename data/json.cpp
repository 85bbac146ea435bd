// json.cpp: the JSON value, strict parser and writer declared in json.h.
#include "data/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "data/utf8.h"

namespace sepal::data {

// ---- value ----

const char* Json::type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "bool";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "?";
}

namespace {
[[noreturn]] void type_mismatch(Json::Type want, Json::Type got) {
  throw JsonError(std::string("JSON: expected ") + (want == Json::Type::Array || want == Json::Type::Object ? "an " : "a ") +
                  Json::type_name(want) + ", got " + Json::type_name(got));
}
}  // namespace

bool Json::as_bool() const {
  if (!is_bool()) type_mismatch(Type::Bool, type());
  return std::get<bool>(v_);
}
double Json::as_number() const {
  if (!is_number()) type_mismatch(Type::Number, type());
  return std::get<double>(v_);
}
int64_t Json::as_int() const {
  double d = as_number();
  if (d != std::floor(d) || std::fabs(d) > 9007199254740992.0)
    throw JsonError("JSON: expected an integer, got " + Json(d).dump());
  return static_cast<int64_t>(d);
}
const std::string& Json::as_string() const {
  if (!is_string()) type_mismatch(Type::String, type());
  return std::get<std::string>(v_);
}
const Json::Array& Json::as_array() const {
  if (!is_array()) type_mismatch(Type::Array, type());
  return std::get<Array>(v_);
}
Json::Array& Json::as_array() {
  if (!is_array()) type_mismatch(Type::Array, type());
  return std::get<Array>(v_);
}
const Json::Object& Json::as_object() const {
  if (!is_object()) type_mismatch(Type::Object, type());
  return std::get<Object>(v_);
}
Json::Object& Json::as_object() {
  if (!is_object()) type_mismatch(Type::Object, type());
  return std::get<Object>(v_);
}

size_t Json::size() const {
  if (is_array()) return std::get<Array>(v_).size();
  if (is_object()) return std::get<Object>(v_).size();
  throw JsonError(std::string("JSON: size() of a ") + type_name(type()));
}

void Json::push_back(Json value) {
  if (is_null()) v_ = Array{};
  as_array().push_back(std::move(value));
}

const Json& Json::operator[](size_t i) const {
  const Array& a = as_array();
  if (i >= a.size())
    throw JsonError("JSON: index " + std::to_string(i) + " out of range for an array of " + std::to_string(a.size()));
  return a[i];
}

Json& Json::operator[](size_t i) {
  Array& a = as_array();
  if (i >= a.size())
    throw JsonError("JSON: index " + std::to_string(i) + " out of range for an array of " + std::to_string(a.size()));
  return a[i];
}

const Json* Json::find(std::string_view key) const {
  for (const auto& [k, v] : as_object())
    if (k == key) return &v;
  return nullptr;
}

const Json& Json::at(std::string_view key) const {
  const Json* v = find(key);
  if (!v) throw JsonError("JSON: no key '" + std::string(key) + "'");
  return *v;
}

Json& Json::operator[](std::string_view key) {
  if (is_null()) v_ = Object{};
  Object& o = as_object();
  for (auto& [k, v] : o)
    if (k == key) return v;
  o.emplace_back(std::string(key), Json());
  return o.back().second;
}

// ---- writer ----

namespace {

// Every string written is valid UTF-8: a byte that is not part of a valid UTF-8 sequence (a
// Latin-1 file name, say) is written as the \u00XX escape of its Latin-1 reading, so byte 0xE9
// becomes \u00e9 ("é"); valid UTF-8 passes through unchanged.
void write_string(std::string& out, const std::string& s) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out.append(s, i, n);
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void write_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[32];
  if (d == std::floor(d) && std::fabs(d) < 1e15) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(d));
    out.append(buf, r.ptr);
    return;
  }
  auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
  out.append(buf, r.ptr);
}

void write_value(std::string& out, const Json& v, int indent, int depth) {
  auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent) * d, ' ');
  };
  switch (v.type()) {
    case Json::Type::Null: out += "null"; break;
    case Json::Type::Bool: out += v.as_bool() ? "true" : "false"; break;
    case Json::Type::Number: write_number(out, v.as_number()); break;
    case Json::Type::String: write_string(out, v.as_string()); break;
    case Json::Type::Array: {
      const auto& a = v.as_array();
      out += '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        newline(depth + 1);
        write_value(out, a[i], indent, depth + 1);
      }
      if (!a.empty()) newline(depth);
      out += ']';
      break;
    }
    case Json::Type::Object: {
      const auto& o = v.as_object();
      out += '{';
      for (size_t i = 0; i < o.size(); ++i) {
        if (i) out += ',';
        newline(depth + 1);
        write_string(out, o[i].first);
        out += indent < 0 ? ":" : ": ";
        write_value(out, o[i].second, indent, depth + 1);
      }
      if (!o.empty()) newline(depth);
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string Json::dump(int indent) const {
  std::string out;
  write_value(out, *this, indent, 0);
  return out;
}

// ---- parser ----

namespace {

constexpr int kMaxDepth = 512;

class Parser {
 public:
  Parser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  Json parse_document() {
    skip_ws();
    Json v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& reason) const { fail_at(pos_, reason); }
  [[noreturn]] void fail_at(size_t at, const std::string& reason) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < s_.size(); ++i) {
      if (s_[i] == '\n') line++, col = 1;
      else if ((static_cast<unsigned char>(s_[i]) & 0xC0) != 0x80) col++;  // count code points
    }
    throw JsonError(name_ + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + reason);
  }
  std::string describe_here() const {
    if (pos_ >= s_.size()) return "end of input";
    unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if (c < 0x20 || c >= 0x7F) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
      return buf;
    }
    return std::string("'") + static_cast<char>(c) + "'";
  }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) pos_++;
  }
  bool consume(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      pos_++;
      return true;
    }
    return false;
  }
  void expect(char c, const char* what) {
    if (!consume(c)) fail(std::string("expected ") + what + ", found " + describe_here());
  }
  void literal(const char* word) {
    size_t n = std::strlen(word);
    if (s_.substr(pos_, n) != word) fail(std::string("invalid literal (expected '") + word + "')");
    pos_ += n;
  }

  Json parse_value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    if (pos_ >= s_.size()) fail("unexpected end of input, expected a value");
    char c = s_[pos_];
    switch (c) {
      case '{': return parse_object(depth);
      case '[': return parse_array(depth);
      case '"': return Json(parse_string());
      case 't': literal("true"); return Json(true);
      case 'f': literal("false"); return Json(false);
      case 'n': literal("null"); return Json();
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return Json(parse_number());
        fail("expected a value, found " + describe_here());
    }
  }

  Json parse_object(int depth) {
    pos_++;  // '{'
    Json::Object o;
    skip_ws();
    if (consume('}')) return Json(std::move(o));
    while (true) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"')
        fail("expected a string key, found " + describe_here() +
             (pos_ < s_.size() && s_[pos_] == '}' ? " (trailing comma?)" : ""));
      size_t key_at = pos_;
      std::string key = parse_string();
      for (const auto& kv : o)
        if (kv.first == key) fail_at(key_at, "duplicate key \"" + key + "\"");
      skip_ws();
      expect(':', "':' after an object key");
      skip_ws();
      Json v = parse_value(depth + 1);
      o.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (consume('}')) return Json(std::move(o));
      expect(',', "',' or '}' in an object");
    }
  }

  Json parse_array(int depth) {
    pos_++;  // '['
    Json::Array a;
    skip_ws();
    if (consume(']')) return Json(std::move(a));
    while (true) {
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ']') fail("expected a value, found ']' (trailing comma?)");
      a.push_back(parse_value(depth + 1));
      skip_ws();
      if (consume(']')) return Json(std::move(a));
      expect(',', "',' or ']' in an array");
    }
  }

  double parse_number() {
    size_t start = pos_;
    consume('-');
    if (pos_ >= s_.size() || !(s_[pos_] >= '0' && s_[pos_] <= '9')) fail("invalid number: expected a digit");
    if (s_[pos_] == '0') {
      pos_++;
      if (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') fail_at(start, "invalid number: leading zero");
    } else {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
    }
    if (consume('.')) {
      if (pos_ >= s_.size() || !(s_[pos_] >= '0' && s_[pos_] <= '9')) fail("invalid number: expected a digit after '.'");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      pos_++;
      if (!consume('+')) consume('-');
      if (pos_ >= s_.size() || !(s_[pos_] >= '0' && s_[pos_] <= '9')) fail("invalid number: expected a digit in the exponent");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') pos_++;
    }
    std::string_view text = s_.substr(start, pos_ - start);
    double d = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), d);
    if (r.ec == std::errc::result_out_of_range) {
      // Too small to represent (a negative exponent or a "0." mantissa) reads as zero, as in
      // Python; too large is an error.
      bool tiny = text.find("e-") != std::string_view::npos || text.find("E-") != std::string_view::npos ||
                  text.substr(text[0] == '-' ? 1 : 0, 2) == "0.";
      if (tiny) return text[0] == '-' ? -0.0 : 0.0;
      fail_at(start, "number out of range for a double");
    }
    if (r.ec != std::errc() || r.ptr != text.data() + text.size()) fail_at(start, "invalid number");
    return d;
  }

  unsigned hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else fail_at(pos_ - 1, "invalid hex digit in a \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
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

  std::string parse_string() {
    size_t start = pos_;
    pos_++;  // '"'
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail_at(start, "unterminated string");
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        pos_++;
        return out;
      }
      if (c < 0x20) fail("control character in a string (escape it, e.g. \\n)");
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
      pos_++;
      if (pos_ >= s_.size()) fail_at(start, "unterminated string");
      char e = s_[pos_++];
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
          size_t esc = pos_ - 2;
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.substr(pos_, 2) != "\\u") fail_at(esc, "unpaired high surrogate in a \\u escape");
            pos_ += 2;
            unsigned lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail_at(esc, "invalid low surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail_at(esc, "unpaired low surrogate in a \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: fail_at(pos_ - 2, std::string("invalid escape '\\") + e + "'");
      }
    }
  }

  std::string_view s_;
  const std::string& name_;
  size_t pos_ = 0;
};

}  // namespace

Json parse_json(std::string_view text, const std::string& name) {
  return Parser(text, name).parse_document();
}

Json load_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IOError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IOError(path + ": read error");
  std::string text = ss.str();
  std::string_view view = text;
  if (view.substr(0, 3) == "\xEF\xBB\xBF") view.remove_prefix(3);  // a UTF-8 byte-order mark
  return parse_json(view, path);
}

void save_json(const Json& value, const std::string& path, int indent) {
  std::string text = value.dump(indent) + "\n";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string tmp = path + ".tmp" + std::to_string(rng() % 1000000000);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw IOError(path + ": cannot create " + tmp + ": " + std::strerror(errno));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw IOError(path + ": write error");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    throw IOError(path + ": cannot rename the temp file into place: " + std::strerror(err));
  }
}

}  // namespace sepal::data
