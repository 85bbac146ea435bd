// json.cpp: the JSON value, its writer, and parse_json (a Json built with the JsonReader) declared
// in json.h.
#include "io/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <unordered_set>

#include "io/json_reader.h"
#include "io/utf8.h"

namespace sepal::io {

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

// Every string written is valid UTF-8 (see json.h): a byte that is not part of a valid UTF-8 sequence (a
// Latin-1 file name, say) is written as the \u00XX escape of its Latin-1 reading, so byte 0xE9
// becomes \u00e9 ("é"); valid UTF-8 passes through unchanged.
void write_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    unsigned char c = static_cast<unsigned char>(ch);
    size_t n = c >= 0x80 ? utf8_sequence_length(s, i) : 1;
    if (const char letter = c == '/' ? 0 : json_escape_letter(ch)) {  // '/' needs no escape
      out += '\\';
      out += letter;
    } else if (c < 0x20 || n == 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.append(s, i, n);
      i += n - 1;
    }
  }
  out += '"';
}

namespace {

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
    case Json::Type::String: write_json_string(out, v.as_string()); break;
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
        write_json_string(out, o[i].first);
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

Json parse_value(JsonReader& r, int depth) {
  const int c = r.peek();
  if (depth > kMaxDepth) r.fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
  switch (c) {
    case '{': {
      r.begin_object();
      Json::Object o;
      std::unordered_set<std::string> keys;
      std::string key;
      while (r.next_member(&key)) {
        if (!keys.insert(key).second) r.fail_at(r.key_offset(), "duplicate key \"" + key + "\"");
        Json v = parse_value(r, depth + 1);
        o.emplace_back(std::move(key), std::move(v));
      }
      return Json(std::move(o));
    }
    case '[': {
      r.begin_array();
      Json::Array a;
      while (r.next_element()) {
        if (r.peek() == ']') r.fail("expected a value, found ']' (trailing comma?)");
        a.push_back(parse_value(r, depth + 1));
      }
      return Json(std::move(a));
    }
    case '"': return Json(r.read_string());
    case 't': r.read_literal("true"); return Json(true);
    case 'f': r.read_literal("false"); return Json(false);
    case 'n': r.read_literal("null"); return Json();
    case JsonReader::kEnd: r.fail("unexpected end of input, expected a value");
    default:
      if (c == '-' || (c >= '0' && c <= '9')) return Json(r.read_double());
      r.fail("expected a value, found " + r.describe_next());
  }
}

}  // namespace

Json parse_json(std::string_view text, const std::string& name) {
  JsonReader r(text);
  try {
    Json v = parse_value(r, 0);
    if (!r.at_end()) r.fail("unexpected text after the JSON value");
    return v;
  } catch (const JsonSyntaxError& e) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < e.offset() && i < text.size(); ++i) {
      if (text[i] == '\n') line++, col = 1;
      else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) col++;  // count code points
    }
    throw JsonError(name + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + e.reason());
  }
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

}  // namespace sepal::io
