// copy_test.cpp: copies within CUDA and across devices: contiguous and strided sources and
// destinations, broadcasting, dtype conversions, and sizes past one grid pass and past the
// 32-bit index range.
#include <gtest/gtest.h>

#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

// Values that survive every dtype conversion exactly: small multiples of 0.75 with zeros, of
// both signs unless `non_negative` (a negative value has no uint8 form: undefined in C++, and
// the GPU saturates where the CPU wraps).
Tensor sample(const Shape& shape, DType dtype, bool non_negative) {
  Tensor x = raw::binary(BinaryOp::Sub, arange(0, static_cast<double>(numel_of(shape)), 1, DType::Float64),
                         scalar_tensor(5.0, DType::Float64));
  x = raw::binary(BinaryOp::Mul, x, scalar_tensor(0.75, DType::Float64));
  if (non_negative) x = raw::unary(UnaryOp::Abs, x);
  return raw::cast(raw::reshape(x, shape), dtype);
}

TEST(CudaCopy, RoundTripEveryDType) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8, DType::Bool}) {
    SCOPED_TRACE(dtype_name(dtype));
    Tensor c = dtype == DType::UInt8 ? randint(0, 255, {7, 9}, DType::UInt8)
               : dtype == DType::Bool ? raw::compare(CompareOp::Gt, randn({7, 9}), scalar_tensor(0.0))
                                      : raw::cast(randn({7, 9}, DType::Float64), dtype);
    Tensor g = c.to(gpu());
    EXPECT_EQ(g.device(), gpu());
    EXPECT_EQ(g.dtype(), dtype);
    Tensor back = g.to(Device::cpu());
    EXPECT_TRUE(bitwise_equal(c, back));
  }
}

TEST(CudaCopy, NonContiguousSourcesOnEitherSide) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tensor c = randn({6, 5, 4});
  Tensor g = c.to(gpu());
  // CPU view -> CUDA
  Tensor c_view = raw::narrow(raw::permute(c, {2, 0, 1}), 1, 1, 4);  // [4, 4, 5], strided
  EXPECT_TRUE(bitwise_equal(raw::contiguous(c_view), raw::to_device(c_view, gpu())));
  // CUDA view -> CPU, and CUDA view -> CUDA contiguous
  Tensor g_view = raw::narrow(raw::permute(g, {2, 0, 1}), 1, 1, 4);
  EXPECT_TRUE(bitwise_equal(raw::contiguous(c_view), raw::to_device(g_view, Device::cpu())));
  Tensor g_cont = raw::contiguous(g_view);
  EXPECT_TRUE(g_cont.is_contiguous());
  EXPECT_TRUE(bitwise_equal(raw::contiguous(c_view), g_cont));
  // expanded (stride 0) source
  Tensor c_row = randn({1, 5});
  Tensor expanded = raw::expand(raw::to_device(c_row, gpu()), {4, 5});
  EXPECT_TRUE(bitwise_equal(raw::contiguous(raw::expand(c_row, {4, 5})), raw::contiguous(expanded)));
}

TEST(CudaCopy, NonContiguousDestinationsKeepTheRest) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tensor src = randn({4, 3});
  for (bool src_on_gpu : {false, true}) {
    SCOPED_TRACE(src_on_gpu ? "CUDA source" : "CPU source");
    Tensor from = src_on_gpu ? src.to(gpu()) : src;
    Tensor c = full({5, 6}, -7.0);
    Tensor g = full({5, 6}, -7.0, TensorOptions().device(gpu()));
    // destination: a transposed window [4, 3] with strides (1, 6)
    raw::copy_(raw::transpose(raw::narrow(raw::narrow(c, 0, 1, 3), 1, 2, 4), 0, 1), src);
    raw::copy_(raw::transpose(raw::narrow(raw::narrow(g, 0, 1, 3), 1, 2, 4), 0, 1), from);
    EXPECT_TRUE(bitwise_equal(c, g));
    std::vector<float> v = g.to_vector<float>();
    EXPECT_EQ(v[0], -7.0f);  // outside the window: the sentinel survives
    EXPECT_EQ(v[4 * 6 + 5], -7.0f);
    EXPECT_EQ(v[1 * 6 + 2], src.to_vector<float>()[0]);  // window (0, 0) is src[0][0]
  }
}

