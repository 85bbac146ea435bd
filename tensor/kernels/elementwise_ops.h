// elementwise_ops.h: every elementwise op, in one place. Each op is a __host__ __device__ functor
// (its math, used by both the CPU loops and the CUDA kernels) plus one entry in a list below; the
// lists generate everything else: the UnaryOp/BinaryOp/CompareOp enums and op names
// (tensor/backend.h, raw.cpp), the CPU and CUDA kernel dispatch (tensor/cpu/cpu_backend.cpp,
// tensor/cuda/unary.cu, binary.cu), the differentiable functions sepal::exp(x) and methods x.exp()
// with their autograd (autograd/functions.h, elementwise.cpp, tensor/tensor.h), and the test
// cases (tests/common/op_cases.h: float64 gradcheck and CUDA-vs-CPU parity;
// tests/tensor/unary_reference_test.cpp: values and derivatives against `reference`).
//
// How to add a unary op (softplus, say), all in this file:
//   1. Write `struct Softplus` next to the others: f(x, p) is the value, df(x, y, p) the
//      derivative d f / d x (given y = f(x) too, so e.g. exp can reuse it); both templated on the
//      float type and built from the math_* functions of hostdevice.h so they run on the GPU.
//      Add `reference`: (x, f(x), f'(x)) at a few points, computed independently of this code
//      (e.g. with python3's mpmath at 40 digits, rounded to double); choose x exact in float32.
//   2. Add `X(Softplus, softplus, Any)` to SEPAL_MATH_UNARY_OPS: the functor, the function name
//      (sepal::softplus(x), x.softplus(), "softplus" in errors) and the domain gradcheck draws
//      inputs from (Any: N(0, 1); Positive: [0.5, 2]; AwayFromZero: |x| in [0.5, 2], for ops
//      with a kink or pole at 0).
// A binary op is the same: a functor with f(a, b) and the gradients da(g, a, b), db(g, a, b), and
// an entry in SEPAL_BINARY_OPS (the domain there is the second operand's). Ops with scalar
// parameters (SEPAL_SCALAR_UNARY_OPS) get their kernels from the list too, but their public
// functions (x + 2.5, x.pow(2), x.clamp(lo, hi)) are written by hand in autograd/elementwise.cpp.
#pragma once
#include "tensor/kernels/hostdevice.h"

