// elementwise_test.cpp: hand-computed values of unary, binary, scalar, comparison, where and clamp
// ops (float and int64), NumPy broadcasting, strided operands, in-place ops, and sizes around the
// OpenMP split threshold checked against a scalar loop.
#include <gtest/gtest.h>
#include <omp.h>
#include <sepal.h>

#include <cmath>

namespace sepal {
namespace {

using F = std::vector<float>;
using D = std::vector<double>;
using I = std::vector<int64_t>;
using B = std::vector<uint8_t>;

Tensor f64(const D& v) { return from_vector(v, {static_cast<int64_t>(v.size())}, DType::Float64); }
Tensor i64(const I& v) { return from_vector(v, {static_cast<int64_t>(v.size())}); }

void expect_near(const Tensor& t, const D& expected, double tol = 1e-12) {
  D got = t.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], tol) << "element " << i;
}

TEST(Elementwise, FloatBinaryHandValues) {
  Tensor a = f64({1, -2, 3.5}), b = f64({2, 4, -0.5});
  expect_near(a + b, {3, 2, 3});
  expect_near(a - b, {-1, -6, 4});
  expect_near(a * b, {2, -8, -1.75});
  expect_near(a / b, {0.5, -0.5, -7});
  expect_near(maximum(a, b), {2, 4, 3.5});
  expect_near(minimum(a, b), {1, -2, -0.5});
  EXPECT_EQ((a + b).dtype(), DType::Float64);
  // float32 too
  EXPECT_EQ((tensor({1.5f, 2}) * tensor({2, -3})).to_vector<float>(), (F{3, -6}));
}

TEST(Elementwise, UnaryHandValues) {
  Tensor x = f64({-1, 0.5, 2});
  expect_near(-x, {1, -0.5, -2});
  expect_near(x.abs(), {1, 0.5, 2});
  expect_near(x.relu(), {0, 0.5, 2});
  expect_near(x.square(), {1, 0.25, 4});
  expect_near(x.reciprocal(), {-1, 2, 0.5});
  const double e = std::exp(1.0);
  expect_near(f64({0, 1, -1}).exp(), {1, e, 1 / e});
  expect_near(f64({1, e, 4}).log(), {0, 1, 2 * std::log(2.0)});
  expect_near(f64({4, 2.25}).sqrt(), {2, 1.5});
  expect_near(f64({4, 0.25}).rsqrt(), {0.5, 2});
  // sigmoid(ln 3) = 1 / (1 + 1/3) = 0.75; tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 0.6
  expect_near(f64({0, std::log(3.0)}).sigmoid(), {0.5, 0.75});
  expect_near(f64({std::log(2.0), -std::log(2.0)}).tanh(), {0.6, -0.6});
  const double pi = std::acos(-1.0);
  expect_near(f64({pi / 6, pi / 2}).sin(), {0.5, 1});
  expect_near(f64({pi / 3, pi}).cos(), {0.5, -1});
  // 4^1.5 = 8, 9^1.5 = 27; x^0 = 1
  expect_near(f64({4, 9}).pow(1.5), {8, 27});
  expect_near(f64({4, 9}).pow(0), {1, 1});
  EXPECT_THROW(i64({1, 2}).exp(), DTypeError);
}

TEST(Elementwise, ScalarOperandsHandValues) {
  Tensor x = f64({-1, 0.5, 2});
  expect_near(x + 2.5, {1.5, 3, 4.5});
  expect_near(x - 1, {-2, -0.5, 1});
  expect_near(2.5 - x, {3.5, 2, 0.5});
  expect_near(x * -2, {2, -1, -4});
  expect_near(3 * x, {-3, 1.5, 6});
  expect_near(x / 4, {-0.25, 0.125, 0.5});
  expect_near(3 / x, {-3, 6, 1.5});
}

TEST(Elementwise, Clamp) {
  Tensor x = f64({-3, -0.5, 0.2, 7, 1});
  expect_near(x.clamp(-1, 1), {-1, -0.5, 0.2, 1, 1});
  expect_near(clamp(x, 0, 0), {0, 0, 0, 0, 0});
  EXPECT_THROW(x.clamp(2, 1), Error);
}

