// op_parity_test.cpp: every case of the shared op table (common/op_cases.h) gives the same
// forward result and the same gradient for every input on CUDA as on the CPU, in float32 and in
// float64, with the same inputs and the same random upstream gradient.
#include <gtest/gtest.h>

#include <ostream>

#include "common/op_cases.h"
#include "cuda/cuda_test_util.h"

namespace sepal::testing {

// Lets GoogleTest print a case by name instead of as raw bytes.
inline void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

namespace {

struct Tolerance {
  double rtol, atol;
};

void check_parity(const OpCase& c, DType dtype, Tolerance tol) {
  SCOPED_TRACE(c.name + " in " + dtype_name(dtype));
  std::vector<Tensor> cpu_in = make_inputs(c, dtype, Device::cpu());
  std::vector<Tensor> gpu_in = make_inputs(c, dtype, gpu());
  ASSERT_EQ(cpu_in.size(), gpu_in.size());
  for (size_t i = 0; i < cpu_in.size(); ++i) {
    ASSERT_EQ(gpu_in[i].device(), gpu());
    // the same values reach both devices (make_inputs draws them on the CPU)
    ASSERT_TRUE(bitwise_equal(cpu_in[i], gpu_in[i])) << "input " << i;
    if (c.differentiable) {
      cpu_in[i].requires_grad_(true);
      gpu_in[i].requires_grad_(true);
    }
  }
  Tensor y_cpu = c.fn(cpu_in);
  poison_cache(y_cpu.numel(), dtype);
  Tensor y_gpu = c.fn(gpu_in);
  ASSERT_EQ(y_gpu.device(), gpu());
  EXPECT_TRUE(all_close(y_cpu, y_gpu, tol.rtol, tol.atol)) << "forward";
  if (!c.differentiable) return;

  Generator gen(20240611);
  Tensor g_cpu = randn(y_cpu.shape(), dtype, &gen);
  Tensor g_gpu = raw::to_device(g_cpu, gpu());
  y_cpu.backward(g_cpu);
  for (const Tensor& x : gpu_in) poison_cache(x.numel(), dtype, 4);
  y_gpu.backward(g_gpu);
  size_t with_grad = 0;
  for (size_t i = 0; i < cpu_in.size(); ++i) {
    // an input that reaches the output only through a comparison (where's condition) gets none
    ASSERT_EQ(cpu_in[i].grad().defined(), gpu_in[i].grad().defined()) << "gradient of input " << i;
    if (!cpu_in[i].grad().defined()) continue;
    ++with_grad;
    EXPECT_EQ(gpu_in[i].grad().device(), gpu()) << "input " << i;
    EXPECT_TRUE(all_close(cpu_in[i].grad(), gpu_in[i].grad(), tol.rtol, tol.atol)) << "gradient of input " << i;
  }
  EXPECT_GT(with_grad, 0u) << "no input received a gradient";
}

class CudaOpParity : public ::testing::TestWithParam<OpCase> {};

TEST_P(CudaOpParity, Float32MatchesCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  check_parity(GetParam(), DType::Float32, {1e-4, 1e-5});
}

TEST_P(CudaOpParity, Float64MatchesCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  check_parity(GetParam(), DType::Float64, {1e-10, 1e-12});
}

INSTANTIATE_TEST_SUITE_P(AllOps, CudaOpParity, ::testing::ValuesIn(op_cases()),
                         [](const ::testing::TestParamInfo<OpCase>& info) { return info.param.name; });

}  // namespace
}  // namespace sepal::testing
