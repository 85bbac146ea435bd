// errors_test.cpp: error types and messages for mismatched shapes, dtypes and devices, bad dims
// and undefined tensors: each names the op and the offending shapes.
#include <gtest/gtest.h>
#include <sepal.h>

#include <functional>

namespace sepal {
namespace {

// Runs `fn`, expecting an exception of type E whose message contains every one of `parts`.
template <typename E>
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "nothing thrown; expected a message with '" << parts.front() << "'";
  } catch (const E& e) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "'" << part << "' not in: " << e.what();
  }
}

TEST(Errors, EveryTypeIsASepalError) {
  EXPECT_THROW(throw ShapeError("x"), Error);
  EXPECT_THROW(throw DTypeError("x"), Error);
  EXPECT_THROW(throw DeviceError("x"), Error);
  EXPECT_THROW(throw IndexError("x"), Error);
  EXPECT_THROW(throw AutogradError("x"), Error);
  EXPECT_THROW(throw IOError("x"), Error);
  EXPECT_THROW(throw Error("x"), std::runtime_error);
}

TEST(Errors, BroadcastMismatchNamesOpAndBothShapes) {
  Tensor a = ones({2, 3}), b = ones({4});
  expect_error<ShapeError>([&] { add(a, b); }, {"add: shapes [2, 3] and [4] cannot be broadcast"});
  expect_error<ShapeError>([&] { a * b; }, {"mul: shapes [2, 3] and [4]"});
  expect_error<ShapeError>([&] { maximum(a, b); }, {"maximum", "[2, 3]", "[4]"});
  expect_error<ShapeError>([&] { lt(a, b); }, {"lt", "[2, 3]", "[4]"});
  expect_error<ShapeError>([&] { where(gt(a, 0.0), a, b); }, {"where", "[2, 3]", "[4]"});
  expect_error<ShapeError>([&] { zeros({2, 3}).copy_(b); }, {"copy_", "[2, 3]", "[4]"});
  expect_error<ShapeError>([&] { ones({3}).add_(a); }, {"add_", "[2, 3]", "[3]"});
}

TEST(Errors, DTypeMismatchNamesOpDTypesAndShapes) {
  Tensor f = ones({2, 3}), d = ones({4}, DType::Float64);
  expect_error<DTypeError>([&] { add(f, d); }, {"add", "float32 [2, 3]", "float64 [4]"});
  expect_error<DTypeError>([&] { matmul(f, ones({3, 2}, DType::Float64)); }, {"matmul", "float32", "float64"});
  expect_error<DTypeError>([&] { eq(f, ones({2, 3}, DType::Int64)); }, {"eq", "float32", "int64"});
  expect_error<DTypeError>([&] { ones({2}, DType::Bool) + ones({2}, DType::Bool); }, {"add", "bool"});
  expect_error<DTypeError>([&] { ones({2}, DType::Int64).sqrt(); }, {"sqrt", "int64"});
}

TEST(Errors, CudaDeviceMismatchNamesOpAndDevices) {
  if (!cuda_available()) GTEST_SKIP() << "needs a CUDA device to hold the second operand";
  Tensor a = ones({2, 3}), b = ones({2, 3}, Device::cuda());
  expect_error<DeviceError>([&] { add(a, b); }, {"add", "cpu", "cuda:0", "[2, 3]"});
  expect_error<DeviceError>([&] { matmul(a, ones({3, 2}, Device::cuda())); }, {"matmul", "cpu", "cuda:0"});
}

TEST(Errors, DimsAndIndicesOutOfRange) {
  Tensor x = ones({2, 3});
  expect_error<IndexError>([&] { x.sum({5}); }, {"sum", "dimension 5", "2 dims"});
  expect_error<IndexError>([&] { x.size(2); }, {"size"});
  expect_error<IndexError>([&] { x.narrow(1, 2, 2); }, {"narrow", "[2, 3]"});
  expect_error<IndexError>([&] { x.select(0, 2); }, {"select", "[2, 3]"});
  expect_error<ShapeError>([&] { x.reshape({4, 2}); }, {"reshape", "[4, 2]", "6"});
  expect_error<ShapeError>([&] { x.expand({4, 4}); }, {"expand", "[2, 3]", "[4, 4]"});
}

TEST(Errors, UndefinedTensors) {
  Tensor u;
  EXPECT_FALSE(u.defined());
  EXPECT_THROW(u.shape(), Error);
  EXPECT_THROW(u.dtype(), Error);
  expect_error<Error>([&] { add(u, ones({2})); }, {"add", "first operand", "undefined"});
  expect_error<Error>([&] { ones({2}).copy_(u); }, {"copy_", "source", "undefined"});
}

}  // namespace
}  // namespace sepal
