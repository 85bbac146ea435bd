// batch_norm_relu_test.cpp: BatchNorm and ReLU fused into one pass (batch_norm_relu) against the
// composition relu(batch_norm(...)): the output, the running statistics and the gradients of
// input, weight and bias, in training and eval mode, float32 and float64, row-major and
// channels-last, on both CPU paths (small planes by channel range, large planes one by one).
// Gradients against finite differences: the op table (tests/common/op_cases.h).
#include <gtest/gtest.h>

#include <sepal.h>

#include "autograd/nn_functions.h"
#include "common/scaled_error.h"

namespace sepal::testing {
namespace {

struct Result {
  Tensor out, grad_input, grad_weight, grad_bias, running_mean, running_var;
};

Result run(bool fused, const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& upstream, bool training) {
  const DType dtype = x0.dtype();
  Tensor x = x0.detach().requires_grad_(true), w = w0.detach().requires_grad_(true), b = b0.detach().requires_grad_(true);
  Tensor rm = full({x0.size(1)}, 0.25, dtype), rv = full({x0.size(1)}, 1.5, dtype);
  Tensor y = fused ? batch_norm_relu(x, rm, rv, w, b, training, 0.1, 1e-5)
                   : batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5).relu();
  (y * upstream).sum().backward();
  return {y, x.grad(), w.grad(), b.grad(), rm, rv};
}

TEST(BatchNormRelu, EqualsTheComposition) {
  for (const DType dtype : {DType::Float32, DType::Float64})
    for (const Shape& shape : {Shape{4, 6, 3, 3}, Shape{2, 5, 8, 8}, Shape{16, 7}})
      for (const MemoryFormat format : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast})
        for (const bool training : {true, false}) {
          if (format == MemoryFormat::ChannelsLast && shape.size() != 4) continue;
          Generator gen(11);
          const Tensor x = raw::contiguous(randn(shape, TensorOptions().dtype(dtype), &gen), format);
          const Tensor w = rand({shape[1]}, TensorOptions().dtype(dtype), &gen) + 0.5;
          const Tensor b = randn({shape[1]}, TensorOptions().dtype(dtype), &gen) * 0.5;
          const Tensor upstream = randn(shape, TensorOptions().dtype(dtype), &gen);
          const Result got = run(true, x, w, b, upstream, training), want = run(false, x, w, b, upstream, training);
          const std::string what = shape_str(shape) + " " + dtype_name(dtype) + " " + memory_format_name(format) +
                                   (training ? " train" : " eval");
          const double tol = rounding_tolerance(dtype);
          EXPECT_LE(scaled_error(got.out, want.out), tol) << what;
          EXPECT_GE(got.out.min().item<double>(), 0.0) << what;
          EXPECT_LE(scaled_error(got.grad_input, want.grad_input), 10 * tol) << what;
          EXPECT_LE(scaled_error(got.grad_weight, want.grad_weight), 10 * tol) << what;
          EXPECT_LE(scaled_error(got.grad_bias, want.grad_bias), 10 * tol) << what;
          EXPECT_LE(scaled_error(got.running_mean, want.running_mean), tol) << what;
          EXPECT_LE(scaled_error(got.running_var, want.running_var), tol) << what;
          if (shape.size() == 4) EXPECT_EQ(got.out.memory_format(), format) << what;
        }
}

// The ReLU is really there: outputs clamped where the normalised value is negative, and an input
// gradient unlike plain BatchNorm's (the mask matters, so the comparison above can fail).
TEST(BatchNormRelu, ClampsAndMasksTheGradient) {
  const Tensor x0 = randn({3, 4, 5, 5}, DType::Float64);
  Tensor x = x0.detach().requires_grad_(true), xp = x0.detach().requires_grad_(true);
  const Tensor y = batch_norm_relu(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
  const Tensor plain = batch_norm(xp, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
  const Tensor upstream = randn({3, 4, 5, 5}, DType::Float64);
  (y * upstream).sum().backward();
  (plain * upstream).sum().backward();
  const std::vector<double> out = y.to_vector<double>(), pre = plain.to_vector<double>();
  int64_t clamped = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i], pre[i] > 0 ? pre[i] : 0.0) << i;
    clamped += pre[i] < 0;
  }
  EXPECT_GT(clamped, 100);  // about half of 300
  EXPECT_GT(scaled_error(x.grad(), xp.grad()), 0.1);
}

}  // namespace
}  // namespace sepal::testing
