// json_test.cpp: the JSON value, strict parser (errors with file, line and column) and writer.
#include <gtest/gtest.h>

#include <cmath>

#include "data/test_util.h"
#include "io/json.h"
#include "io/utf8.h"

namespace sepal::io {
namespace {

namespace testing = sepal::data::testing;

std::string parse_error(const std::string& text, const std::string& name = "f.json") {
  try {
    parse_json(text, name);
  } catch (const JsonError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Json, ParsesEveryTypeAndKeepsObjectOrder) {
  Json v = parse_json(R"( {"b": [1, -2.5e3, true, false, null], "a": {"x": "y"}, "0": 0.125} )");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v.as_object()[0].first, "b");  // insertion order, not sorted
  EXPECT_EQ(v.as_object()[1].first, "a");
  EXPECT_EQ(v.as_object()[2].first, "0");
  const Json& b = v.at("b");
  EXPECT_EQ(b[0].as_int(), 1);
  EXPECT_EQ(b[1].as_number(), -2500.0);
  EXPECT_TRUE(b[2].as_bool());
  EXPECT_FALSE(b[3].as_bool());
  EXPECT_TRUE(b[4].is_null());
  EXPECT_EQ(v.at("a").at("x").as_string(), "y");
  EXPECT_EQ(v.at("0").as_number(), 0.125);
  EXPECT_EQ(v.find("missing"), nullptr);
  EXPECT_THROW(v.at("missing"), JsonError);
  EXPECT_THROW(v.at("a").as_string(), JsonError);
}

TEST(Json, IndexingArraysAndObjects) {
  Json a = parse_json("[10, [20, 30]]");
  EXPECT_EQ(a[0].as_int(), 10);  // an int index on a non-const value is an array index
  a[1][0] = "x";
  EXPECT_EQ(a.dump(), R"([10,["x",30]])");
  EXPECT_THROW(a[2], JsonError);
  EXPECT_THROW(a["key"], JsonError);  // an array has no keys
  Json o;
  o["k"]["nested"] = true;  // null becomes an object on first use
  EXPECT_EQ(o.dump(), R"({"k":{"nested":true}})");
  EXPECT_THROW(o[0], JsonError);
  EXPECT_EQ(o.size(), 1u);
  EXPECT_THROW(Json(3).size(), JsonError);
}

TEST(Json, AsIntRejectsFractions) {
  EXPECT_EQ(parse_json("-2500").as_int(), -2500);
  EXPECT_THROW(parse_json("2.5").as_int(), JsonError);
}

TEST(Json, EscapesAndUnicode) {
  Json v = parse_json(R"("a\"b\\c\/\n\t\u00e9\ud83c\udf38 é")");
  EXPECT_EQ(v.as_string(), "a\"b\\c/\n\t\xC3\xA9\xF0\x9F\x8C\xB8 \xC3\xA9");
  // Writer: quotes, backslashes and control characters escaped, UTF-8 passed through.
  Json s(std::string("q\"\\\n\x01 \xC3\xA9\xF0\x9F\x8C\xB8"));
  EXPECT_EQ(s.dump(), "\"q\\\"\\\\\\n\\u0001 \xC3\xA9\xF0\x9F\x8C\xB8\"");
  EXPECT_EQ(parse_json(s.dump()).as_string(), s.as_string());
}

// A file name from a Latin-1 system ("caf\xE9") or any other invalid UTF-8 must still give valid
// JSON: each invalid byte is written as \u00XX, its Latin-1 reading; valid UTF-8 is unchanged.
TEST(Json, WriterEscapesInvalidUtf8AsLatin1) {
  Json s(std::string("caf\xE9 \xC3\xA9 \xFF\xC3 \xED\xA0\x80 \xC0\xAF"));
  EXPECT_EQ(s.dump(), "\"caf\\u00e9 \xC3\xA9 \\u00ff\\u00c3 \\u00ed\\u00a0\\u0080 \\u00c0\\u00af\"");
  EXPECT_TRUE(is_valid_utf8(s.dump()));
  // Our strict parser reads it back as the Latin-1 reading in UTF-8.
  EXPECT_EQ(parse_json(s.dump()).as_string(),
            "caf\xC3\xA9 \xC3\xA9 \xC3\xBF\xC3\x83 \xC3\xAD\xC2\xA0\xC2\x80 \xC3\x80\xC2\xAF");
  // Keys too, and inside nested values.
  Json o = Json::object();
  o.set("k\xE9y", Json::Array{Json("\x80")});
  EXPECT_EQ(o.dump(), "{\"k\\u00e9y\":[\"\\u0080\"]}");
}

TEST(Json, WriterFormatsNumbersAndRoundTrips) {
  Json v = Json::object();
  v["int"] = 42;
  v["neg"] = int64_t(-7);
  v["frac"] = 0.1;
  v["big"] = 1e300;
  v["nan"] = std::nan("");
  v["list"].push_back("x");
  v["list"].push_back(Json::object());
  v["int"] = 43;  // assignment keeps the key's place
  EXPECT_EQ(v.dump(), R"({"int":43,"neg":-7,"frac":0.1,"big":1e+300,"nan":null,"list":["x",{}]})");
  EXPECT_EQ(v.dump(2), "{\n  \"int\": 43,\n  \"neg\": -7,\n  \"frac\": 0.1,\n  \"big\": 1e+300,\n"
                       "  \"nan\": null,\n  \"list\": [\n    \"x\",\n    {}\n  ]\n}");
  Json back = parse_json(v.dump(2));
  EXPECT_EQ(back.at("frac").as_number(), 0.1);  // shortest form reads back exactly
  EXPECT_EQ(back.at("big").as_number(), 1e300);
  double third = 1.0 / 3.0;
  EXPECT_EQ(parse_json(Json(third).dump()).as_number(), third);
}

TEST(Json, ErrorsGiveFileLineAndColumn) {
  EXPECT_EQ(parse_error("{\n  \"a\": 1,\n}"), "f.json:3:1: expected a string key, found '}' (trailing comma?)");
  EXPECT_EQ(parse_error("[1, 2,]"), "f.json:1:7: expected a value, found ']' (trailing comma?)");
  EXPECT_EQ(parse_error("{\"a\" 1}"), "f.json:1:6: expected ':' after an object key, found '1'");
  EXPECT_EQ(parse_error("[01]"), "f.json:1:2: invalid number: leading zero");
  EXPECT_EQ(parse_error("{\"a\": 1, \"a\": 2}"), "f.json:1:10: duplicate key \"a\"");
  EXPECT_EQ(parse_error("\"abc"), "f.json:1:1: unterminated string");
  EXPECT_EQ(parse_error("\"a\nb\""), "f.json:1:3: control character in a string (escape it, e.g. \\n)");
  EXPECT_EQ(parse_error("tru"), "f.json:1:1: invalid literal (expected 'true')");
  EXPECT_EQ(parse_error("1 2"), "f.json:1:3: unexpected text after the JSON value");
  EXPECT_EQ(parse_error(""), "f.json:1:1: unexpected end of input, expected a value");
  EXPECT_EQ(parse_error("// c\n1"), "f.json:1:1: expected a value, found '/'");
  EXPECT_EQ(parse_error("\"\\x\""), "f.json:1:2: invalid escape '\\x'");
  EXPECT_EQ(parse_error("\"\\ud800\""), "f.json:1:2: unpaired high surrogate in a \\u escape");
  EXPECT_EQ(parse_error("\"\xC3\""), "f.json:1:2: invalid UTF-8 in a string");
  EXPECT_EQ(parse_error("1e999"), "f.json:1:1: number out of range for a double");
  EXPECT_EQ(parse_json("1e-999").as_number(), 0.0);
  EXPECT_EQ(parse_error(std::string(600, '[') + std::string(600, ']')),
            "f.json:1:514: nesting deeper than 512 levels");
  // Columns count characters, not bytes.
  EXPECT_EQ(parse_error("[\"\xC3\xA9\", x]"), "f.json:1:7: expected a value, found 'x'");
}

TEST(Json, LoadAndSaveFiles) {
  testing::TempDir dir;
  Json v = Json::object();
  v["name"] = "pink primrose";
  v["values"] = Json(Json::Array{1, 2.5, nullptr});
  save_json(v, dir / "out.json");
  EXPECT_EQ(testing::read_bytes(dir / "out.json").back(), '\n');
  EXPECT_EQ(load_json(dir / "out.json"), v);
  testing::write_text(dir / "bom.json", "\xEF\xBB\xBF{\"a\": 1}");
  EXPECT_EQ(load_json(dir / "bom.json").at("a").as_int(), 1);
  testing::write_text(dir / "bad.json", "{\"a\": 1,\n \"b\": }");
  try {
    load_json(dir / "bad.json");
    FAIL() << "no error";
  } catch (const JsonError& e) {
    EXPECT_EQ(std::string(e.what()), dir / "bad.json" + ":2:7: expected a value, found '}'");
  }
  EXPECT_THROW(load_json(dir / "missing.json"), IOError);
}

}  // namespace
}  // namespace sepal::io
