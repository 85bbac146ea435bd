// elementwise_ops.h: every elementwise op's math, written once as __host__ __device__ functors
// used by both the CPU loops and the CUDA kernels. Each unary functor gives the value f(x) and
// its derivative df(x, y) (y = f(x)); each binary functor gives f(a, b) and the gradients
// da, db for an upstream gradient g. Adding a unary op is one functor plus one list entry below
// (the autograd rule comes from df, the kernels from the list); nothing is linked by name.
#pragma once
#include "tensor/kernels/hostdevice.h"

namespace sepal::kernels {

// Scalar arguments of parameterised ops (x + a, x * a, x ^ a, clamp(x, a, b)).
template <typename T>
struct ScalarArgs {
  T a = T(0);
  T b = T(0);
};

// ---- unary ops: f(x, p) and df(x, y, p) = d f / d x ----
struct Neg {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return -x; }
  template <typename T> SEPAL_HD static T df(T, T, ScalarArgs<T>) { return T(-1); }
};
struct Exp {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_exp(x); }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return y; }
};
struct Log {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_log(x); }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) { return T(1) / x; }
};
struct Sqrt {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_sqrt(x); }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return T(0.5) / y; }
};
struct Rsqrt {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return T(1) / math_sqrt(x); }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return T(-0.5) * y * y * y; }
};
struct Abs {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_abs(x); }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) {
    return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
  }
};
struct Relu {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return x > T(0) ? x : T(0); }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) { return x > T(0) ? T(1) : T(0); }
};
struct Sigmoid {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return T(1) / (T(1) + math_exp(-x)); }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return y * (T(1) - y); }
};
struct Tanh {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_tanh(x); }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return T(1) - y * y; }
};
struct Sin {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_sin(x); }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) { return math_cos(x); }
};
struct Cos {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_cos(x); }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) { return -math_sin(x); }
};
struct Square {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return x * x; }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) { return T(2) * x; }
};
struct Reciprocal {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return T(1) / x; }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return -y * y; }
};
struct AddScalar {  // x + a
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T> p) { return x + p.a; }
  template <typename T> SEPAL_HD static T df(T, T, ScalarArgs<T>) { return T(1); }
};
struct MulScalar {  // x * a
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T> p) { return x * p.a; }
  template <typename T> SEPAL_HD static T df(T, T, ScalarArgs<T> p) { return p.a; }
};
struct PowScalar {  // x ^ a
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T> p) { return math_pow(x, p.a); }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T> p) {
    return p.a == T(0) ? T(0) : p.a * math_pow(x, p.a - T(1));
  }
};
struct Clamp {  // min(max(x, a), b); gradient 1 where a <= x <= b, as in PyTorch
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T> p) {
    return x < p.a ? p.a : (x > p.b ? p.b : x);
  }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T> p) {
    return (x >= p.a && x <= p.b) ? T(1) : T(0);
  }
};

// X(EnumName, Functor, user-facing name)
#define SEPAL_UNARY_OPS(X)                 \
  X(Neg, ::sepal::kernels::Neg, "neg")                 \
  X(Exp, ::sepal::kernels::Exp, "exp")                 \
  X(Log, ::sepal::kernels::Log, "log")                 \
  X(Sqrt, ::sepal::kernels::Sqrt, "sqrt")              \
  X(Rsqrt, ::sepal::kernels::Rsqrt, "rsqrt")           \
  X(Abs, ::sepal::kernels::Abs, "abs")                 \
  X(Relu, ::sepal::kernels::Relu, "relu")              \
  X(Sigmoid, ::sepal::kernels::Sigmoid, "sigmoid")     \
  X(Tanh, ::sepal::kernels::Tanh, "tanh")              \
  X(Sin, ::sepal::kernels::Sin, "sin")                 \
  X(Cos, ::sepal::kernels::Cos, "cos")                 \
  X(Square, ::sepal::kernels::Square, "square")        \
  X(Reciprocal, ::sepal::kernels::Reciprocal, "reciprocal") \
  X(AddScalar, ::sepal::kernels::AddScalar, "add_scalar")   \
  X(MulScalar, ::sepal::kernels::MulScalar, "mul_scalar")   \
  X(PowScalar, ::sepal::kernels::PowScalar, "pow")          \
  X(Clamp, ::sepal::kernels::Clamp, "clamp")

