// json_reader_test.cpp: the pull reader under parse_json and the safetensors header: exact 64-bit
// integers, error offsets and kinds, caller-worded messages for keys and separators.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "io/json_reader.h"

namespace sepal::io {
namespace {

JsonSyntaxError error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const JsonSyntaxError& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return JsonSyntaxError("(no error)", 0);
}

TEST(JsonReader, IntegersAreExactTo64Bits) {
  JsonReader r("[9007199254740993, 18446744073709551615, 18446744073709551616, 1.5, 1e2, -1, 0]");
  r.begin_array();
  std::vector<JsonNumber> n;
  while (r.next_element()) n.push_back(r.read_number());
  ASSERT_EQ(n.size(), 7u);
  uint64_t v = 0;
  ASSERT_TRUE(n[0].to_uint64(&v));
  EXPECT_EQ(v, 9007199254740993u);  // 2^53 + 1: a double would round it
  ASSERT_TRUE(n[1].to_uint64(&v));
  EXPECT_EQ(v, 18446744073709551615u);
  EXPECT_FALSE(n[2].to_uint64(&v));  // 2^64
  EXPECT_FALSE(n[3].is_integer());
  EXPECT_FALSE(n[3].to_uint64(&v));
  EXPECT_FALSE(n[4].is_integer());
  EXPECT_TRUE(n[5].is_integer());
  EXPECT_FALSE(n[5].to_uint64(&v));  // negative
  ASSERT_TRUE(n[6].to_uint64(&v));
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(n[1].offset, 19u);
  EXPECT_TRUE(r.at_end());
}

TEST(JsonReader, ErrorsCarryOffsetAndKind) {
  auto e = error_of([] { JsonReader("\"a\\qb\"").read_string(); });
  EXPECT_EQ(e.reason(), "invalid escape '\\q'");
  EXPECT_EQ(e.offset(), 2u);
  EXPECT_EQ(e.kind(), JsonSyntaxError::Kind::BadEscape);
  EXPECT_EQ(e.byte(), 'q');
  EXPECT_STREQ(e.what(), "invalid escape '\\q' at byte 2");
  e = error_of([] { JsonReader("\"a\tb\"").read_string(); });
  EXPECT_EQ(e.kind(), JsonSyntaxError::Kind::ControlCharacter);
  EXPECT_EQ(e.byte(), '\t');
  EXPECT_EQ(e.offset(), 2u);
  e = error_of([] { JsonReader("\"\\ud83c!\"").read_string(); });
  EXPECT_EQ(e.kind(), JsonSyntaxError::Kind::UnpairedHighSurrogate);
  e = error_of([] { JsonReader("\"\\ud83c\\u0041\"").read_string(); });
  EXPECT_EQ(e.reason(), "high surrogate not followed by a low surrogate");
  e = error_of([] { JsonReader("\"\\u12 4\"").read_string(); });
  EXPECT_EQ(e.reason(), "bad hex digit ' ' in a \\u escape");
  EXPECT_EQ(e.offset(), 5u);
  e = error_of([] { JsonReader("\"abc\\").read_string(); });
  EXPECT_EQ(e.reason(), "unterminated escape");
  e = error_of([] { JsonReader("  7").read_string("the dtype (a string)"); });
  EXPECT_EQ(e.reason(), "expected the dtype (a string), found '7'");
  EXPECT_EQ(e.offset(), 2u);
}

TEST(JsonReader, CallersWordKeysAndSeparators) {
  std::string key;
  auto e = error_of([&] {
    JsonReader r("{\"a\": 1 \"b\": 2}");
    r.begin_object();
    ASSERT_TRUE(r.next_member(&key, "a field name (a string)", "in the entry"));
    EXPECT_EQ(key, "a");
    EXPECT_EQ(r.key_offset(), 1u);
    r.read_number();
    r.next_member(&key, "a field name (a string)", "in the entry");
  });
  EXPECT_EQ(e.reason(), "expected ',' or '}' in the entry, found '\"'");
  EXPECT_EQ(e.offset(), 8u);
  e = error_of([&] {
    JsonReader r("{\"a\": 1,}");
    r.begin_object();
    r.next_member(&key);
    r.read_number();
    r.next_member(&key, "a metadata key (a string)");
  });
  EXPECT_EQ(e.reason(), "expected a metadata key (a string), found '}' (trailing comma?)");
  // Empty containers, and a stray ']' after a comma left to the caller.
  JsonReader r("{ } [ ] [1,]");
  r.begin_object();
  EXPECT_FALSE(r.next_member(&key));
  r.begin_array();
  EXPECT_FALSE(r.next_element());
  r.begin_array();
  ASSERT_TRUE(r.next_element());
  r.read_number();
  ASSERT_TRUE(r.next_element());
  EXPECT_EQ(r.peek(), ']');
}

}  // namespace
}  // namespace sepal::io
