// norm_pool_test.cpp: CUDA batch_norm, max_pool2d and adaptive_avg_pool2d against the CPU backend
// on ResNet-shaped tensors, in float32 and float64: the forward, the max-pool indices, the
// running-statistics update and every gradient, with the same inputs and upstream gradient. The
// small op-table shapes are covered by op_parity_test.cpp. Skips without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>

#include "autograd/nn_functions.h"
#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

// float32: relative 1e-4 plus 1e-5 of the RMS for entries that cancel towards zero (the devices
// sum in different orders); float64: 1e-10.
::testing::AssertionResult close(const Tensor& expected, const Tensor& actual) {
  const double rms = std::sqrt(raw::to_device(expected, Device::cpu()).square().mean().item<double>());
  if (expected.dtype() == DType::Float64) return all_close(expected, actual, 1e-10, 1e-10 * rms + 1e-12);
  return all_close(expected, actual, 1e-4, 1e-5 * rms + 1e-6);
}

// A CPU leaf and its GPU copy, both requiring grad.
struct Pair {
  Tensor cpu, gpu;
};
Pair leaf_pair(const Tensor& t, bool requires_grad = true) {
  Pair p{t.detach(), raw::to_device(t, gpu())};
  if (requires_grad) {
    p.cpu.requires_grad_(true);
    p.gpu.requires_grad_(true);
  }
  return p;
}

struct BnCase {
  std::string name;
  Shape x;
  bool training, affine, running;
};

void PrintTo(const BnCase& c, std::ostream* os) { *os << c.name; }

class CudaBatchNorm : public ::testing::TestWithParam<BnCase> {};

void check_batch_norm(const BnCase& c, DType dtype) {
  SCOPED_TRACE(c.name + " in " + dtype_name(dtype));
  Generator gen(5);
  const int64_t C = c.x[1];
  Pair x = leaf_pair(randn(c.x, dtype, &gen) * 3.0 + 0.5);
  Pair w = leaf_pair(uniform({C}, 0.5, 1.5, dtype, &gen)), b = leaf_pair(randn({C}, dtype, &gen));
  Pair rm = leaf_pair(randn({C}, dtype, &gen) * 0.1, false), rv = leaf_pair(uniform({C}, 0.5, 2.0, dtype, &gen), false);
  auto run = [&](const Tensor& xi, const Tensor& wi, const Tensor& bi, const Tensor& rmi, const Tensor& rvi) {
    return batch_norm(xi, c.running ? rmi : Tensor(), c.running ? rvi : Tensor(), c.affine ? wi : Tensor(),
                      c.affine ? bi : Tensor(), c.training);
  };
  Tensor y_cpu = run(x.cpu, w.cpu, b.cpu, rm.cpu, rv.cpu);
  poison_cache(y_cpu.numel(), dtype);
  Tensor y_gpu = run(x.gpu, w.gpu, b.gpu, rm.gpu, rv.gpu);
  ASSERT_EQ(y_gpu.device(), gpu());
  EXPECT_TRUE(close(y_cpu, y_gpu)) << "forward";
  EXPECT_TRUE(close(rm.cpu, rm.gpu)) << "running_mean";
  EXPECT_TRUE(close(rv.cpu, rv.gpu)) << "running_var";

  Generator ggen(11);
  Tensor g = randn(y_cpu.shape(), dtype, &ggen);
  y_cpu.backward(g);
  poison_cache(x.cpu.numel(), dtype, 4);
  y_gpu.backward(raw::to_device(g, gpu()));
  EXPECT_TRUE(close(x.cpu.grad(), x.gpu.grad())) << "grad input";
  if (c.affine) {
    EXPECT_TRUE(close(w.cpu.grad(), w.gpu.grad())) << "grad weight";
    EXPECT_TRUE(close(b.cpu.grad(), b.gpu.grad())) << "grad bias";
  }
}

TEST_P(CudaBatchNorm, Float32MatchesCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  check_batch_norm(GetParam(), DType::Float32);
}

