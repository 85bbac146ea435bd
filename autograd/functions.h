// functions.h: the differentiable op API. Every function here records its backward when an input
// requires grad (see node.h); the same math is available as tensor methods (x.exp(), x.sum()).
// Binary ops broadcast like NumPy and need equal dtypes and devices.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace sepal {

// The elementwise functions are generated from the op lists of tensor/kernels/elementwise_ops.h,
// one per entry (add an op there, not here).

// ---- elementwise, tensor with tensor: add, sub, mul, div, maximum, minimum (SEPAL_BINARY_OPS) ----
#define SEPAL_DECLARE_BINARY(Functor, name, ...) Tensor name(const Tensor& a, const Tensor& b);
SEPAL_BINARY_OPS(SEPAL_DECLARE_BINARY)
#undef SEPAL_DECLARE_BINARY
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- elementwise, tensor with scalar ----
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor pow(const Tensor& a, double exponent);
Tensor clamp(const Tensor& a, double min, double max);

// ---- unary: neg, exp, log, sqrt, rsqrt, abs, relu, sigmoid, tanh, ... (SEPAL_MATH_UNARY_OPS) ----
#define SEPAL_DECLARE_UNARY(Functor, name, ...) Tensor name(const Tensor& x);
SEPAL_MATH_UNARY_OPS(SEPAL_DECLARE_UNARY)
#undef SEPAL_DECLARE_UNARY

// ---- comparisons (bool results, no gradient): eq, ne, lt, le, gt, ge (SEPAL_COMPARE_OPS) ----
#define SEPAL_DECLARE_COMPARE(Functor, name, ...) Tensor name(const Tensor& a, const Tensor& b);
SEPAL_COMPARE_OPS(SEPAL_DECLARE_COMPARE)
#undef SEPAL_DECLARE_COMPARE
Tensor eq(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);

// ---- reductions (empty dims = all dims) ----
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Maximum/minimum values; ties share the gradient equally (torch.amax / torch.amin).
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);

// ---- linear algebra ----
// [m, k] @ [k, n]; [B, m, k] @ [B, k, n]; a 2-D operand broadcasts over the other's batch.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- operators ----
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

}  // namespace sepal
