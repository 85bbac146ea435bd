// conv_test.cpp: the cuDNN convolution (forward, backward input, backward weight, and the bias)
// against the CPU backend on ResNet-shaped convolutions, in float32 and float64, with the same
// inputs and upstream gradient. The small op-table shapes are covered by op_parity_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>

#include "autograd/nn_functions.h"
#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

struct ConvShape {
  std::string name;
  Shape x, w;
  Conv2dOptions o;
};
void PrintTo(const ConvShape& s, std::ostream* os) { *os << s.name; }

// float32: relative 1e-4 and 1e-4 of the RMS for entries that cancel towards zero (cuDNN and
// oneDNN sum the same products in different orders).
::testing::AssertionResult close(const Tensor& expected, const Tensor& actual, DType dtype) {
  const double rms = std::sqrt(expected.square().mean().item<double>());
  if (dtype == DType::Float64) return all_close(expected, actual, 1e-10, 1e-10 * rms);
  return all_close(expected, actual, 1e-4, 1e-4 * rms + 1e-6);
}

void check_conv(const ConvShape& s, DType dtype) {
  SCOPED_TRACE(s.name + " in " + dtype_name(dtype));
  Generator gen(42);
  Tensor x = randn(s.x, dtype, &gen), w = randn(s.w, dtype, &gen), b = randn({s.w[0]}, dtype, &gen);
  Tensor xc = x.detach().requires_grad_(true), wc = w.detach().requires_grad_(true), bc = b.detach().requires_grad_(true);
  Tensor xg = raw::to_device(x, gpu()).requires_grad_(true), wg = raw::to_device(w, gpu()).requires_grad_(true);
  Tensor bg = raw::to_device(b, gpu()).requires_grad_(true);

  Tensor y_cpu = conv2d(xc, wc, bc, s.o);
  poison_cache(y_cpu.numel(), dtype);
  Tensor y_gpu = conv2d(xg, wg, bg, s.o);
  ASSERT_EQ(y_gpu.device(), gpu());
  EXPECT_TRUE(close(y_cpu, y_gpu, dtype)) << "forward";

  Tensor g = randn(y_cpu.shape(), dtype, &gen);
  y_cpu.backward(g);
  poison_cache(xg.numel(), dtype, 4);
  poison_cache(wg.numel(), dtype, 4);
  y_gpu.backward(raw::to_device(g, gpu()));
  EXPECT_TRUE(close(xc.grad(), xg.grad(), dtype)) << "backward input";
  EXPECT_TRUE(close(wc.grad(), wg.grad(), dtype)) << "backward weight";
  EXPECT_TRUE(close(bc.grad(), bg.grad(), dtype)) << "bias gradient";
}

class CudaConv : public ::testing::TestWithParam<ConvShape> {};

TEST_P(CudaConv, Float32MatchesCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  check_conv(GetParam(), DType::Float32);
}

TEST_P(CudaConv, Float64MatchesCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  check_conv(GetParam(), DType::Float64);
}

// Autotuned (cudnnFind*AlgorithmEx on the call's own buffers, whose outputs it overwrites): the
// fastest algorithm, still FMA math, still the CPU's results.
TEST_P(CudaConv, Float32AutotunedMatchesCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  cuda::set_cudnn_benchmark(true);
  check_conv(GetParam(), DType::Float32);
  cuda::set_cudnn_benchmark(false);
}

INSTANTIATE_TEST_SUITE_P(
    ResNetShapes, CudaConv,
    ::testing::Values(ConvShape{"stem_7x7_stride2_pad3", {2, 3, 64, 64}, {64, 3, 7, 7}, {{2, 2}, {3, 3}}},
                      ConvShape{"block_3x3_64", {2, 64, 28, 28}, {64, 64, 3, 3}, {{1, 1}, {1, 1}}},
                      ConvShape{"downsample_1x1_stride2", {2, 64, 28, 28}, {128, 64, 1, 1}, {{2, 2}}},
                      ConvShape{"block_3x3_stride2", {2, 64, 28, 28}, {128, 64, 3, 3}, {{2, 2}, {1, 1}}},
                      ConvShape{"grouped_3x3", {2, 32, 14, 14}, {64, 8, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 4}}),
    [](const ::testing::TestParamInfo<ConvShape>& info) { return info.param.name; });

// A second call with the same shape reuses the cached descriptors and algorithm.
TEST(CudaConvCache, RepeatedCallsAreIdentical) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Generator gen(1);
  Tensor x = randn({2, 16, 12, 12}, TensorOptions().device(gpu()), &gen);
  Tensor w = randn({16, 16, 3, 3}, TensorOptions().device(gpu()), &gen);
  Tensor a = conv2d(x, w, Tensor(), {{1, 1}, {1, 1}});
  poison_cache(a.numel(), DType::Float32);
  Tensor b = conv2d(x, w, Tensor(), {{1, 1}, {1, 1}});
  EXPECT_TRUE(bitwise_equal(a, b));
}

}  // namespace
}  // namespace sepal::testing
