// gradcheck_self_test.cpp: gradcheck itself can fail. Ops with deliberately wrong backward rules,
// built with autograd::record(), must be rejected with a message naming the wrong element; the
// correct rule must pass.
#include <gtest/gtest.h>
#include <sepal.h>

#include "autograd/node.h"

namespace sepal {
namespace {

using D = std::vector<double>;

// forward x * x with backward g * x * weight (weight 2 everywhere is the correct derivative)
Tensor square_with_slope(const Tensor& x, const D& weight) {
  Tensor y = raw::binary(BinaryOp::Mul, x, x);
  Tensor w = from_vector(weight, x.shape(), DType::Float64);
  return autograd::record("square_with_slope", y, {x}, [x, w](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{raw::binary(BinaryOp::Mul, raw::binary(BinaryOp::Mul, g, x), w)};
  });
}

Tensor input(const D& v) {
  Tensor x = from_vector(v, {static_cast<int64_t>(v.size())}, DType::Float64);
  x.requires_grad_();
  return x;
}

TEST(GradcheckSelf, CorrectRulePasses) {
  Tensor x = input({1.5, -2, 0.5});
  GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return square_with_slope(in[0], {2, 2, 2}); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_LT(r.max_error, 1e-6);
  EXPECT_FALSE(x.grad().defined());  // gradcheck leaves no gradient behind
}

TEST(GradcheckSelf, MissingFactorTwoFails) {
  // backward g * x instead of 2 g x: element 0 has analytic 1.5, numeric 3
  Tensor x = input({1.5, -2, 0.5});
  GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return square_with_slope(in[0], {1, 1, 1}); }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NEAR(r.max_error, 2.0, 1e-5);  // the largest |x|: element 1, |-2 - (-4)|
  EXPECT_NE(r.message.find("element 0"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("input 0"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("analytic 1.5"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("numeric 3"), std::string::npos) << r.message;
}

TEST(GradcheckSelf, MessageNamesTheOnlyWrongElement) {
  // correct except element 2, where the slope is 3 x instead of 2 x
  Tensor x = input({1.5, -2, 0.5});
  GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return square_with_slope(in[0], {2, 2, 3}); }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("element 2"), std::string::npos) << r.message;
  EXPECT_NEAR(r.max_error, 0.5, 1e-5);  // |3 * 0.5 - 2 * 0.5|
}

TEST(GradcheckSelf, WrongGradientForTheSecondInput) {
  // f(a, b) = a * b with db reported as g * b (should be g * a)
  auto fn = [](const std::vector<Tensor>& in) {
    const Tensor& a = in[0];
    const Tensor& b = in[1];
    return autograd::record("bad_mul", raw::binary(BinaryOp::Mul, a, b), {a, b},
                            [a, b](const Tensor& g, const std::vector<bool>&) {
                              return std::vector<Tensor>{raw::binary(BinaryOp::Mul, g, b),
                                                         raw::binary(BinaryOp::Mul, g, b)};
                            });
  };
  GradcheckResult r = gradcheck(fn, {input({1, 2}), input({3, 5})});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 1"), std::string::npos) << r.message;
}

TEST(GradcheckSelf, RejectsFloat32Inputs) {
  Tensor x = tensor({1, 2});
  x.requires_grad_();
  EXPECT_THROW(gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; }, {x}), Error);
}

}  // namespace
}  // namespace sepal
