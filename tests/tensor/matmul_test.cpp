// matmul_test.cpp: matmul against a naive triple loop in double for plain, transposed, narrowed,
// expanded, batched and batch-broadcast operands with odd sizes, plus its shape and dtype errors.
#include <gtest/gtest.h>
#include <sepal.h>

namespace sepal {
namespace {

// Naive [B?, m, k] @ [B?, k, n] in double over the logical elements; a 2-D operand is shared by
// every batch.
std::vector<double> naive(const Tensor& a, const Tensor& b) {
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  int64_t batch = a.dim() == 3 ? a.size(0) : (b.dim() == 3 ? b.size(0) : 1);
  int64_t sa = a.dim() == 3 ? m * k : 0, sb = b.dim() == 3 ? k * n : 0;
  std::vector<double> out(batch * m * n, 0.0);
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q) s += va[p * sa + i * k + q] * vb[p * sb + q * n + j];
        out[(p * m + i) * n + j] = s;
      }
  return out;
}

void expect_matches_naive(const Tensor& a, const Tensor& b, double tol) {
  Tensor c = matmul(a, b);
  Shape expected_shape = a.dim() == 2 && b.dim() == 2 ? Shape{a.size(0), b.size(1)}
                                                      : Shape{a.dim() == 3 ? a.size(0) : b.size(0), a.size(-2), b.size(-1)};
  ASSERT_EQ(c.shape(), expected_shape);
  EXPECT_EQ(c.dtype(), a.dtype());
  std::vector<double> got = c.to_vector<double>(), want = naive(a, b);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "element " << i;
}

Tensor rnd(const Shape& s, DType d = DType::Float64) {
  static Generator gen(31);
  return randn(s, d, &gen);
}

TEST(Matmul, HandValues) {
  // [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[1*5 + 2*7, 1*6 + 2*8], [3*5 + 4*7, 3*6 + 4*8]]
  Tensor a = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  Tensor b = from_vector(std::vector<float>{5, 6, 7, 8}, {2, 2});
  EXPECT_EQ(matmul(a, b).to_vector<float>(), (std::vector<float>{19, 22, 43, 50}));
  EXPECT_EQ(a.matmul(b).shape(), (Shape{2, 2}));
  // [1, 3] @ [3, 1]: 1*4 + 2*5 + 3*6 = 32
  EXPECT_EQ(matmul(tensor({1, 2, 3}).reshape({1, 3}), tensor({4, 5, 6}).reshape({3, 1})).item(), 32.0);
}

TEST(Matmul, OddSizesBothDTypes) {
  expect_matches_naive(rnd({7, 13}), rnd({13, 5}), 1e-12);
  expect_matches_naive(rnd({7, 13}, DType::Float32), rnd({13, 5}, DType::Float32), 1e-4);
  expect_matches_naive(rnd({1, 1}), rnd({1, 9}), 1e-12);
  expect_matches_naive(rnd({33, 65}, DType::Float32), rnd({65, 17}, DType::Float32), 1e-3);
}

TEST(Matmul, TransposedOperands) {
  expect_matches_naive(rnd({13, 7}).t(), rnd({13, 5}), 1e-12);
  expect_matches_naive(rnd({7, 13}), rnd({5, 13}).t(), 1e-12);
  expect_matches_naive(rnd({13, 7}).t(), rnd({5, 13}).t(), 1e-12);
  expect_matches_naive(rnd({13, 7}, DType::Float32).t(), rnd({5, 13}, DType::Float32).t(), 1e-4);
  // a vector-like transposed operand: [1, 6] from [6, 1]
  expect_matches_naive(rnd({6, 1}).t(), rnd({6, 3}), 1e-12);
}

// float32 products up to 2^22 multiply-adds run on oneDNN's sgemm, larger ones on OpenBLAS
// (tensor/cpu/blas.cpp): both sides of the switch, with transposed operands.
TEST(Matmul, Float32OnBothSidesOfTheSmallGemmSwitch) {
  expect_matches_naive(rnd({8, 512}, DType::Float32), rnd({102, 512}, DType::Float32).t(), 1e-3);  // a ResNet head
  expect_matches_naive(rnd({8, 102}, DType::Float32).t(), rnd({8, 512}, DType::Float32), 1e-4);  // its weight gradient
  expect_matches_naive(rnd({160, 256}, DType::Float32), rnd({128, 256}, DType::Float32).t(), 1e-3);  // 5.2M
}

