// matmul_test.cpp: cuBLAS matmul against the CPU (OpenBLAS) and a hand-computed product:
// row-major and transposed operands, padded leading dimensions, batched and batch-broadcast
// (stride 0) operands, sizes with k not a multiple of any tile, in float32 and float64. Each
// operand is a base tensor plus the view taken of it, and the view is taken again after the base
// is moved to the GPU: moving the view itself would give a contiguous copy, and cuBLAS would never
// see CUBLAS_OP_T, a leading dimension above the width or an unusual batch stride.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

// A matmul operand: a contiguous base and the view of it that is multiplied.
struct Operand {
  Tensor base;
  std::function<Tensor(const Tensor&)> view = [](const Tensor& t) { return t; };
  Operand(Tensor b) : base(std::move(b)) {}  // NOLINT: a plain tensor is its own view
  Operand(Tensor b, std::function<Tensor(const Tensor&)> v) : base(std::move(b)), view(std::move(v)) {}
};

// The same view of the base on the GPU, with the CPU view's strides (checked).
Tensor gpu_view(const Operand& op, const Tensor& cpu_view) {
  Tensor g = op.view(raw::to_device(op.base, gpu()));
  EXPECT_EQ(g.strides(), cpu_view.strides()) << "the GPU operand lost the view's strides";
  return g;
}

// float32 GEMMs differ by accumulation order: allow about sqrt(k) roundings of the row's scale.
void expect_matmul_matches(const Operand& opa, const Operand& opb, const std::string& what) {
  const Tensor a = opa.view(opa.base), b = opb.view(opb.base);
  SCOPED_TRACE(what + ": " + shape_str(a.shape()) + " @ " + shape_str(b.shape()) + " strides " +
               shape_str(a.strides()) + " @ " + shape_str(b.strides()) + " " + dtype_name(a.dtype()));
  Tensor c = raw::matmul(a, b);
  Tensor ga = gpu_view(opa, a), gb = gpu_view(opb, b);
  poison_cache(c.numel(), c.dtype(), 2);
  Tensor g = raw::matmul(ga, gb);
  ASSERT_EQ(g.device(), gpu());
  const double k = static_cast<double>(a.size(-1));
  const bool f32 = a.dtype() == DType::Float32;
  const double atol = (f32 ? 2e-6 : 1e-14) * std::sqrt(k) * 4.0;
  EXPECT_TRUE(all_close(c, g, f32 ? 1e-5 : 1e-12, atol));
}

TEST(CudaMatmul, HandComputedProduct) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  // [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[1*5 + 2*7, 1*6 + 2*8], [3*5 + 4*7, 3*6 + 4*8]]
  Tensor a = from_vector<float>({1, 2, 3, 4}, {2, 2}, TensorOptions().device(gpu()));
  Tensor b = from_vector<float>({5, 6, 7, 8}, {2, 2}, TensorOptions().device(gpu()));
  EXPECT_EQ(raw::matmul(a, b).to_vector<float>(), (std::vector<float>{19, 22, 43, 50}));
  // non-square: [1, 3] @ [3, 2]: [1*1 + 2*3 + 3*5, 1*2 + 2*4 + 3*6]
  Tensor r = from_vector<double>({1, 2, 3}, {1, 3}, TensorOptions().device(gpu()));
  Tensor s = from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2}, TensorOptions().device(gpu()));
  EXPECT_EQ(raw::matmul(r, s).to_vector<double>(), (std::vector<double>{22, 28}));
  // transposed operand: a^T @ b = [[1*5 + 3*7, 1*6 + 3*8], [2*5 + 4*7, 2*6 + 4*8]]
  EXPECT_EQ(raw::matmul(raw::transpose(a, 0, 1), b).to_vector<float>(), (std::vector<float>{26, 30, 38, 44}));
}

