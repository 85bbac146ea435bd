// autocast_test.cpp: bf16 autocast on CUDA (cuDNN's BFLOAT16 convolutions and cuBLAS's bf16 GEMM)
// against the CPU's bf16 autocast on the same operands, forward and gradients, with backward run
// outside the guard. Both round the operands identically (tensor/kernels/bf16.h); cuDNN also rounds
// each pass's output to bf16, so the tolerance is a few bf16 ulps of the output's scale. The plain
// float32 CUDA result must be measurably different, so the test can fail. Skips without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "autograd/autocast.h"
#include "cuda/cuda_test_util.h"
#include "sepal.h"

namespace sepal::testing {
namespace {

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

// (output, grad of each input) of f on `inputs`, inside a bf16 autocast scope or not.
template <typename F>
std::vector<Tensor> run(F f, std::vector<Tensor> inputs, const Tensor& grad, Precision precision) {
  for (Tensor& t : inputs) t.requires_grad_();
  Tensor y;
  {
    AutocastGuard autocast(precision);
    y = f(inputs);
  }
  y.backward(grad.to(y.device()));
  std::vector<Tensor> out{y.detach().to(Device::cpu())};
  for (const Tensor& t : inputs) out.push_back(t.grad().to(Device::cpu()));
  return out;
}

template <typename F>
void expect_cuda_bf16_matches_cpu(F f, const std::vector<Tensor>& cpu_inputs, const Shape& out_shape) {
  Generator gen(17);
  Tensor grad = randn(out_shape, {}, &gen);
  std::vector<Tensor> gpu_inputs, cpu_copies;
  for (const Tensor& t : cpu_inputs) {
    gpu_inputs.push_back(t.to(gpu()));
    cpu_copies.push_back(t.clone());
  }
  const std::vector<Tensor> cpu = run(f, cpu_copies, grad, Precision::BFloat16);
  const std::vector<Tensor> cuda = run(f, gpu_inputs, grad, Precision::BFloat16);
  std::vector<Tensor> fp32_inputs;
  for (const Tensor& t : cpu_inputs) fp32_inputs.push_back(t.to(gpu()));
  const std::vector<Tensor> cuda_fp32 = run(f, fp32_inputs, grad, Precision::Float32);
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double scale = max_abs(cpu[i]);
    EXPECT_TRUE(all_close(cpu[i], cuda[i], 8e-3, 2e-3 * scale)) << "result " << i;
    EXPECT_FALSE(all_close(cpu[i], cuda_fp32[i], 1e-5, 2e-5 * scale)) << "float32 passed for bf16, result " << i;
  }
}

TEST(CudaAutocast, ConvolutionMatchesCpuBf16) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Generator gen(3);
  Tensor x = randn({2, 16, 14, 14}, {}, &gen), w = randn({32, 16, 3, 3}, {}, &gen);
  expect_cuda_bf16_matches_cpu(
      [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), {{2, 2}, {1, 1}}); }, {x, w},
      {2, 32, 7, 7});
}

TEST(CudaAutocast, LinearMatchesCpuBf16) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Generator gen(4);
  Tensor x = randn({8, 512}, {}, &gen), w = randn({102, 512}, {}, &gen);
  expect_cuda_bf16_matches_cpu([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {x, w}, {8, 102});
}

}  // namespace
}  // namespace sepal::testing
