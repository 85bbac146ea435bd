// gradients_test.cpp: hand-derived gradients of small expressions (sum of squares, matmul, broadcast
// add, mean, amax ties, views, where, dtype conversion), with the maths in the comments.
#include <gtest/gtest.h>
#include <sepal.h>

#include "common/leaf.h"

namespace sepal {
namespace {

using D = std::vector<double>;

using testing::leaf;

void expect_grad(const Tensor& x, const D& expected, double tol = 1e-12) {
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().shape(), x.shape());
  EXPECT_EQ(x.grad().dtype(), x.dtype());
  D got = x.grad().to_vector<double>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], tol) << "element " << i;
}

TEST(Gradients, SumOfSquaresIsTwoX) {
  // d/dx sum(x * x) = 2 x
  Tensor x = leaf({1, -2, 3}, {3});
  Tensor y = (x * x).sum();
  EXPECT_EQ(y.item(), 14.0);
  y.backward();
  expect_grad(x, {2, -4, 6});
}

TEST(Gradients, MatmulWeightAndInput) {
  // L = sum(X @ W): dL/dW[k][j] = sum_i X[i][k] (column sums of X), dL/dX[i][k] = sum_j W[k][j]
  Tensor X = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor W = leaf({1, -1, 2, 0.5, 0, 3}, {3, 2});
  matmul(X, W).sum().backward();
  expect_grad(W, {5, 5, 7, 7, 9, 9});
  expect_grad(X, {0, 2.5, 3, 0, 2.5, 3});
}

TEST(Gradients, MatmulWithUpstreamGradient) {
  // backward(G) of C = X @ W gives dW = X^T G, dX = G W^T.
  // X = [[1, 2, 3], [4, 5, 6]], G = [[1, 0], [0, 2]]:
  //   dW[k][j] = sum_i X[i][k] G[i][j] = [[1, 8], [2, 10], [3, 12]]
  // W = [[1, -1], [2, 0.5], [0, 3]]:
  //   dX[i][k] = sum_j G[i][j] W[k][j] = [[1, 2, 0], [-2, 1, 6]]
  Tensor X = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor W = leaf({1, -1, 2, 0.5, 0, 3}, {3, 2});
  matmul(X, W).backward(from_vector(D{1, 0, 0, 2}, {2, 2}, DType::Float64));
  expect_grad(W, {1, 8, 2, 10, 3, 12});
  expect_grad(X, {1, 2, 0, -2, 1, 6});
}

TEST(Gradients, BatchBroadcastMatmulSumsOverTheBatch) {
  // L = sum(A @ W) with A [2, 1, 2] and W [2, 1] shared by both batches:
  // dW[k] = sum_b A[b][0][k] = [1 + 3, 2 + 4]
  Tensor A = leaf({1, 2, 3, 4}, {2, 1, 2});
  Tensor W = leaf({5, 6}, {2, 1});
  matmul(A, W).sum().backward();
  expect_grad(W, {4, 6});
  expect_grad(A, {5, 6, 5, 6});
}

TEST(Gradients, BroadcastAddSumsOverBroadcastDims) {
  // L = sum((a + b) * c), c = [[1, 2, 3], [4, 5, 6]]: dL/da = c, dL/db = c summed to b's shape
  Tensor c = from_vector(D{1, 2, 3, 4, 5, 6}, {2, 3}, DType::Float64);
  Tensor a = leaf({0.5, -1, 2, 3, 1, -2}, {2, 3});
  Tensor row = leaf({1, 2, 3}, {3});      // broadcast over dim 0: column sums [5, 7, 9]
  Tensor col = leaf({1, 2}, {2, 1});      // broadcast over dim 1: row sums [6, 15]
  Tensor s = leaf({7}, {});               // broadcast over everything: 21
  ((a + row + col + s) * c).sum().backward();
  expect_grad(a, {1, 2, 3, 4, 5, 6});
  expect_grad(row, {5, 7, 9});
  expect_grad(col, {6, 15});
  expect_grad(s, {21});
}