TEST(CudaMatmul, ShapesAndLayoutsMatchCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  struct Size { int64_t m, k, n; };
  const Size sizes[] = {{1, 1, 1}, {1, 7, 1}, {3, 1, 5}, {17, 13, 11}, {64, 129, 33}, {257, 1003, 129}, {5, 2049, 3}};
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const Size& sz : sizes) {
      const auto t01 = [](const Tensor& t) { return raw::transpose(t, 0, 1); };
      const Operand a = randn({sz.m, sz.k}, dtype), b = randn({sz.k, sz.n}, dtype);
      const Operand at{randn({sz.k, sz.m}, dtype), t01};  // [m, k], column-major
      const Operand bt{randn({sz.n, sz.k}, dtype), t01};  // [k, n], column-major
      expect_matmul_matches(a, b, "row-major @ row-major");
      expect_matmul_matches(at, b, "transposed @ row-major");
      expect_matmul_matches(a, bt, "row-major @ transposed");
      expect_matmul_matches(at, bt, "transposed @ transposed");
      // leading dimensions larger than the matrix: windows of wider tensors
      const Operand a_pad{randn({sz.m, sz.k + 3}, dtype), [&](const Tensor& t) { return raw::narrow(t, 1, 2, sz.k); }};
      const Operand bt_pad{randn({sz.n, sz.k + 5}, dtype),
                           [&](const Tensor& t) { return raw::transpose(raw::narrow(t, 1, 1, sz.k), 0, 1); }};
      expect_matmul_matches(a_pad, bt_pad, "padded row-major @ padded transposed");
      const Operand at_pad{randn({sz.k, sz.m + 4}, dtype),
                           [&](const Tensor& t) { return raw::transpose(raw::narrow(t, 1, 3, sz.m), 0, 1); }};
      expect_matmul_matches(at_pad, b, "padded transposed @ row-major");
    }
  }
}

TEST(CudaMatmul, BatchedAndBroadcastBatches) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const int64_t B = 4, m = 9, k = 37, n = 6;
    const auto t12 = [](const Tensor& t) { return raw::transpose(t, 1, 2); };
    const Operand a = randn({B, m, k}, dtype), b = randn({B, k, n}, dtype);
    expect_matmul_matches(a, b, "batched");
    expect_matmul_matches(Operand{randn({B, k, m}, dtype), t12}, Operand{randn({B, n, k}, dtype), t12},
                          "batched, both transposed");
    expect_matmul_matches(randn({m, k}, dtype), b, "2-D lhs broadcast over the batch");
    expect_matmul_matches(a, randn({k, n}, dtype), "2-D rhs broadcast over the batch");
    expect_matmul_matches(Operand{randn({1, m, k}, dtype), [&](const Tensor& t) { return raw::expand(t, {B, m, k}); }},
                          b, "expanded lhs (batch stride 0)");
    expect_matmul_matches(
        a, Operand{randn({1, n, k}, dtype), [&](const Tensor& t) { return raw::expand(raw::transpose(t, 1, 2), {B, k, n}); }},
        "expanded transposed rhs (batch stride 0)");
    // a batch taken every other matrix: batch stride twice the matrix size
    const Operand every_other{randn({B, 2, m, k}, dtype),
                              [&](const Tensor& t) { return raw::narrow(raw::reshape(t, {B, 2 * m, k}), 1, 0, m); }};
    expect_matmul_matches(every_other, b, "batch stride larger than the matrix");
    // transposed, padded and every other batch at once
    const Operand mixed{randn({B, 2, k, m + 2}, dtype), [&](const Tensor& t) {
                          return raw::transpose(raw::narrow(raw::reshape(t, {B, 2 * k, m + 2}), 2, 1, m).narrow(1, 0, k), 1, 2);
                        }};
    expect_matmul_matches(mixed, b, "transposed, padded, batch stride twice the matrix");
    // the broadcast operand's gradient sums over the batch
    Tensor w = randn({k, n}, dtype).requires_grad_(true);
    Tensor gw = raw::to_device(w.detach(), gpu()).requires_grad_(true);
    Tensor x = randn({B, m, k}, dtype);
    Tensor gy = randn({B, m, n}, dtype);
    matmul(x, w).backward(gy);
    matmul(raw::to_device(x, gpu()), gw).backward(raw::to_device(gy, gpu()));
    EXPECT_TRUE(all_close(w.grad(), gw.grad(), dtype == DType::Float32 ? 1e-4 : 1e-12, dtype == DType::Float32 ? 1e-4 : 1e-12));
  }
}

}  // namespace
}  // namespace sepal::testing
