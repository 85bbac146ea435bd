// creation_test.cpp: fill, arange and the random creators on CUDA against the CPU backend.
// Random tensors depend only on (seed, offset, index), so both devices must agree bit for bit
// (randn in float64 only to the last bits: CUDA's and glibc's log/cos round differently).
#include <gtest/gtest.h>

#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

const DType kAllDTypes[] = {DType::Float32, DType::Float64, DType::Int64, DType::UInt8, DType::Bool};

TEST(CudaCreation, FullMatchesCpuForEveryDType) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  for (DType dtype : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dtype));
    for (double value : {0.0, 1.0, 7.0, -2.5}) {
      if (dtype == DType::UInt8 && value < 0) continue;  // out of range: undefined conversion
      Tensor c = full({3, 5}, value, TensorOptions().dtype(dtype));
      Tensor g = full({3, 5}, value, TensorOptions().dtype(dtype).device(gpu()));
      EXPECT_EQ(g.device(), gpu());
      EXPECT_TRUE(bitwise_equal(c, g)) << "value " << value;
    }
  }
  Tensor g = zeros({}, TensorOptions().device(gpu()));  // 0-dim
  EXPECT_EQ(g.item<double>(), 0.0);
}

TEST(CudaCreation, FillWritesOnlyTheViewAnyStrides) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  for (DType dtype : {DType::Float32, DType::Int64, DType::UInt8}) {
    SCOPED_TRACE(dtype_name(dtype));
    Tensor c = full({6, 7}, 3.0, TensorOptions().dtype(dtype));
    Tensor g = full({6, 7}, 3.0, TensorOptions().dtype(dtype).device(gpu()));
    for (Tensor* t : {&c, &g}) {
      raw::fill_(raw::narrow(*t, 1, 2, 3), 9.0);                       // inner-dim slice
      raw::fill_(raw::transpose(raw::narrow(*t, 0, 4, 2), 0, 1), 5.0);  // transposed rows 4..5
    }
    EXPECT_TRUE(bitwise_equal(c, g));
    std::vector<double> v = g.to_vector<double>();
    EXPECT_EQ(v[0], 3.0);   // untouched
    EXPECT_EQ(v[2], 9.0);   // row 0, col 2
    EXPECT_EQ(v[4 * 7 + 2], 5.0);
  }
}

TEST(CudaCreation, ArangeMatchesCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  // exactly representable steps: equal bit for bit in every dtype
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64}) {
    SCOPED_TRACE(dtype_name(dtype));
    EXPECT_TRUE(bitwise_equal(arange(0, 37, 1, dtype), arange(0, 37, 1, TensorOptions().dtype(dtype).device(gpu()))));
    EXPECT_TRUE(bitwise_equal(arange(-5, 20, 3, dtype), arange(-5, 20, 3, TensorOptions().dtype(dtype).device(gpu()))));
  }
  EXPECT_TRUE(bitwise_equal(arange(0.5, 7.0, 0.25, DType::Float32),
                            arange(0.5, 7.0, 0.25, TensorOptions().dtype(DType::Float32).device(gpu()))));
  // a step with no exact binary form: start + i * step may round once or twice
  EXPECT_TRUE(all_close(arange(-3, 3, 0.1, DType::Float64),
                        arange(-3, 3, 0.1, TensorOptions().dtype(DType::Float64).device(gpu())), 0, 1e-15));
  // more elements than one grid pass of threads covers
  const int64_t n = (int64_t(1) << 20) + 3;
  Tensor big = arange(0, static_cast<double>(n), 1, TensorOptions().dtype(DType::Int64).device(gpu()));
  ASSERT_EQ(big.numel(), n);
  EXPECT_TRUE(bitwise_equal(arange(0, static_cast<double>(n), 1, DType::Int64), big));
  EXPECT_EQ(raw::narrow(big, 0, n - 1, 1).item<int64_t>(), n - 1);
}

TEST(CudaCreation, RandomIsBitwiseEqualToCpuForTheSameGenerator) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const int64_t n = (int64_t(1) << 20) + 3;
  Generator gc(4242), gg(4242);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dtype));
    Tensor c = rand({n}, dtype, &gc);
    Tensor g = rand({n}, TensorOptions().dtype(dtype).device(gpu()), &gg);
    EXPECT_TRUE(bitwise_equal(c, g)) << "rand";
    EXPECT_TRUE(bitwise_equal(uniform({999}, -2.0, 3.0, dtype, &gc),
                              uniform({999}, -2.0, 3.0, TensorOptions().dtype(dtype).device(gpu()), &gg)))
        << "uniform";
    // values really are random: in [0, 1) and not all equal
    EXPECT_GE(g.min().item<double>(), 0.0);
    EXPECT_LT(g.max().item<double>(), 1.0);
    EXPECT_GT(g.max().item<double>() - g.min().item<double>(), 0.9);
  }
  // randn: float32 agrees bitwise (the float64 intermediate rounds to the same float);
  // float64 to a few units in the last place
  EXPECT_TRUE(bitwise_equal(randn({10007}, DType::Float32, &gc),
                            randn({10007}, TensorOptions().dtype(DType::Float32).device(gpu()), &gg)))
      << "randn float32";
  EXPECT_TRUE(bitwise_equal(normal({4099}, 3.0, 0.5, DType::Float32, &gc),
                            normal({4099}, 3.0, 0.5, TensorOptions().dtype(DType::Float32).device(gpu()), &gg)))
      << "normal float32";
  EXPECT_TRUE(all_close(randn({10007}, DType::Float64, &gc),
                        randn({10007}, TensorOptions().dtype(DType::Float64).device(gpu()), &gg), 1e-14, 1e-14))
      << "randn float64";
  // integers
  EXPECT_TRUE(bitwise_equal(randint(-5, 17, {5003}, DType::Int64, &gc),
                            randint(-5, 17, {5003}, TensorOptions().dtype(DType::Int64).device(gpu()), &gg)))
      << "randint int64";
  EXPECT_TRUE(bitwise_equal(randint(0, 200, {5003}, DType::UInt8, &gc),
                            randint(0, 200, {5003}, TensorOptions().dtype(DType::UInt8).device(gpu()), &gg)))
      << "randint uint8";
  // both generators advanced by the same counts
  EXPECT_EQ(gc.seed(), gg.seed());
  EXPECT_EQ(gc.offset(), gg.offset());
}

TEST(CudaCreation, RandomRestoresFromGeneratorState) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Generator gen(7);
  gen.set_state(7, 123456);
  Tensor first = randn({64, 33}, TensorOptions().device(gpu()), &gen);
  gen.set_state(7, 123456);
  Tensor again = randn({64, 33}, TensorOptions().device(gpu()), &gen);
  EXPECT_TRUE(bitwise_equal(first, again));
  Tensor next = randn({64, 33}, TensorOptions().device(gpu()), &gen);
  EXPECT_FALSE(bitwise_equal(first, next));
}

}  // namespace
}  // namespace sepal::testing
