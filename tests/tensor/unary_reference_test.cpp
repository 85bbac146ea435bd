// unary_reference_test.cpp: every op of SEPAL_MATH_UNARY_OPS (tensor/kernels/elementwise_ops.h)
// against its functor's `reference` points, which were computed independently of the kernels
// (python3 mpmath): the value sepal::name(x) and the gradient from backward(), in float64 and
// float32, on contiguous and strided inputs. A new op in the list is checked here with no edit.
#include <gtest/gtest.h>
#include <sepal.h>

#include <cmath>
#include <string>
#include <vector>

namespace sepal {
namespace {

struct UnaryReferenceCase {
  std::string name;
  Tensor (*fn)(const Tensor&);
  std::vector<kernels::Reference> points;
};

std::vector<UnaryReferenceCase> reference_cases() {
  std::vector<UnaryReferenceCase> cases;
#define SEPAL_REFERENCE_CASE(Functor, name, ...)                                             \
  cases.push_back({#name, [](const Tensor& x) { return sepal::name(x); },                    \
                   {std::begin(kernels::Functor::reference), std::end(kernels::Functor::reference)}});
  SEPAL_MATH_UNARY_OPS(SEPAL_REFERENCE_CASE)
#undef SEPAL_REFERENCE_CASE
  return cases;
}

// |got - want| <= rtol |want|: relative, so a value far below 1 (softplus(-30)) is checked to
// its own precision; a reference 0 must come out exactly 0.
void expect_near_relative(double got, double want, double rtol, const std::string& what) {
  EXPECT_LE(std::fabs(got - want), rtol * std::fabs(want)) << what << ": got " << got << ", want " << want;
}

void check(const UnaryReferenceCase& c, DType dtype, bool strided) {
  const double rtol = dtype == DType::Float64 ? 1e-12 : 1e-5;
  const int64_t n = static_cast<int64_t>(c.points.size());
  std::vector<double> xs;
  for (const kernels::Reference& r : c.points) xs.push_back(r.x);
  Tensor x = from_vector(xs, {n}, TensorOptions().dtype(dtype));
  if (strided) {  // every point twice in a [2, n] tensor, read through its transpose [n, 2]
    x = raw::transpose(raw::contiguous(raw::expand(x, {2, n})), 0, 1);
    ASSERT_FALSE(x.is_contiguous());
  }
  x.requires_grad_(true);
  Tensor y = c.fn(x);
  y.backward(ones_like(y));
  std::vector<double> values = y.to_vector<double>(), grads = x.grad().to_vector<double>();
  ASSERT_EQ(static_cast<int64_t>(values.size()), x.numel());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const kernels::Reference& r = c.points[static_cast<size_t>(strided ? i / 2 : i)];
    const std::string at = c.name + "(" + std::to_string(r.x) + ") in " + dtype_name(dtype);
    expect_near_relative(values[static_cast<size_t>(i)], r.y, rtol, at);
    expect_near_relative(grads[static_cast<size_t>(i)], r.dy, rtol, "derivative of " + at);
  }
}

class UnaryReference : public ::testing::TestWithParam<UnaryReferenceCase> {};

TEST_P(UnaryReference, Float64ValuesAndDerivatives) { check(GetParam(), DType::Float64, false); }
TEST_P(UnaryReference, Float32ValuesAndDerivatives) { check(GetParam(), DType::Float32, false); }
TEST_P(UnaryReference, StridedInput) { check(GetParam(), DType::Float64, true); }

INSTANTIATE_TEST_SUITE_P(MathUnaryOps, UnaryReference, ::testing::ValuesIn(reference_cases()),
                         [](const ::testing::TestParamInfo<UnaryReferenceCase>& info) { return info.param.name; });

}  // namespace
}  // namespace sepal
