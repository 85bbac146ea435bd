// reductions_test.cpp: sum, mean, max, min, argmax and argmin with hand-computed values over any
// dims and keepdim, ties, NaN, bool and empty inputs, and sizes around the OpenMP split (one long
// row split across threads, many rows one per thread) checked against a scalar loop in double.
#include <gtest/gtest.h>
#include <omp.h>
#include <sepal.h>

#include <cmath>

namespace sepal {
namespace {

using F = std::vector<float>;
using I = std::vector<int64_t>;

// x = [[1, 5, 2],
//      [7, -3, 4]]
Tensor x23() { return from_vector(F{1, 5, 2, 7, -3, 4}, {2, 3}); }

TEST(Reductions, SumHandValues) {
  Tensor x = x23();
  EXPECT_EQ(x.sum().item(), 16.0);  // 1 + 5 + 2 + 7 - 3 + 4
  EXPECT_EQ(x.sum().dim(), 0);
  EXPECT_EQ(x.sum({0}).to_vector<float>(), (F{8, 2, 6}));
  EXPECT_EQ(x.sum({1}).to_vector<float>(), (F{8, 8}));
  EXPECT_EQ(x.sum({-1}).to_vector<float>(), (F{8, 8}));
  EXPECT_EQ(x.sum({1}, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(x.sum({0, 1}).shape(), (Shape{}));
  EXPECT_EQ(x.sum({0, 1}, true).shape(), (Shape{1, 1}));
  EXPECT_EQ(x.sum({1, 0}).item(), 16.0);
  // a transposed input reduces in logical order
  EXPECT_EQ(x.t().sum({0}).to_vector<float>(), (F{8, 8}));
  EXPECT_EQ(scalar_tensor(2.5).sum().item(), 2.5);
}

TEST(Reductions, SumOverSeveralDims) {
  Tensor y = arange(24).reshape({2, 3, 4});  // y[i][j][k] = 12 i + 4 j + k
  // sum over i, k of 12 i + 4 j + k = 4 * 12 + 8 * 4 j + 2 * (0 + 1 + 2 + 3) = 60 + 32 j
  EXPECT_EQ(y.sum({0, 2}).to_vector<float>(), (F{60, 92, 124}));
  EXPECT_EQ(y.sum({0, 2}, true).shape(), (Shape{1, 3, 1}));
  // mean over i, j of 12 i + 4 j + k = 6 + 4 + k
  EXPECT_EQ(y.mean({0, 1}).to_vector<float>(), (F{10, 11, 12, 13}));
  // max over j: 12 i + 8 + k
  EXPECT_EQ(y.max({1}).to_vector<float>(), (F{8, 9, 10, 11, 20, 21, 22, 23}));
  EXPECT_EQ(y.min({2, 0}).to_vector<float>(), (F{0, 4, 8}));
}

TEST(Reductions, MeanMaxMinHandValues) {
  Tensor x = x23();
  EXPECT_NEAR(x.mean().item(), 16.0 / 6.0, 1e-6);
  EXPECT_EQ(x.mean({0}).to_vector<float>(), (F{4, 1, 3}));
  EXPECT_EQ(x.mean({1}, true).shape(), (Shape{2, 1}));
  EXPECT_NEAR(x.mean({1}).to_vector<float>()[1], 8.0 / 3.0, 1e-6);
  EXPECT_EQ(x.max().item(), 7.0);
  EXPECT_EQ(x.min().item(), -3.0);
  EXPECT_EQ(x.max({0}).to_vector<float>(), (F{7, 5, 4}));
  EXPECT_EQ(x.max({1}).to_vector<float>(), (F{5, 7}));
  EXPECT_EQ(x.min({1}).to_vector<float>(), (F{1, -3}));
  EXPECT_EQ(x.min({0}, true).shape(), (Shape{1, 3}));
  EXPECT_EQ(x.min({0}, true).to_vector<float>(), (F{1, -3, 2}));
  // all-negative values: the maximum is not the initial 0 of an accumulator
  EXPECT_EQ(tensor({-5, -2, -9}).max().item(), -2.0);
  EXPECT_EQ(tensor({-INFINITY, -INFINITY}).max().item(), -INFINITY);
}

TEST(Reductions, ArgmaxArgminFirstIndexOnTies) {
  // [[3, 1, 3],
  //  [2, 2, 0]]
  Tensor x = from_vector(F{3, 1, 3, 2, 2, 0}, {2, 3});
  Tensor am = argmax(x, 1);
  EXPECT_EQ(am.dtype(), DType::Int64);
  EXPECT_EQ(am.to_vector<int64_t>(), (I{0, 0}));
  EXPECT_EQ(argmin(x, 1).to_vector<int64_t>(), (I{1, 2}));
  EXPECT_EQ(argmax(x, 0).to_vector<int64_t>(), (I{0, 1, 0}));
  EXPECT_EQ(argmin(x, 0).to_vector<int64_t>(), (I{1, 0, 1}));
  EXPECT_EQ(argmax(x, 1, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(x.argmax(-1).to_vector<int64_t>(), (I{0, 0}));
  EXPECT_EQ(x.argmax().item<int64_t>(), 0);  // over the flattened tensor
  EXPECT_EQ(tensor({0, 5, 5, 1}).argmax().item<int64_t>(), 1);
  EXPECT_EQ(argmax(from_vector(F{1, 4, 1, 4}, {2, 2}), 0).to_vector<int64_t>(), (I{0, 0}));
  EXPECT_EQ(x.t().argmax(1).to_vector<int64_t>(), (I{0, 1, 0}));  // strided input
  EXPECT_THROW(raw::reduce(ReduceOp::ArgMax, arange(24).reshape({2, 3, 4}), {0, 1}, false), ShapeError);
}

TEST(Reductions, NaNPropagatesThroughMaxAndMin) {
  Tensor x = tensor({1, NAN, 3});
  EXPECT_TRUE(std::isnan(x.max().item()));
  EXPECT_TRUE(std::isnan(x.min().item()));
  EXPECT_EQ(x.argmax().item<int64_t>(), 1);  // the NaN's index, as in PyTorch
  Tensor m = from_vector(F{1, NAN, 2, 3}, {2, 2});
  std::vector<float> row_max = m.max({1}).to_vector<float>();
  EXPECT_TRUE(std::isnan(row_max[0]));
  EXPECT_EQ(row_max[1], 3.0f);
  EXPECT_TRUE(std::isnan(tensor({NAN, 1}).max().item()));  // NaN first
  EXPECT_TRUE(std::isnan(tensor({1, 2, NAN}).sum().item()));
}

TEST(Reductions, SumOfBoolCountsTrues) {
  Tensor b = gt(x23(), 1.5);  // [[0, 1, 1], [1, 0, 1]]
  Tensor n = b.sum();
  EXPECT_EQ(n.dtype(), DType::Int64);
  EXPECT_EQ(n.item<int64_t>(), 4);
  EXPECT_EQ(b.sum({1}).to_vector<int64_t>(), (I{2, 2}));
  EXPECT_EQ(b.sum({0}).to_vector<int64_t>(), (I{1, 1, 2}));
  // 40000 trues: more than fits in a uint8 or counts wrongly if bools were summed as bytes
  EXPECT_EQ(ones({40000}, DType::Bool).sum().item<int64_t>(), 40000);
}

TEST(Reductions, IntegerReductions) {
  Tensor a = from_vector(I{3, -4, 7, 10}, {2, 2});
  EXPECT_EQ(a.sum().dtype(), DType::Int64);
  EXPECT_EQ(a.sum().item<int64_t>(), 16);
  EXPECT_EQ(a.max({0}).to_vector<int64_t>(), (I{7, 10}));
  EXPECT_EQ(a.min().item<int64_t>(), -4);
  EXPECT_THROW(a.mean(), DTypeError);
}

TEST(Reductions, EmptyInputs) {
  full({2}, 99.0);  // a sentinel block the outputs may reuse
  Tensor e = zeros({2, 0});
  std::vector<float> m = e.mean({1}).to_vector<float>();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_TRUE(std::isnan(m[0]) && std::isnan(m[1]));
  EXPECT_TRUE(std::isnan(zeros({0}).mean().item()));
  EXPECT_EQ(e.sum({1}).to_vector<float>(), (F{0, 0}));
  EXPECT_EQ(e.sum().item(), 0.0);
  EXPECT_THROW(e.max({1}), ShapeError);
  EXPECT_THROW(zeros({0}).max(), ShapeError);
  EXPECT_THROW(argmax(e, 1), ShapeError);
  // reducing a non-empty dim of a tensor with no rows gives an empty result
  EXPECT_EQ(zeros({0, 3}).max({1}).shape(), (Shape{0}));
  EXPECT_EQ(e.sum({0}).shape(), (Shape{0}));
}

TEST(Reductions, BadDims) {
  Tensor x = x23();
  EXPECT_THROW(x.sum({2}), IndexError);
  EXPECT_THROW(x.sum({-3}), IndexError);
  EXPECT_THROW(x.sum({0, 0}), ShapeError);
  EXPECT_THROW(x.sum({1, -1}), ShapeError);
}

// ---- sizes around the OpenMP split; references are scalar loops in double ----

// Runs the body with `n` OpenMP threads, restoring the previous setting after.
struct OmpThreads {
  int previous;
  explicit OmpThreads(int n) : previous(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(previous); }
};

void check_long_row(int64_t n) {
  Generator gen(n);
  Tensor x = rand({n}, {}, &gen);  // float32 in [0, 1)
  float* p = x.data_ptr<float>();
  // plant the maximum (2) and minimum (-1) twice, once in each half, so ties span the thread split
  const int64_t first = n / 5, second = n - 2;
  p[first] = 2.0f;
  p[second] = 2.0f;
  p[first + 1] = -1.0f;
  p[second + 1] = -1.0f;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += p[i];
  EXPECT_NEAR(x.sum().item(), sum, 1e-6 * std::abs(sum)) << n;  // float accumulation would be ~1e-4 off
  EXPECT_NEAR(x.mean().item(), sum / n, 1e-6 * std::abs(sum / n)) << n;
  EXPECT_EQ(x.max().item(), 2.0) << n;
  EXPECT_EQ(x.min().item(), -1.0) << n;
  EXPECT_EQ(x.argmax().item<int64_t>(), first) << n;
  EXPECT_EQ(argmin(x, 0).item<int64_t>(), first + 1) << n;
  // a NaN late in the row wins over everything before it, in whichever thread's chunk it lies
  p[second] = NAN;
  EXPECT_TRUE(std::isnan(x.max().item())) << n;
  EXPECT_EQ(x.argmax().item<int64_t>(), second) << n;
  // and the first of two NaNs is the one reported
  p[first] = NAN;
  EXPECT_EQ(x.argmax().item<int64_t>(), first) << n;
}

class ReductionSizes : public ::testing::TestWithParam<int64_t> {};

TEST_P(ReductionSizes, LongRowMatchesScalarLoop) { check_long_row(GetParam()); }

TEST_P(ReductionSizes, LongRowSplitAcrossFourThreads) {
  OmpThreads threads(4);  // exercise the split even on a machine with fewer cores
  check_long_row(GetParam());
}

INSTANTIATE_TEST_SUITE_P(AroundTheGrain, ReductionSizes,
                         ::testing::Values(int64_t{32767}, int64_t{32768}, int64_t{32769},
                                           (int64_t{1} << 20) + 3));

void check_3_by_100003() {
  const int64_t rows = 3, cols = 100003;
  Generator gen(17);
  Tensor x = randn({rows, cols}, {}, &gen);
  std::vector<float> v = x.to_vector<float>();
  std::vector<double> row_sum(rows, 0.0), col_sum(cols, 0.0), row_max(rows, -INFINITY);
  std::vector<int64_t> row_arg(rows, 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      double e = v[r * cols + c];
      row_sum[r] += e;
      col_sum[c] += e;
      if (e > row_max[r]) row_max[r] = e, row_arg[r] = c;
    }
  std::vector<double> s1 = x.sum({1}).to_vector<double>();
  std::vector<double> m1 = x.mean({1}).to_vector<double>();
  for (int64_t r = 0; r < rows; ++r) {
    EXPECT_NEAR(s1[r], row_sum[r], 1e-4) << r;  // float32 rounding of a sum of magnitude ~300
    EXPECT_NEAR(m1[r], row_sum[r] / cols, 1e-7) << r;
  }
  EXPECT_EQ(x.max({1}).to_vector<double>(), row_max);
  EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), row_arg);
  std::vector<double> s0 = x.sum({0}).to_vector<double>();
  std::vector<double> m0 = x.mean({0}, true).to_vector<double>();
  ASSERT_EQ(s0.size(), size_t(cols));
  ASSERT_EQ(x.mean({0}, true).shape(), (Shape{1, cols}));
  for (int64_t c = 0; c < cols; ++c) {
    ASSERT_NEAR(s0[c], col_sum[c], 1e-5) << c;
    ASSERT_NEAR(m0[c], col_sum[c] / 3, 1e-5) << c;
  }
}

TEST(ReductionSizes, ThreeByHundredThousandThreeBothDims) { check_3_by_100003(); }

TEST(ReductionSizes, ThreeByHundredThousandThreeWithMoreThreadsThanRows) {
  OmpThreads threads(4);  // 3 rows < 4 threads: each row is split across threads
  check_3_by_100003();
}

}  // namespace
}  // namespace sepal