TEST(CudaCopy, BroadcastIntoDestination) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tensor row = randn({4});
  Tensor c = empty({3, 4}), g = empty({3, 4}, TensorOptions().device(gpu()));
  raw::copy_(c, row);
  raw::copy_(g, row);  // CPU row broadcast into a CUDA matrix
  EXPECT_TRUE(bitwise_equal(c, g));
  Tensor g2 = empty({3, 4}, TensorOptions().device(gpu()));
  raw::copy_(g2, raw::to_device(row, gpu()));  // same device, broadcast source
  EXPECT_TRUE(bitwise_equal(c, g2));
}

TEST(CudaCopy, DTypeConversionsMatchCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const DType all[] = {DType::Float32, DType::Float64, DType::Int64, DType::UInt8, DType::Bool};
  for (DType from : all) {
    for (DType to : all) {
      SCOPED_TRACE(std::string(dtype_name(from)) + " -> " + dtype_name(to));
      Tensor c = sample({3, 7}, from, from == DType::UInt8 || to == DType::UInt8);
      Tensor g = raw::to_device(c, gpu());
      // contiguous and transposed sources
      EXPECT_TRUE(bitwise_equal(raw::cast(c, to), raw::cast(g, to)));
      EXPECT_TRUE(bitwise_equal(raw::contiguous(raw::cast(raw::transpose(c, 0, 1), to)),
                                raw::cast(raw::transpose(g, 0, 1), to)));
      // across devices with the conversion, into a strided destination
      Tensor dst = full({7, 3}, 1.0, TensorOptions().dtype(to).device(gpu()));
      raw::copy_(raw::transpose(dst, 0, 1), c);
      EXPECT_TRUE(bitwise_equal(raw::cast(raw::contiguous(raw::transpose(c, 0, 1)), to), dst));
    }
  }
  // hand-checked conversions: truncation toward zero, any non-zero is true
  Tensor f = from_vector<float>({-2.75f, -0.5f, 0.0f, 0.5f, 3.99f}, {5}, TensorOptions().device(gpu()));
  EXPECT_EQ(raw::cast(f, DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{-2, 0, 0, 0, 3}));
  EXPECT_EQ(raw::cast(f, DType::Bool).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0, 1, 1}));
}

TEST(CudaCopy, LargeStridedCopy) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tensor c = randn({1021, 1027});  // > 2^20 elements: thousands of blocks, a ragged last one
  Tensor g = c.to(gpu());
  Tensor gt = raw::contiguous(raw::transpose(g, 0, 1));
  EXPECT_TRUE(bitwise_equal(raw::contiguous(raw::transpose(c, 0, 1)), gt));
  const int64_t n = (int64_t(1) << 20) + 3;
  Tensor v = randn({n}, DType::Float64);
  Tensor vg = raw::cast(raw::to_device(v, gpu()), DType::Float32);
  EXPECT_TRUE(bitwise_equal(raw::cast(v, DType::Float32), vg));
}

// More than 2^31 elements in a strided copy: the kernel must switch to 64-bit index math.
TEST(CudaCopy, StridedCopyPastThe32BitIndexRange) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const int64_t cols = (int64_t(1) << 30) + 7;  // 3 x cols uint8 = 3.2 GB, > INT32_MAX elements
  Tensor src, dst;
  try {
    src = empty({3, cols}, TensorOptions().dtype(DType::UInt8).device(gpu()));
    for (int64_t r = 0; r < 3; ++r) raw::fill_(raw::narrow(src, 0, r, 1), static_cast<double>(r + 1));
    dst = raw::contiguous(raw::transpose(src, 0, 1));  // [cols, 3]
  } catch (const CudaError& e) {
    GTEST_SKIP() << "not enough device memory for 6.4 GB: " << e.what();
  }
  ASSERT_EQ(dst.numel(), 3 * cols);
  ASSERT_GT(dst.numel(), int64_t(INT32_MAX));
  for (int64_t row : {int64_t(0), int64_t(1) << 29, (int64_t(1) << 30) - 1, int64_t(1) << 30, cols - 1}) {
    EXPECT_EQ(raw::narrow(dst, 0, row, 1).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 2, 3})) << "row " << row;
  }
}

}  // namespace
}  // namespace sepal::testing