TEST_P(CudaBatchNorm, Float64MatchesCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  check_batch_norm(GetParam(), DType::Float64);
}

INSTANTIATE_TEST_SUITE_P(ResNetShapes, CudaBatchNorm,
                         ::testing::Values(BnCase{"stem_train", {8, 64, 56, 56}, true, true, true},
                                           BnCase{"layer3_train", {4, 256, 14, 14}, true, true, true},
                                           BnCase{"layer4_train", {8, 2048, 7, 7}, true, true, true},
                                           BnCase{"features_2d_train", {32, 512}, true, true, true},
                                           BnCase{"no_affine_no_running", {4, 64, 28, 28}, true, false, false},
                                           BnCase{"eval", {8, 128, 28, 28}, false, true, true},
                                           BnCase{"eval_no_affine", {16, 512}, false, false, true}),
                         [](const ::testing::TestParamInfo<BnCase>& info) { return info.param.name; });

struct PoolCase {
  std::string name;
  Shape x;
  bool max;
  MaxPool2dOptions options;          // max pooling
  std::array<int64_t, 2> size{1, 1};  // adaptive average pooling
};

void PrintTo(const PoolCase& c, std::ostream* os) { *os << c.name; }

class CudaPool : public ::testing::TestWithParam<PoolCase> {};

void check_pool(const PoolCase& c, DType dtype) {
  SCOPED_TRACE(c.name + " in " + dtype_name(dtype));
  Generator gen(9);
  Pair x = leaf_pair(randn(c.x, dtype, &gen));
  Tensor y_cpu, y_gpu;
  if (c.max) {
    auto [yc, ic] = max_pool2d_with_indices(x.cpu, c.options);
    poison_cache(yc.numel(), dtype);
    poison_cache(ic.numel(), DType::Int64);
    auto [yg, ig] = max_pool2d_with_indices(x.gpu, c.options);
    // randn values have no ties, so both devices pick the same positions
    EXPECT_TRUE(bitwise_equal(ic, ig)) << "indices";
    y_cpu = yc;
    y_gpu = yg;
  } else {
    y_cpu = adaptive_avg_pool2d(x.cpu, c.size);
    poison_cache(y_cpu.numel(), dtype);
    y_gpu = adaptive_avg_pool2d(x.gpu, c.size);
  }
  ASSERT_EQ(y_gpu.device(), gpu());
  EXPECT_TRUE(close(y_cpu, y_gpu)) << "forward";
  Generator ggen(13);
  Tensor g = randn(y_cpu.shape(), dtype, &ggen);
  y_cpu.backward(g);
  poison_cache(x.cpu.numel(), dtype, 4);
  y_gpu.backward(raw::to_device(g, gpu()));
  EXPECT_TRUE(close(x.cpu.grad(), x.gpu.grad())) << "grad input";
}

TEST_P(CudaPool, Float32MatchesCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  check_pool(GetParam(), DType::Float32);
}

TEST_P(CudaPool, Float64MatchesCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  check_pool(GetParam(), DType::Float64);
}

INSTANTIATE_TEST_SUITE_P(
    ResNetShapes, CudaPool,
    ::testing::Values(PoolCase{"max_stem", {8, 64, 112, 112}, true, {{3, 3}, {2, 2}, {1, 1}}},
                      PoolCase{"max_2x2", {4, 32, 30, 30}, true, {{2, 2}}},
                      PoolCase{"max_ceil_dilated", {2, 16, 33, 27}, true, {{3, 3}, {2, 2}, {1, 1}, {2, 2}, true}},
                      PoolCase{"avg_global", {8, 512, 7, 7}, false, {}, {1, 1}},
                      PoolCase{"avg_global_large", {2, 64, 56, 56}, false, {}, {1, 1}},
                      PoolCase{"avg_uneven", {4, 64, 13, 11}, false, {}, {3, 5}},
                      PoolCase{"avg_upsample", {2, 8, 5, 3}, false, {}, {7, 6}}),
    [](const ::testing::TestParamInfo<PoolCase>& info) { return info.param.name; });

}  // namespace
}  // namespace sepal::testing