namespace sepal::kernels {

// Scalar arguments of parameterised ops (x + a, x * a, x ^ a, clamp(x, a, b)).
template <typename T>
struct ScalarArgs {
  T a = T(0);
  T b = T(0);
};

// A point of an op's reference: x, f(x) and f'(x) computed independently of the functor.
struct Reference {
  double x, y, dy;
};

// ---- unary ops: f(x, p), df(x, y, p) = d f / d x, and reference points ----
struct Neg {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return -x; }
  template <typename T> SEPAL_HD static T df(T, T, ScalarArgs<T>) { return T(-1); }
  static constexpr Reference reference[] = {
      {-1.5, 1.5, -1.0}, {0.25, -0.25, -1.0}, {2.0, -2.0, -1.0}};
};
struct Exp {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_exp(x); }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return y; }
  static constexpr Reference reference[] = {
      {-1.0, 0.36787944117144233, 0.36787944117144233}, {0.5, 1.6487212707001282, 1.6487212707001282},
      {2.0, 7.38905609893065, 7.38905609893065}};
};
struct Log {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_log(x); }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) { return T(1) / x; }
  static constexpr Reference reference[] = {
      {0.5, -0.6931471805599453, 2.0}, {1.0, 0.0, 1.0}, {3.0, 1.0986122886681098, 0.3333333333333333}};
};
struct Sqrt {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_sqrt(x); }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return T(0.5) / y; }
  static constexpr Reference reference[] = {
      {0.25, 0.5, 1.0}, {2.0, 1.4142135623730951, 0.3535533905932738}, {9.0, 3.0, 0.16666666666666666}};
};
struct Rsqrt {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return T(1) / math_sqrt(x); }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return T(-0.5) * y * y * y; }
  static constexpr Reference reference[] = {
      {0.25, 2.0, -4.0}, {2.0, 0.7071067811865476, -0.1767766952966369},
      {9.0, 0.3333333333333333, -0.018518518518518517}};
};
struct Abs {  // gradient 0 at 0, as PyTorch's sign(0)
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_abs(x); }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) {
    return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
  }
  static constexpr Reference reference[] = {
      {-1.5, 1.5, -1.0}, {0.0, 0.0, 0.0}, {0.75, 0.75, 1.0}};
};
struct Relu {  // gradient 0 at 0, as in PyTorch
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return x > T(0) ? x : T(0); }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) { return x > T(0) ? T(1) : T(0); }
  static constexpr Reference reference[] = {
      {-1.0, 0.0, 0.0}, {0.0, 0.0, 0.0}, {2.0, 2.0, 1.0}};
};
struct Sigmoid {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return T(1) / (T(1) + math_exp(-x)); }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return y * (T(1) - y); }
  static constexpr Reference reference[] = {
      {-2.0, 0.11920292202211756, 0.10499358540350652}, {0.0, 0.5, 0.25},
      {1.5, 0.8175744761936437, 0.14914645207033286}};
};
struct Tanh {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_tanh(x); }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return T(1) - y * y; }
  static constexpr Reference reference[] = {
      {-1.0, -0.7615941559557649, 0.4199743416140261}, {0.5, 0.46211715726000974, 0.7864477329659274},
      {3.0, 0.9950547536867305, 0.00986603716544019}};
};
struct Sin {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_sin(x); }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) { return math_cos(x); }
  static constexpr Reference reference[] = {
      {-1.0, -0.8414709848078965, 0.5403023058681398}, {0.5, 0.479425538604203, 0.8775825618903728},
      {2.0, 0.9092974268256817, -0.4161468365471424}};
};
struct Cos {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return math_cos(x); }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) { return -math_sin(x); }
  static constexpr Reference reference[] = {
      {-1.0, 0.5403023058681398, 0.8414709848078965}, {0.5, 0.8775825618903728, -0.479425538604203},
      {2.0, -0.4161468365471424, -0.9092974268256817}};
};
struct Square {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return x * x; }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) { return T(2) * x; }
  static constexpr Reference reference[] = {
      {-1.5, 2.25, -3.0}, {0.5, 0.25, 1.0}, {3.0, 9.0, 6.0}};
};
struct Reciprocal {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) { return T(1) / x; }
  template <typename T> SEPAL_HD static T df(T, T y, ScalarArgs<T>) { return -y * y; }
  static constexpr Reference reference[] = {
      {-2.0, -0.5, -0.25}, {0.5, 2.0, -4.0}, {4.0, 0.25, -0.0625}};
};

// softplus(x) = log(1 + exp(x)) as PyTorch's (beta 1, threshold 20): x itself above 20, and
// log1p so that tiny values (x = -30) keep their precision. f'(x) = sigmoid(x) = z / (z + 1).
struct Softplus {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) {
    return x > T(20) ? x : math_log1p(math_exp(x));
  }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) {
    if (x > T(20)) return T(1);
    const T z = math_exp(x);
    return z / (z + T(1));
  }
  static constexpr Reference reference[] = {
      {-30.0, 9.357622968839737e-14, 9.357622968839299e-14}, {-1.0, 0.3132616875182228, 0.2689414213699951},
      {0.0, 0.6931471805599453, 0.5}, {1.0, 1.3132616875182228, 0.7310585786300049},
      {19.5, 19.500000003398267, 0.9999999966017322}, {800.0, 800.0, 1.0}};
};