TEST(Gradients, MeanDividesByCount) {
  // mean over 8 elements: each gets 1/8
  Tensor x = leaf({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  x.mean().backward();
  expect_grad(x, D(8, 0.125));
  // mean over dim 1 (4 elements per row) with upstream [1, 2]: row 0 gets 1/4, row 1 gets 2/4
  Tensor y = leaf({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  y.mean({1}).backward(from_vector(D{1, 2}, {2}, DType::Float64));
  expect_grad(y, {0.25, 0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 0.5});
  // mean over dims {0, 2} of [2, 3, 2] with keepdim: each element gets 1/4
  Tensor z = leaf(D(12, 1.5), {2, 3, 2});
  z.mean({0, 2}, true).sum().backward();
  expect_grad(z, D(12, 0.25));
}

TEST(Gradients, AmaxSplitsTiesAndMaximumHalves) {
  // max of [1, 3, 3]: the two maxima share the gradient
  Tensor x = leaf({1, 3, 3}, {3});
  x.max().backward();
  expect_grad(x, {0, 0.5, 0.5});
  // row maxima of [[2, 1], [0, 4]] with upstream [1, 10]
  Tensor y = leaf({2, 1, 0, 4}, {2, 2});
  y.max({1}).backward(from_vector(D{1, 10}, {2}, DType::Float64));
  expect_grad(y, {1, 0, 0, 10});
  // maximum(a, b) with a tie in the middle element
  Tensor a = leaf({1, 2, 5}, {3}), b = leaf({3, 2, 4}, {3});
  maximum(a, b).sum().backward();
  expect_grad(a, {0, 0.5, 1});
  expect_grad(b, {1, 0.5, 0});
}

TEST(Gradients, ViewsRouteGradientsBack) {
  // L = sum(x.narrow(1, 1, 2) * w) over a [2, 4] x: only columns 1, 2 get w, the rest 0
  Tensor x = leaf({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  Tensor w = from_vector(D{10, 20, 30, 40}, {2, 2}, DType::Float64);
  (x.narrow(1, 1, 2) * w).sum().backward();
  expect_grad(x, {0, 10, 20, 0, 0, 30, 40, 0});
  // L = sum(x.t() * m) with m [4, 2]: dL/dx[i][j] = m[j][i]
  Tensor y = leaf({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  Tensor m = from_vector(D{1, 2, 3, 4, 5, 6, 7, 8}, {4, 2}, DType::Float64);
  (y.t() * m).sum().backward();
  expect_grad(y, {1, 3, 5, 7, 2, 4, 6, 8});
  // select, reshape and expand: L = sum(x.select(0, 1).reshape({2, 2}).expand({3, 2, 2}))
  // each element of row 1 is counted 3 times
  Tensor z = leaf({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  z.select(0, 1).reshape({2, 2}).expand({3, 2, 2}).sum().backward();
  expect_grad(z, {0, 0, 0, 0, 3, 3, 3, 3});
}

TEST(Gradients, WhereAndClampMaskTheGradient) {
  // where(x > 0, x * 2, x * 3): slope 2 where x > 0, else 3
  Tensor x = leaf({-1, 2, 0.5, -3}, {4});
  where(gt(x, 0.0), x * 2, x * 3).sum().backward();
  expect_grad(x, {3, 2, 2, 3});
  // clamp to [-1, 1]: slope 1 inside (boundaries included), 0 outside
  Tensor y = leaf({-2, -1, 0.5, 1, 3}, {5});
  y.clamp(-1, 1).sum().backward();
  expect_grad(y, {0, 1, 1, 1, 0});
}

TEST(Gradients, ToFloat32FlowsBackAsFloat64) {
  // y = float32(x); L = sum(y * y) -> dL/dx = 2 x, delivered in x's dtype
  Tensor x = leaf({1.5, -2}, {2});
  Tensor y = x.to(DType::Float32);
  EXPECT_EQ(y.dtype(), DType::Float32);
  EXPECT_TRUE(y.requires_grad());
  (y * y).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().dtype(), DType::Float64);
  expect_grad(x, {3, -4});
  // an integer conversion carries no gradient
  Tensor i = x.to(DType::Int64);
  EXPECT_FALSE(i.requires_grad());
  EXPECT_EQ(i.grad_fn(), nullptr);
}

TEST(Gradients, ScalarOperatorsAndDivision) {
  // L = sum(3 / x + x / 4 - (2 - x)): dL/dx = -3 / x^2 + 1/4 + 1
  Tensor x = leaf({1, -2}, {2});
  (3.0 / x + x / 4.0 - (2.0 - x)).sum().backward();
  expect_grad(x, {-3 + 1.25, -0.75 + 1.25});
  // d(a / b)/da = 1 / b, d(a / b)/db = -a / b^2 with a = [1, 6], b = [2, -3]
  Tensor a = leaf({1, 6}, {2}), b = leaf({2, -3}, {2});
  (a / b).sum().backward();
  expect_grad(a, {0.5, -1.0 / 3});
  expect_grad(b, {-0.25, -6.0 / 9});
}

}  // namespace
}  // namespace sepal
