// json.h: a small JSON value (null, bool, number, string, array, object that keeps insertion
// order), a strict RFC 8259 parser (built on the reader in io/json_reader.h) whose errors give
// the file name, line and column, and a writer whose output is always valid UTF-8 JSON (see
// dump()). Used for cat_to_name.json, the trainer's history.json and its --json output; the
// string writer also writes safetensors headers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "tensor/error.h"

namespace sepal::io {

// Malformed JSON text ("NAME:LINE:COL: reason") or a value of the wrong type.
class JsonError : public IOError {
 public:
  using IOError::IOError;
};

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;  // insertion order, unique keys

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  Json(double d) : v_(d) {}
  Json(float d) : v_(static_cast<double>(d)) {}
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Json(T i) : v_(static_cast<double>(i)) {}  // exact up to 2^53
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(std::string_view s) : v_(std::string(s)) {}
  Json(Array a) : v_(std::move(a)) {}
  Json(Object o) : v_(std::move(o)) {}
  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }

  Type type() const { return static_cast<Type>(v_.index()); }
  static const char* type_name(Type t);
  bool is_null() const { return type() == Type::Null; }
  bool is_bool() const { return type() == Type::Bool; }
  bool is_number() const { return type() == Type::Number; }
  bool is_string() const { return type() == Type::String; }
  bool is_array() const { return type() == Type::Array; }
  bool is_object() const { return type() == Type::Object; }

  // Typed access; JsonError "expected a string, got number" on a type mismatch.
  bool as_bool() const;
  double as_number() const;
  int64_t as_int() const;  // a number with no fractional part, within +-2^53
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Arrays and objects: element count (JsonError for other types).
  size_t size() const;
  // Arrays: appends (a null value becomes an empty array first).
  void push_back(Json value);
  const Json& operator[](size_t i) const;  // JsonError when out of range
  Json& operator[](size_t i);
  Json& operator[](int i) { return (*this)[static_cast<size_t>(i)]; }  // j[0]: not a key
  const Json& operator[](int i) const { return (*this)[static_cast<size_t>(i)]; }

  // Objects: lookup (null when absent), checked lookup, insert-or-assign (a null value becomes
  // an empty object first; a new key goes to the end, an existing one keeps its place).
  const Json* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  const Json& at(std::string_view key) const;  // JsonError "no key 'k'"
  Json& operator[](std::string_view key);
  void set(std::string_view key, Json value) { (*this)[key] = std::move(value); }

  // Serialises: indent < 0 gives one line, otherwise pretty-printed with `indent` spaces.
  // Numbers use the shortest text that reads back exactly; integers print without ".0".
  // JSON has no NaN or infinity: non-finite numbers are written as null. Strings: valid UTF-8
  // passes through unchanged; a byte that is not part of a valid UTF-8 sequence (a file name
  // from a Latin-1 system) is written as \u00XX, its Latin-1 reading (0xE9 -> \u00e9, "é"), so
  // the output always passes a strict parser. Such a string reads back as UTF-8 ("caf\xE9"
  // reads back as "café"), not as the original bytes.
  std::string dump(int indent = -1) const;

  friend bool operator==(const Json& a, const Json& b) { return a.v_ == b.v_; }

 private:
  std::variant<std::nullptr_t, bool, double, std::string, Array, Object> v_;
};

// Appends s as a JSON string: quoted; '"', '\\' and control characters escaped (\n, \t, ...,
// else \u00XX in lower-case hex); valid UTF-8 passed through; each byte that is not part of a
// valid UTF-8 sequence written as the \u00XX of its Latin-1 reading (see dump()).
void write_json_string(std::string& out, std::string_view s);

// Parses one JSON text (RFC 8259: no comments, no trailing commas, no leading zeros, no control
// characters in strings, valid UTF-8, no duplicate keys, nesting at most 512 deep); `name`
// (a file path) starts every error message: "NAME:LINE:COLUMN: reason".
Json parse_json(std::string_view text, const std::string& name = "<json>");
// Reads and parses a file; JsonError (or IOError when it cannot be read) naming the path.
Json load_json(const std::string& path);
// Writes value.dump(indent) plus a newline atomically (temp file in the same folder, rename).
void save_json(const Json& value, const std::string& path, int indent = 2);

}  // namespace sepal::io