TEST(Elementwise, IntegerArithmeticStaysInt64) {
  Tensor a = i64({3, -4, 7}), b = i64({2, 5, -3});
  EXPECT_EQ((a + b).dtype(), DType::Int64);
  EXPECT_EQ((a + b).to_vector<int64_t>(), (I{5, 1, 4}));
  EXPECT_EQ((a - b).to_vector<int64_t>(), (I{1, -9, 10}));
  EXPECT_EQ((a * b).to_vector<int64_t>(), (I{6, -20, -21}));
  EXPECT_EQ(maximum(a, b).to_vector<int64_t>(), (I{3, 5, 7}));
  EXPECT_EQ((a + 10).to_vector<int64_t>(), (I{13, 6, 17}));
  EXPECT_EQ((a * 3).to_vector<int64_t>(), (I{9, -12, 21}));
  EXPECT_EQ((a - 1).to_vector<int64_t>(), (I{2, -5, 6}));
  // int64 values beyond float precision survive: 2^53 + 1 is not representable as a double
  const int64_t big = (int64_t(1) << 53) + 1;
  EXPECT_EQ((i64({big}) + i64({2})).item<int64_t>(), big + 2);
}

TEST(Elementwise, Int64DivisionThrows) {
  Tensor a = i64({3, -4}), b = i64({2, 5});
  try {
    div(a, b);
    FAIL() << "expected DTypeError";
  } catch (const DTypeError& e) {
    EXPECT_NE(std::string(e.what()).find("div"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("int64"), std::string::npos) << e.what();
  }
  EXPECT_THROW(a / 2.0, DTypeError);
  EXPECT_THROW(a / b, DTypeError);
}

TEST(Elementwise, FractionalScalarOnIntegerTensorIsNotTruncated) {
  // 2.5 cannot be represented in int64: silently using 2 would give wrong results
  Tensor a = i64({1, 2, 3});
  EXPECT_THROW(a * 2.5, DTypeError);
  EXPECT_THROW(a + 0.5, DTypeError);
  // comparisons with a fractional scalar compare exactly: 2 < 2.5 and 3 > 2.5, nothing equals 2.5
  EXPECT_EQ(lt(a, 2.5).to_vector<uint8_t>(), (B{1, 1, 0}));
  EXPECT_EQ(gt(a, 2.5).to_vector<uint8_t>(), (B{0, 0, 1}));
  EXPECT_EQ(eq(a, 2.5).to_vector<uint8_t>(), (B{0, 0, 0}));
  EXPECT_EQ(eq(a, 2.0).to_vector<uint8_t>(), (B{0, 1, 0}));
}

TEST(Elementwise, BroadcastShapesAndValues) {
  Tensor a = arange(6).reshape({2, 1, 3});            // a[i][0][k] = 3 i + k
  Tensor b = (arange(4) * 10).reshape({4, 1});        // b[j][0] = 10 j
  Tensor c = a + b;
  EXPECT_EQ(c.shape(), (Shape{2, 4, 3}));
  std::vector<float> v = c.to_vector<float>(), w = (b + a).to_vector<float>();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k) {
        EXPECT_EQ(v[(i * 4 + j) * 3 + k], 3 * i + k + 10 * j);
        EXPECT_EQ(w[(i * 4 + j) * 3 + k], 3 * i + k + 10 * j);
      }
  // a 0-dim operand broadcasts against anything
  EXPECT_EQ((tensor({1, 2}) * scalar_tensor(-3)).to_vector<float>(), (F{-3, -6}));
  EXPECT_EQ((scalar_tensor(2) + scalar_tensor(3)).dim(), 0);
  // an empty dim broadcasts to an empty result
  EXPECT_EQ((zeros({0, 3}) + ones({3})).shape(), (Shape{0, 3}));
  EXPECT_THROW(ones({2, 3}) + ones({4}), ShapeError);
}

