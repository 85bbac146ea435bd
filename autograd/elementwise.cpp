// elementwise.cpp: differentiable unary, binary, scalar and comparison ops. Forward and backward
// come from the same functor (kernels/elementwise_ops.h): the backward of a unary op is
// grad * f'(x, y), of a binary op the functor's da/db (an add passes the gradient through: the
// residual connections of a ResNet); the engine reduces broadcast gradients.
// The plain functions (sepal::exp(x), x.exp(), add(a, b), eq(a, b)) are generated from that
// file's op lists; the scalar forms and operators below are written out.
#include <cmath>

#include "autograd/functions.h"
#include "autograd/node.h"
#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal {

namespace {

Tensor unary_op(UnaryOp op, const Tensor& x, UnaryArgs args = {}) {
  Tensor y = raw::unary(op, x, args);
  if (!autograd::any_requires_grad({x})) return y;
  Tensor y_saved = y.detach();  // saving y itself would make y own a node that owns y
  return autograd::record(op_name(op), y, {x},
                          [op, args, x, y_saved](const Tensor& g, const std::vector<bool>&) {
                            return std::vector<Tensor>{raw::unary_backward(op, g, x, y_saved, args)};
                          });
}

Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b) {
  Tensor y = raw::binary(op, a, b);
  if (op == BinaryOp::Add)  // d/da = d/db = 1: the gradient itself, no copy and no saved operands
    return autograd::record(op_name(op), y, {a, b}, [](const Tensor& g, const std::vector<bool>& needs) {
      return std::vector<Tensor>{needs[0] ? g : Tensor(), needs[1] ? g : Tensor()};
    });
  return autograd::record(op_name(op), y, {a, b},
                          [op, a, b](const Tensor& g, const std::vector<bool>& needs) {
                            std::vector<Tensor> grads(2);
                            for (int i = 0; i < 2; ++i)
                              if (needs[i]) grads[i] = raw::binary_backward(op, i, g, a, b);
                            return grads;
                          });
}

// True when `value` converts exactly to the non-floating dtype `t` (no fraction, in range).
bool exact_in(DType t, double value) {
  double hi = t == DType::Int64 ? 9223372036854775808.0 : (t == DType::UInt8 ? 256.0 : 2.0);
  double lo = t == DType::Int64 ? -hi : 0.0;
  return value == std::trunc(value) && value >= lo && value < hi;
}

// An integer tensor with a scalar stays integer, so the scalar must be an integer too: silently
// truncating 2.5 to 2 would give wrong results (there is no type promotion).
Tensor scalar_op(const Tensor& a, double value, UnaryOp float_op, BinaryOp int_op) {
  if (is_floating(a.dtype())) return unary_op(float_op, a, {value, 0.0});
  if (!exact_in(a.dtype(), value))
    throw DTypeError(std::string(op_name(int_op)) + ": scalar " + std::to_string(value) +
                     " is not representable in the " + dtype_name(a.dtype()) + " tensor " +
                     shape_str(a.shape()) + "; convert the tensor with .to(DType::Float32) first");
  return raw::binary(int_op, a, raw::scalar_like(a, value));
}

// Compares with a scalar exactly: a non-floating tensor against a scalar it cannot hold (2.5 for
// int64) is compared in float64 rather than against the truncated scalar.
Tensor compare_scalar(CompareOp op, const Tensor& a, double b) {
  if (is_floating(a.dtype()) || exact_in(a.dtype(), b)) return raw::compare(op, a, raw::scalar_like(a, b));
  Tensor wide = raw::cast(a, DType::Float64);
  return raw::compare(op, wide, raw::scalar_like(wide, b));
}

}  // namespace

#define SEPAL_DEFINE_BINARY(Functor, name, ...) \
  Tensor name(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Functor, a, b); }
SEPAL_BINARY_OPS(SEPAL_DEFINE_BINARY)
#undef SEPAL_DEFINE_BINARY

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Tensor y = raw::where(cond, a, b);
  return autograd::record("where", y, {a, b}, [cond](const Tensor& g, const std::vector<bool>& needs) {
    Tensor zero = raw::scalar_like(g, 0.0);
    std::vector<Tensor> grads(2);
    if (needs[0]) grads[0] = raw::where(cond, g, zero);
    if (needs[1]) grads[1] = raw::where(cond, zero, g);
    return grads;
  });
}

Tensor add(const Tensor& a, double b) { return scalar_op(a, b, UnaryOp::AddScalar, BinaryOp::Add); }
Tensor mul(const Tensor& a, double b) { return scalar_op(a, b, UnaryOp::MulScalar, BinaryOp::Mul); }
Tensor pow(const Tensor& a, double exponent) { return unary_op(UnaryOp::PowScalar, a, {exponent, 0.0}); }
Tensor clamp(const Tensor& a, double min, double max) {
  if (min > max) throw Error("clamp: min " + std::to_string(min) + " is greater than max " + std::to_string(max));
  return unary_op(UnaryOp::Clamp, a, {min, max});
}

#define SEPAL_DEFINE_UNARY(Functor, name, ...)                            \
  Tensor name(const Tensor& x) { return unary_op(UnaryOp::Functor, x); } \
  Tensor Tensor::name() const { return sepal::name(*this); }
SEPAL_MATH_UNARY_OPS(SEPAL_DEFINE_UNARY)
#undef SEPAL_DEFINE_UNARY

#define SEPAL_DEFINE_COMPARE(Functor, name, ...) \
  Tensor name(const Tensor& a, const Tensor& b) { return raw::compare(CompareOp::Functor, a, b); }
SEPAL_COMPARE_OPS(SEPAL_DEFINE_COMPARE)
#undef SEPAL_DEFINE_COMPARE

Tensor eq(const Tensor& a, double b) { return compare_scalar(CompareOp::Eq, a, b); }
Tensor lt(const Tensor& a, double b) { return compare_scalar(CompareOp::Lt, a, b); }
Tensor gt(const Tensor& a, double b) { return compare_scalar(CompareOp::Gt, a, b); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) {
  if (!is_floating(a.dtype())) return scalar_op(a, b, UnaryOp::MulScalar, BinaryOp::Div);  // throws
  return mul(a, 1.0 / b);
}
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return add(neg(b), a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return mul(reciprocal(b), a); }

// ---- Tensor methods (the unary ones are generated above) ----
Tensor Tensor::pow(double exponent) const { return sepal::pow(*this, exponent); }
Tensor Tensor::clamp(double min, double max) const { return sepal::clamp(*this, min, max); }

}  // namespace sepal