TEST(Matmul, NarrowedAndExpandedOperands) {
  // a column slice: row stride 10 with only 4 columns
  expect_matches_naive(rnd({5, 10}).narrow(1, 3, 4), rnd({4, 6}), 1e-12);
  expect_matches_naive(rnd({3, 5}), rnd({10, 5}).narrow(0, 2, 5), 1e-12);
  // an expanded operand (stride 0) is not a BLAS layout and must be made contiguous
  expect_matches_naive(rnd({3, 4}), rnd({4, 1}).expand({4, 6}), 1e-12);
  expect_matches_naive(rnd({1, 4}).expand({3, 4}), rnd({4, 2}), 1e-12);
}

TEST(Matmul, Batched) {
  expect_matches_naive(rnd({3, 5, 4}), rnd({3, 4, 6}), 1e-12);
  expect_matches_naive(rnd({3, 4, 5}).transpose(1, 2), rnd({3, 6, 4}).transpose(1, 2), 1e-12);
  // a batch dim that is not outermost in memory: [5, 3, 4] viewed as [3, 5, 4]
  expect_matches_naive(rnd({5, 3, 4}).permute({1, 0, 2}), rnd({3, 4, 2}), 1e-12);
  expect_matches_naive(rnd({2, 7, 3}, DType::Float32), rnd({2, 3, 9}, DType::Float32), 1e-4);
  // an expanded batch (batch stride 0), a column slice per batch (ld 8 > 4 columns), and a
  // layout BLAS cannot take (both inner strides 2) that must be copied first
  expect_matches_naive(rnd({1, 5, 4}).expand({3, 5, 4}), rnd({3, 4, 2}), 1e-12);
  expect_matches_naive(rnd({3, 5, 8}).narrow(2, 1, 4), rnd({3, 4, 2}), 1e-12);
  expect_matches_naive(rnd({3, 5, 4, 2}).select(3, 1), rnd({3, 4, 2}), 1e-12);
}

TEST(Matmul, BroadcastBatch) {
  expect_matches_naive(rnd({3, 5, 4}), rnd({4, 6}), 1e-12);
  expect_matches_naive(rnd({5, 4}), rnd({3, 4, 6}), 1e-12);
  expect_matches_naive(rnd({4, 5}).t(), rnd({3, 6, 4}).transpose(1, 2), 1e-12);
  expect_matches_naive(rnd({1, 5, 4}), rnd({4, 2}), 1e-12);
}

TEST(Matmul, EmptyDims) {
  full({2, 3}, 55.0);  // a sentinel block the output may reuse
  // k = 0: every output element is an empty sum
  Tensor c = matmul(rnd({2, 0}, DType::Float32), rnd({0, 3}, DType::Float32));
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(c.to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(matmul(rnd({0, 4}), rnd({4, 3})).shape(), (Shape{0, 3}));
  EXPECT_EQ(matmul(rnd({2, 0, 4}), rnd({2, 4, 3})).shape(), (Shape{2, 0, 3}));
}

TEST(Matmul, Errors) {
  try {
    matmul(rnd({2, 3}), rnd({4, 5}));
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("matmul"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[4, 5]"), std::string::npos) << msg;
  }
  EXPECT_THROW(matmul(rnd({3}), rnd({3, 2})), ShapeError);
  EXPECT_THROW(matmul(rnd({2, 2, 2, 2}), rnd({2, 2})), ShapeError);
  EXPECT_THROW(matmul(rnd({2, 3, 4}), rnd({3, 4, 5})), ShapeError);  // batch 2 vs 3
  EXPECT_THROW(matmul(rnd({2, 3}), rnd({3, 2}, DType::Float32)), DTypeError);
  EXPECT_THROW(matmul(ones({2, 2}, DType::Int64), ones({2, 2}, DType::Int64)), DTypeError);
}

}  // namespace
}  // namespace sepal
