// threads_settings_test.cpp: CUDA work from several threads at once (each thread has its own
// cuBLAS and cuDNN handle, all bound to the device's compute stream), and the TF32 switch (off:
// float32 matches the CPU; on: cuBLAS really uses TF32 tensor cores, so the error grows).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "autograd/nn_functions.h"
#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

// Every thread runs matmuls and convolutions of its own shapes many times; each result must
// equal the CPU's within float rounding. With one handle shared by the threads (the old code),
// cuBLAS/cuDNN state races could corrupt results or fail calls.
TEST(CudaThreads, ConcurrentMatmulsAndConvolutionsMatchCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  constexpr int kThreads = 4;
  struct Work {
    Tensor a, b, x, w;     // CPU inputs
    Tensor mm, conv;       // CPU results
  };
  std::vector<Work> work(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    Generator gen(100 + t);
    Work& k = work[t];
    k.a = randn({64 + 16 * t, 96}, DType::Float32, &gen);
    k.b = randn({96, 48 + 8 * t}, DType::Float32, &gen);
    k.x = randn({2, 8 + 4 * t, 20, 20}, DType::Float32, &gen);
    k.w = randn({16, 8 + 4 * t, 3, 3}, DType::Float32, &gen);
    k.mm = raw::matmul(k.a, k.b);
    k.conv = conv2d(k.x, k.w, Tensor(), {{1, 1}, {1, 1}});
  }
  std::vector<int> failures(kThreads, 0);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        const Work& k = work[t];
        Tensor a = k.a.to(gpu()), b = k.b.to(gpu()), x = k.x.to(gpu()), w = k.w.to(gpu());
        for (int i = 0; i < 20; ++i) {
          failures[t] += !all_close(k.mm, raw::matmul(a, b), 1e-5, 1e-4);
          failures[t] += !all_close(k.conv, conv2d(x, w, Tensor(), {{1, 1}, {1, 1}}), 1e-4, 1e-4);
        }
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0) << "thread " << t;
    EXPECT_EQ(errors[t], "") << "thread " << t;
  }
}

// The largest |gpu - cpu| of a 1024 x 1024 x 1024 float32 product.
double matmul_error(const Tensor& a, const Tensor& b, const Tensor& expected) {
  Tensor g = raw::matmul(a.to(gpu()), b.to(gpu()));
  return (host_copy(g) - expected).abs().max().item<double>();
}

TEST(CudaTf32, OffByDefaultOnChangesFloat32Matmuls) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  ASSERT_FALSE(cuda::allow_tf32());
  Generator gen(9);
  Tensor a = randn({1024, 1024}, DType::Float32, &gen), b = randn({1024, 1024}, DType::Float32, &gen);
  Tensor expected = raw::matmul(a, b);  // entries ~ N(0, 1024): |x| up to ~100
  const double fp32 = matmul_error(a, b, expected);
  cuda::set_allow_tf32(true);
  const double tf32 = matmul_error(a, b, expected);
  cuda::set_allow_tf32(false);
  const double back = matmul_error(a, b, expected);
  // float32 accumulation differences stay ~1e-4 here; TF32's 10-bit inputs give ~1e-2 and more
  EXPECT_LT(fp32, 1e-3);
  EXPECT_GT(tf32, 10 * fp32) << "TF32 on did not change the result: cuBLAS did not use TF32";
  EXPECT_LT(tf32, 1.0);
  EXPECT_EQ(back, fp32) << "turning TF32 off again must give the float32 result";
}

}  // namespace
}  // namespace sepal::testing
