// utf8_test.cpp: UTF-8 validation with the error position, \xHH escaping of invalid bytes, and
// names quoted for error messages (io/utf8.h).
#include <gtest/gtest.h>

#include <string>

#include "io/utf8.h"

namespace sepal::io {
namespace {

TEST(Utf8, ValidatesAndEscapes) {
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xF0\x9F\x8C\xB8 \xED\x9F\xBF \xF4\x8F\xBF\xBF"));
  for (const char* bad : {"caf\xE9", "\x80", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                          "\xF5\x80\x80\x80", "\xFF", "\xC3", "\xE2\x82"})
    EXPECT_FALSE(is_valid_utf8(bad)) << escape_invalid_utf8(bad);
  EXPECT_EQ(escape_invalid_utf8("train/caf\xE9 \xC3\xA9\xC3"), "train/caf\\xE9 \xC3\xA9\\xC3");
}

TEST(Utf8, ErrorPositionIsTheFirstBadByte) {
  EXPECT_EQ(utf8_error_at(""), 0u);
  EXPECT_EQ(utf8_error_at("caf\xC3\xA9"), 5u);  // valid: the size
  EXPECT_EQ(utf8_error_at("caf\xE9!"), 3u);
  EXPECT_EQ(utf8_error_at("ab\xF0\x9F\x8C"), 2u);    // cut short by the end
  EXPECT_EQ(utf8_error_at("a\xED\xA0\x80"), 1u);     // an encoded surrogate
  EXPECT_EQ(utf8_error_at("\xC3\xA9\xC0\xAF"), 2u);  // overlong
  EXPECT_EQ(utf8_error_at(std::string("a\0b", 3)), 3u);  // NUL is valid UTF-8
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x8C\xB8", 0), 4u);
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x8C\xB8", 1), 0u);  // a continuation byte
}

TEST(Utf8, QuoteNameEscapesAndCuts) {
  EXPECT_EQ(quote_name("fc.weight"), "\"fc.weight\"");
  EXPECT_EQ(quote_name("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(quote_name("bell\x07\n\x7F"), "\"bell\\x07\\x0a\\x7f\"");
  EXPECT_EQ(quote_name("caf\xC3\xA9"), "\"caf\xC3\xA9\"");  // valid UTF-8 is kept
  // Not UTF-8: every non-ASCII byte is escaped, so nothing invalid reaches a terminal.
  EXPECT_EQ(quote_name("caf\xC3\xA9\xFF"), "\"caf\\xc3\\xa9\\xff\"");
  EXPECT_EQ(quote_name(std::string(1000, 'x')), "\"" + std::string(200, 'x') + "\"... (1000 bytes)");
  // Cut on a character boundary: "é" (2 bytes) does not fit after 3 bytes of 'x'.
  EXPECT_EQ(quote_name("xxx\xC3\xA9yz", 4), "\"xxx\"... (7 bytes)");
  EXPECT_EQ(quote_name("", 4), "\"\"");
}

}  // namespace
}  // namespace sepal::io
