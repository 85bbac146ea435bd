// expect_error.h: asserts that a call throws a sepal::Error whose message contains a text.
//   expect_error_containing([&] { max_pool2d(x, 0); }, "kernel_size");
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "tensor/error.h"

namespace sepal::testing {

template <typename F>
void expect_error_containing(F f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing \"" << text << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

}  // namespace sepal::testing