// gelu(x) = x Phi(x), the exact (erf) form, PyTorch's default approximate='none'; Phi is the
// standard normal CDF. f'(x) = Phi(x) + x phi(x), phi the normal density.
struct Gelu {
  template <typename T> SEPAL_HD static T f(T x, ScalarArgs<T>) {
    return T(0.5) * x * (T(1) + math_erf(x * T(0.70710678118654752440)));  // x / sqrt(2)
  }
  template <typename T> SEPAL_HD static T df(T x, T, ScalarArgs<T>) {
    const T cdf = T(0.5) * (T(1) + math_erf(x * T(0.70710678118654752440)));
    const T pdf = math_exp(T(-0.5) * x * x) * T(0.39894228040143267794);  // 1 / sqrt(2 pi)
    return cdf + x * pdf;
  }
  static constexpr Reference reference[] = {
      {-2.0, -0.04550026389635842, -0.0852318010781969}, {-0.5, -0.15426876936299344, 0.13250487534383715},
      {0.0, 0.0, 0.5}, {1.0, 0.8413447460685429, 1.0833154705876864},
      {2.5, 2.4844758366855597, 1.037611085908145}};
};

// Unary ops without parameters. X(Functor, name, test input domain); see "How to add" above.
#define SEPAL_MATH_UNARY_OPS(X)             \
  X(Neg, neg, Any)                          \
  X(Exp, exp, Any)                          \
  X(Log, log, Positive)                     \
  X(Sqrt, sqrt, Positive)                   \
  X(Rsqrt, rsqrt, Positive)                 \
  X(Abs, abs, AwayFromZero)                 \
  X(Relu, relu, AwayFromZero)               \
  X(Sigmoid, sigmoid, Any)                  \
  X(Tanh, tanh, Any)                        \
  X(Sin, sin, Any)                          \
  X(Cos, cos, Any)                          \
  X(Square, square, Any)                    \
  X(Reciprocal, reciprocal, AwayFromZero)   \
  X(Softplus, softplus, Any)                \
  X(Gelu, gelu, Any)

// ---- unary ops with scalar parameters p.a, p.b (public functions in autograd/elementwise.cpp) ----
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

// X(Functor, name): the name is the op's name in errors and graph nodes.
#define SEPAL_SCALAR_UNARY_OPS(X) \
  X(AddScalar, add_scalar)        \
  X(MulScalar, mul_scalar)        \
  X(PowScalar, pow)               \
  X(Clamp, clamp)

// Every unary op (the kernels and UnaryOp cover both kinds).
#define SEPAL_UNARY_OPS(X) SEPAL_MATH_UNARY_OPS(X) SEPAL_SCALAR_UNARY_OPS(X)

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

// X(Functor, name, test domain of b): sepal::name(a, b) is generated (autograd/elementwise.cpp).
#define SEPAL_BINARY_OPS(X)      \
  X(Add, add, Any)               \
  X(Sub, sub, Any)               \
  X(Mul, mul, Any)               \
  X(Div, div, AwayFromZero)      \
  X(Maximum, maximum, Any)       \
  X(Minimum, minimum, Any)

// ---- comparisons: bool results ----
struct Eq { template <typename T> SEPAL_HD static bool f(T a, T b) { return a == b; } };
struct Ne { template <typename T> SEPAL_HD static bool f(T a, T b) { return a != b; } };
struct Lt { template <typename T> SEPAL_HD static bool f(T a, T b) { return a < b; } };
struct Le { template <typename T> SEPAL_HD static bool f(T a, T b) { return a <= b; } };
struct Gt { template <typename T> SEPAL_HD static bool f(T a, T b) { return a > b; } };
struct Ge { template <typename T> SEPAL_HD static bool f(T a, T b) { return a >= b; } };

// X(Functor, name): sepal::name(a, b) is generated (autograd/elementwise.cpp); no gradient.
#define SEPAL_COMPARE_OPS(X) \
  X(Eq, eq)                  \
  X(Ne, ne)                  \
  X(Lt, lt)                  \
  X(Le, le)                  \
  X(Gt, gt)                  \
  X(Ge, ge)

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