TEST(Elementwise, StridedOperands) {
  Tensor x = arange(12).reshape({3, 4});
  Tensor t = x.t();                     // [4, 3], t[j][i] = 4 i + j
  Tensor y = arange(12).reshape({4, 3});  // y[j][i] = 3 j + i
  std::vector<float> v = (t - y).to_vector<float>();
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < 3; ++i) EXPECT_EQ(v[j * 3 + i], (4 * i + j) - (3 * j + i));
  // a narrowed operand with an offset: columns 1..2 of x are 1, 2, 5, 6, 9, 10
  EXPECT_EQ((x.narrow(1, 1, 2) * 2).to_vector<float>(), (F{2, 4, 10, 12, 18, 20}));
  EXPECT_EQ(x.narrow(1, 1, 2).exp().to_vector<float>()[2], std::exp(5.0f));
}

TEST(Elementwise, ComparisonsAndWhere) {
  Tensor a = tensor({1, 2, 3}), b = tensor({3, 2, 1});
  EXPECT_EQ(eq(a, b).dtype(), DType::Bool);
  EXPECT_EQ(eq(a, b).to_vector<uint8_t>(), (B{0, 1, 0}));
  EXPECT_EQ(ne(a, b).to_vector<uint8_t>(), (B{1, 0, 1}));
  EXPECT_EQ(lt(a, b).to_vector<uint8_t>(), (B{1, 0, 0}));
  EXPECT_EQ(le(a, b).to_vector<uint8_t>(), (B{1, 1, 0}));
  EXPECT_EQ(gt(a, b).to_vector<uint8_t>(), (B{0, 0, 1}));
  EXPECT_EQ(ge(a, b).to_vector<uint8_t>(), (B{0, 1, 1}));
  EXPECT_EQ(gt(a, 1.5).to_vector<uint8_t>(), (B{0, 1, 1}));
  EXPECT_EQ(eq(i64({4, 5}), i64({4, 6})).to_vector<uint8_t>(), (B{1, 0}));
  // NaN compares unequal to everything, itself included
  Tensor n = tensor({NAN, 1});
  EXPECT_EQ(eq(n, n).to_vector<uint8_t>(), (B{0, 1}));
  EXPECT_EQ(ne(n, n).to_vector<uint8_t>(), (B{1, 0}));

  Tensor big = tensor({10, 20, 30});
  EXPECT_EQ(where(gt(a, 1.5), a, big).to_vector<float>(), (F{10, 2, 3}));
  // cond [3], a [2, 3], b 0-dim -> [2, 3]
  Tensor w = where(gt(tensor({1, 0, 1}), 0.5), arange(6).reshape({2, 3}), scalar_tensor(-1));
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(w.to_vector<float>(), (F{0, -1, 2, 3, -1, 5}));
  EXPECT_THROW(where(a, a, b), DTypeError);  // a float condition
  EXPECT_THROW(where(gt(a, 1.5), a, i64({1, 2, 3})), DTypeError);
}

TEST(Elementwise, InPlaceOps) {
  Tensor x = tensor({1, 2, 3});
  void* p = x.raw_data();
  x.add_(tensor({10, 20, 30}));
  EXPECT_EQ(x.to_vector<float>(), (F{11, 22, 33}));
  x.add_(tensor({1, 1, 1}), -2);
  EXPECT_EQ(x.to_vector<float>(), (F{9, 20, 31}));
  x.mul_(0.5);
  EXPECT_EQ(x.to_vector<float>(), (F{4.5, 10, 15.5}));
  x.add_(scalar_tensor(1));  // broadcast source
  EXPECT_EQ(x.to_vector<float>(), (F{5.5, 11, 16.5}));
  EXPECT_EQ(x.raw_data(), p);
  x.fill_(-7);
  EXPECT_EQ(x.to_vector<float>(), (F{-7, -7, -7}));
  x.zero_();
  EXPECT_EQ(x.to_vector<float>(), (F{0, 0, 0}));
  // copy_ broadcasts and converts dtype: int64 [2, 1] into float32 [2, 3]
  Tensor m = zeros({2, 3});
  m.copy_(i64({4, -5}).reshape({2, 1}));
  EXPECT_EQ(m.to_vector<float>(), (F{4, 4, 4, -5, -5, -5}));
  // copy_ into a strided destination writes only its elements
  Tensor g = zeros({3, 4});
  g.narrow(1, 1, 2).copy_(ones({3, 2}));
  EXPECT_EQ(g.to_vector<float>(), (F{0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0}));
  // the result of an in-place op must fit the destination
  EXPECT_THROW(tensor({1, 2, 3}).add_(ones({2, 3})), ShapeError);
  EXPECT_THROW(zeros({3, 4}).t().add_(ones({4, 3})), Error);
  EXPECT_THROW(zeros({2}).copy_(ones({3})), ShapeError);
}