// ---- binary ops: f(a, b); da(g, a, b) and db(g, a, b) are the gradients for upstream g ----
struct Add {
  template <typename T> SEPAL_HD static T f(T a, T b) { return a + b; }
  template <typename T> SEPAL_HD static T da(T g, T, T) { return g; }
  template <typename T> SEPAL_HD static T db(T g, T, T) { return g; }
};
struct Sub {
  template <typename T> SEPAL_HD static T f(T a, T b) { return a - b; }
  template <typename T> SEPAL_HD static T da(T g, T, T) { return g; }
  template <typename T> SEPAL_HD static T db(T g, T, T) { return -g; }
};
struct Mul {
  template <typename T> SEPAL_HD static T f(T a, T b) { return a * b; }
  template <typename T> SEPAL_HD static T da(T g, T, T b) { return g * b; }
  template <typename T> SEPAL_HD static T db(T g, T a, T) { return g * a; }
};
struct Div {
  template <typename T> SEPAL_HD static T f(T a, T b) { return a / b; }
  template <typename T> SEPAL_HD static T da(T g, T, T b) { return g / b; }
  template <typename T> SEPAL_HD static T db(T g, T a, T b) { return -g * a / (b * b); }
};
// maximum/minimum: ties split the gradient in half, as PyTorch's derivatives.yaml does.
struct Maximum {
  template <typename T> SEPAL_HD static T f(T a, T b) { return a > b ? a : b; }
  template <typename T> SEPAL_HD static T da(T g, T a, T b) { return a > b ? g : (a == b ? g / T(2) : T(0)); }
  template <typename T> SEPAL_HD static T db(T g, T a, T b) { return b > a ? g : (a == b ? g / T(2) : T(0)); }
};
struct Minimum {
  template <typename T> SEPAL_HD static T f(T a, T b) { return a < b ? a : b; }
  template <typename T> SEPAL_HD static T da(T g, T a, T b) { return a < b ? g : (a == b ? g / T(2) : T(0)); }
  template <typename T> SEPAL_HD static T db(T g, T a, T b) { return b < a ? g : (a == b ? g / T(2) : T(0)); }
};

#define SEPAL_BINARY_OPS(X)                        \
  X(Add, ::sepal::kernels::Add, "add")             \
  X(Sub, ::sepal::kernels::Sub, "sub")             \
  X(Mul, ::sepal::kernels::Mul, "mul")             \
  X(Div, ::sepal::kernels::Div, "div")             \
  X(Maximum, ::sepal::kernels::Maximum, "maximum") \
  X(Minimum, ::sepal::kernels::Minimum, "minimum")

// ---- comparisons: bool results ----
struct Eq { template <typename T> SEPAL_HD static bool f(T a, T b) { return a == b; } };
struct Ne { template <typename T> SEPAL_HD static bool f(T a, T b) { return a != b; } };
struct Lt { template <typename T> SEPAL_HD static bool f(T a, T b) { return a < b; } };
struct Le { template <typename T> SEPAL_HD static bool f(T a, T b) { return a <= b; } };
struct Gt { template <typename T> SEPAL_HD static bool f(T a, T b) { return a > b; } };
struct Ge { template <typename T> SEPAL_HD static bool f(T a, T b) { return a >= b; } };

#define SEPAL_COMPARE_OPS(X)                 \
  X(Eq, ::sepal::kernels::Eq, "eq")          \
  X(Ne, ::sepal::kernels::Ne, "ne")          \
  X(Lt, ::sepal::kernels::Lt, "lt")          \
  X(Le, ::sepal::kernels::Le, "le")          \
  X(Gt, ::sepal::kernels::Gt, "gt")          \
  X(Ge, ::sepal::kernels::Ge, "ge")

// Backward functors built from the ones above, so the kernels only ever map N inputs to 1 output.
template <typename Op, typename T>
struct UnaryForward {
  ScalarArgs<T> p;
  SEPAL_HD T operator()(T x) const { return Op::f(x, p); }
};
template <typename Op, typename T>
struct UnaryBackward {  // (g, x, y) -> g * df(x, y)
  ScalarArgs<T> p;
  SEPAL_HD T operator()(T g, T x, T y) const { return g * Op::df(x, y, p); }
};
template <typename Op, typename T>
struct BinaryForward {
  SEPAL_HD T operator()(T a, T b) const { return Op::f(a, b); }
};
template <typename Op, typename T>
struct BinaryBackwardA {
  SEPAL_HD T operator()(T g, T a, T b) const { return Op::da(g, a, b); }
};
template <typename Op, typename T>
struct BinaryBackwardB {
  SEPAL_HD T operator()(T g, T a, T b) const { return Op::db(g, a, b); }
};
template <typename Op, typename T>
struct CompareForward {
  SEPAL_HD bool operator()(T a, T b) const { return Op::f(a, b); }
};
template <typename T>
struct WhereForward {
  SEPAL_HD T operator()(bool c, T a, T b) const { return c ? a : b; }
};
template <typename Dst, typename Src>
struct CastForward {
  SEPAL_HD Dst operator()(Src x) const { return static_cast<Dst>(x); }
};

}  // namespace sepal::kernels
