// batch_norm_test.cpp: batch_norm on the CPU against hand-derived values: the forward in training
// and eval mode, the running-statistics update (unbiased running_var, momentum 0.1), simple
// gradients, that the buffer update records no graph, and the argument errors. (Gradients against
// finite differences: tests/autograd; CUDA against the CPU: tests/cuda.)
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <sepal.h>

#include "autograd/nn_functions.h"
#include "common/expect_error.h"

namespace sepal {
namespace {

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

void expect_near_all(const std::vector<double>& actual, const std::vector<double>& expected, double tol) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], tol) << "element " << i;
}

using testing::expect_error_containing;

// x [N=2, C=2, H=1, W=2]:   n0: c0 = [0, 4], c1 = [-1, 1];   n1: c0 = [4, 0], c1 = [1, -1].
// Channel 0 holds {0, 4, 4, 0}: mean 2, biased var ((-2)^2 * 4) / 4 = 4, unbiased 16/3.
// Channel 1 holds {-1, 1, 1, -1}: mean 0, biased var 1, unbiased 4/3.
Tensor tiny(DType dtype) { return from_vector<double>({0, 4, -1, 1, 4, 0, 1, -1}, {2, 2, 1, 2}, dtype); }

class BatchNormBothDtypes : public ::testing::TestWithParam<DType> {};

// weight [2, 0.5], bias [1, -1], eps 1e-5:
//   channel 0: y = 2 (x - 2) / sqrt(4 + 1e-5) + 1    -> x = 0: -0.99999750..., x = 4: 2.99999750...
//   channel 1: y = 0.5 x / sqrt(1 + 1e-5) - 1       -> x = -1: -1.49999750..., x = 1: -0.50000250...
TEST_P(BatchNormBothDtypes, TrainingForwardNormalisesWithTheBiasedBatchVariance) {
  const DType dt = GetParam();
  const double s0 = 1.0 / std::sqrt(4.0 + 1e-5), s1 = 1.0 / std::sqrt(1.0 + 1e-5);
  Tensor y = batch_norm(tiny(dt), Tensor(), Tensor(), from_vector<double>({2, 0.5}, {2}, dt),
                        from_vector<double>({1, -1}, {2}, dt), /*training=*/true);
  EXPECT_EQ(y.shape(), (Shape{2, 2, 1, 2}));
  EXPECT_EQ(y.dtype(), dt);
  const double a = -4 * s0 + 1, b = 4 * s0 + 1, c = -0.5 * s1 - 1, d = 0.5 * s1 - 1;
  expect_near_all(values(y), {a, b, c, d, b, a, d, c}, dt == DType::Float32 ? 1e-6 : 1e-14);
  EXPECT_NEAR(a, -0.9999975000046875, 1e-15);  // the same value from torch.nn.functional.batch_norm
}

// One training step from running_mean [0, 0], running_var [1, 1], momentum 0.1:
//   running_mean = 0.9 * 0 + 0.1 * [2, 0]         = [0.2, 0]
//   running_var  = 0.9 * 1 + 0.1 * [16/3, 4/3]    = [1.4333..., 1.0333...]   (unbiased: n/(n-1) = 4/3)
// (the biased variance would give [1.3, 1.0]).
TEST_P(BatchNormBothDtypes, TrainingUpdatesRunningStatisticsWithTheUnbiasedVariance) {
  const DType dt = GetParam();
  Tensor rm = zeros({2}, dt), rv = ones({2}, dt);
  batch_norm(tiny(dt), rm, rv, Tensor(), Tensor(), true);
  const double tol = dt == DType::Float32 ? 1e-6 : 1e-15;
  expect_near_all(values(rm), {0.2, 0.0}, tol);
  expect_near_all(values(rv), {0.9 + 0.1 * 16.0 / 3.0, 0.9 + 0.1 * 4.0 / 3.0}, tol);
  // a second step moves them again: running_mean = 0.9 * 0.2 + 0.1 * 2 = 0.38
  batch_norm(tiny(dt), rm, rv, Tensor(), Tensor(), true, /*momentum=*/0.1);
  EXPECT_NEAR(values(rm)[0], 0.38, tol);
  // momentum 1 replaces them with the batch statistics
  batch_norm(tiny(dt), rm, rv, Tensor(), Tensor(), true, /*momentum=*/1.0);
  expect_near_all(values(rm), {2.0, 0.0}, tol);
  expect_near_all(values(rv), {16.0 / 3.0, 4.0 / 3.0}, 4 * tol);
}