// ---- sizes around the OpenMP split (kParallelGrain = 32768) ----

class ElementwiseSizes : public ::testing::TestWithParam<int64_t> {};

TEST_P(ElementwiseSizes, MatchesScalarLoop) {
  const int64_t n = GetParam();
  Generator gen(100 + n);
  Tensor a = randn({n}, DType::Float64, &gen), b = rand({n}, DType::Float64, &gen);
  full({n}, 1e300, DType::Float64);  // a freed sentinel block the outputs may reuse
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  std::vector<double> sum = (a + b).to_vector<double>();
  std::vector<double> prod = (a * b).to_vector<double>();
  std::vector<double> ex = a.exp().to_vector<double>();
  std::vector<uint8_t> gt_ = gt(a, b).to_vector<uint8_t>();
  ASSERT_EQ(static_cast<int64_t>(sum.size()), n);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(sum[i], va[i] + vb[i]) << i;
    ASSERT_EQ(prod[i], va[i] * vb[i]) << i;
    ASSERT_NEAR(ex[i], std::exp(va[i]), 1e-14 * std::exp(va[i])) << i;
    ASSERT_EQ(gt_[i], va[i] > vb[i]) << i;
  }
  // float32 with a broadcast 0-dim operand
  Tensor f = arange(n, DType::Float32);
  std::vector<float> g = (f * scalar_tensor(0.5)).to_vector<float>();
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(g[i], static_cast<float>(i) * 0.5f) << i;
}

INSTANTIATE_TEST_SUITE_P(AroundTheGrain, ElementwiseSizes,
                         ::testing::Values(int64_t{1}, int64_t{32767}, int64_t{32768}, int64_t{32769},
                                           (int64_t{1} << 20) + 3));

// Runs the body with `n` OpenMP threads, restoring the previous setting after.
struct OmpThreads {
  int previous;
  explicit OmpThreads(int n) : previous(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(previous); }
};

void check_strided_and_broadcast() {
  // [181, 183] = 33123 elements: above the grain, and odd in both dims
  Generator gen(7);
  Tensor x = randn({183, 181}, DType::Float64, &gen);
  Tensor xt = x.t();  // [181, 183], xt[i][j] = x[j][i]
  Tensor row = randn({183}, DType::Float64, &gen);
  Tensor col = randn({181, 1}, DType::Float64, &gen);
  std::vector<double> vx = x.to_vector<double>(), vr = row.to_vector<double>(), vc = col.to_vector<double>();
  std::vector<double> out = (xt * row - col).to_vector<double>();
  ASSERT_EQ(out.size(), size_t(181 * 183));
  for (int i = 0; i < 181; ++i)
    for (int j = 0; j < 183; ++j) {
      double expected = vx[j * 181 + i] * vr[j] - vc[i];
      ASSERT_EQ(out[i * 183 + j], expected) << i << "," << j;
    }
  // a strided destination above the grain: fill every other column
  Tensor dst = zeros({181, 366}, DType::Float64);
  Tensor every_other = dst.reshape({181, 183, 2}).select(2, 1);
  every_other.copy_(xt);
  std::vector<double> vd = dst.to_vector<double>();
  for (int i = 0; i < 181; ++i)
    for (int j = 0; j < 183; ++j) {
      ASSERT_EQ(vd[i * 366 + 2 * j], 0.0);
      ASSERT_EQ(vd[i * 366 + 2 * j + 1], vx[j * 181 + i]);
    }
}

TEST(ElementwiseSizes, StridedAndBroadcastAboveTheGrain) { check_strided_and_broadcast(); }

TEST(ElementwiseSizes, StridedAndBroadcastWithThreeThreads) {
  OmpThreads threads(3);  // chunk boundaries in the middle of rows, whatever the core count
  check_strided_and_broadcast();
}

}  // namespace
}  // namespace sepal