// Eval with running_mean [1, -1], running_var [3, 0.25], weight [2, 0.5], bias [1, -1]:
//   channel 0: y = 2 (x - 1) / sqrt(3 + 1e-5) + 1;   channel 1: y = 0.5 (x + 1) / sqrt(0.25 + 1e-5) - 1
// and the running statistics stay as they were.
TEST_P(BatchNormBothDtypes, EvalUsesTheRunningStatisticsAndLeavesThemAlone) {
  const DType dt = GetParam();
  Tensor rm = from_vector<double>({1, -1}, {2}, dt), rv = from_vector<double>({3, 0.25}, {2}, dt);
  Tensor y = batch_norm(tiny(dt), rm, rv, from_vector<double>({2, 0.5}, {2}, dt), from_vector<double>({1, -1}, {2}, dt),
                        /*training=*/false);
  const double s0 = 1.0 / std::sqrt(3.0 + 1e-5), s1 = 1.0 / std::sqrt(0.25 + 1e-5);
  auto f0 = [&](double x) { return 2 * (x - 1) * s0 + 1; };
  auto f1 = [&](double x) { return 0.5 * (x + 1) * s1 - 1; };
  expect_near_all(values(y), {f0(0), f0(4), f1(-1), f1(1), f0(4), f0(0), f1(1), f1(-1)},
                  dt == DType::Float32 ? 1e-5 : 1e-14);
  expect_near_all(values(rm), {1, -1}, 0);
  expect_near_all(values(rv), {3, 0.25}, 0);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, BatchNormBothDtypes, ::testing::Values(DType::Float32, DType::Float64),
                         [](const ::testing::TestParamInfo<DType>& info) { return std::string(dtype_name(info.param)); });

// For L = sum(y): dL/dbias = M = 4 per channel, dL/dweight = sum(xhat) = 0, and in training
// dL/dx = w invstd (1 - mean(1) - xhat mean(xhat)) = 0. In eval dL/dx = w invstd = 2 / sqrt(3 + eps).
TEST(BatchNorm, GradientsOfASumByHand) {
  Tensor x = tiny(DType::Float64).requires_grad_(true);
  Tensor w = from_vector<double>({2, 0.5}, {2}).requires_grad_(true);
  Tensor b = from_vector<double>({1, -1}, {2}).requires_grad_(true);
  batch_norm(x, Tensor(), Tensor(), w, b, true).sum().backward();
  expect_near_all(values(b.grad()), {4, 4}, 1e-12);
  expect_near_all(values(w.grad()), {0, 0}, 1e-12);
  expect_near_all(values(x.grad()), std::vector<double>(8, 0.0), 1e-12);

  x.zero_grad();
  Tensor rm = from_vector<double>({1, -1}, {2}), rv = from_vector<double>({3, 0.25}, {2});
  batch_norm(x, rm, rv, w, Tensor(), false).sum().backward();
  const double g0 = 2 / std::sqrt(3 + 1e-5), g1 = 0.5 / std::sqrt(0.25 + 1e-5);
  expect_near_all(values(x.grad()), {g0, g0, g1, g1, g0, g0, g1, g1}, 1e-12);
}

TEST(BatchNorm, OnlyRequestedGradientsAreComputed) {
  Tensor x = tiny(DType::Float64);
  Tensor w = from_vector<double>({2, 0.5}, {2}).requires_grad_(true);
  Tensor y = batch_norm(x, Tensor(), Tensor(), w, Tensor(), true);
  ASSERT_TRUE(y.requires_grad());
  (y * y).sum().backward();
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(x.grad().defined());
  // nothing requires grad: no graph
  Tensor z = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  EXPECT_FALSE(z.requires_grad());
  EXPECT_EQ(z.grad_fn(), nullptr);
}

TEST(BatchNorm, RunningStatisticsUpdateRecordsNoGraph) {
  Tensor x = tiny(DType::Float64).requires_grad_(true);
  Tensor rm = zeros({2}, DType::Float64), rv = ones({2}, DType::Float64);
  Tensor y = batch_norm(x, rm, rv, Tensor(), Tensor(), true);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(rm.requires_grad());
  EXPECT_FALSE(rv.requires_grad());
  EXPECT_EQ(rm.grad_fn(), nullptr);
  EXPECT_EQ(rv.grad_fn(), nullptr);
}

// Non-contiguous running statistics (a column of a [2, 2] buffer) are updated in place too.
TEST(BatchNorm, NonContiguousRunningStatisticsAreUpdatedInPlace) {
  Tensor buffer = zeros({2, 2}, DType::Float64);
  Tensor rm = buffer.select(1, 1);  // stride 2
  ASSERT_FALSE(rm.is_contiguous());
  Tensor rv = ones({2}, DType::Float64);
  batch_norm(tiny(DType::Float64), rm, rv, Tensor(), Tensor(), true);
  expect_near_all(values(buffer), {0, 0.2, 0, 0}, 1e-15);
}

// [N, C] input: the statistics are over N. Channel 0 {1, 3}: mean 2, var 1 -> y = -1, 1 (eps aside).
TEST(BatchNorm, TwoDimensionalInput) {
  Tensor x = from_vector<double>({1, 10, 3, 30}, {2, 2});
  Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  const double s0 = 1 / std::sqrt(1 + 1e-5), s1 = 10 / std::sqrt(100 + 1e-5);
  expect_near_all(values(y), {-s0, -s1, s0, s1}, 1e-14);
}

TEST(BatchNorm, TrainingNeedsMoreThanOneValuePerChannel) {
  expect_error_containing([] { batch_norm(ones({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
                          "batch_norm: expected more than 1 value per channel when training, got input [1, 3]");
  expect_error_containing([] { batch_norm(ones({1, 3, 1, 1}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
                          "more than 1 value per channel");
  // eval mode has no such restriction
  Tensor y = batch_norm(ones({1, 3}), zeros({3}), ones({3}), Tensor(), Tensor(), false);
  EXPECT_EQ(y.shape(), (Shape{1, 3}));
}

TEST(BatchNorm, ErrorsNameTheOpAndTheShapes) {
  Tensor x = empty({8, 64, 56, 56});
  expect_error_containing([&] { batch_norm(x, zeros({32}), ones({64}), Tensor(), Tensor(), true); },
                          "batch_norm: running_mean has 32 elements but input has 64 channels (input [8, 64, 56, 56])");
  expect_error_containing([&] { batch_norm(x, Tensor(), Tensor(), ones({3}), Tensor(), true); },
                          "batch_norm: weight has 3 elements but input has 64 channels");
  expect_error_containing([&] { batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false); },
                          "batch_norm: eval mode (training = false) needs running_mean and running_var");
  expect_error_containing([] { batch_norm(ones({2, 3, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
                          "batch_norm: expected input [N, C] or [N, C, H, W], got [2, 3, 4]");
  expect_error_containing([] { batch_norm(ones({2, 3}, DType::Int64), Tensor(), Tensor(), Tensor(), Tensor(), true); },
                          "batch_norm: expected a floating input");
  expect_error_containing([] { batch_norm(ones({2, 3}), Tensor(), Tensor(), ones({3}, DType::Float64), Tensor(), true); },
                          "batch_norm: dtypes differ");
  expect_error_containing([] { batch_norm(ones({2, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 0.0); },
                          "batch_norm: expected eps > 0");
}

}  // namespace
}  // namespace sepal
