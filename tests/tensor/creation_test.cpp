// creation_test.cpp: the tensor factories (zeros, ones, full, arange, from_vector, scalar_tensor),
// the seeded random factories and the Generator's (seed, offset) state.
#include <gtest/gtest.h>
#include <sepal.h>

#include <cmath>
#include <set>

namespace sepal {
namespace {

// Leaves a freed block full of `sentinel` in the CPU caching allocator, so a factory that reuses
// it without writing every element is caught.
void dirty_cache(const Shape& shape, DType dtype, double sentinel = 1234.5) {
  Tensor t = full(shape, sentinel, dtype);
  ASSERT_NE(t.to_vector<double>()[0], 0.0);
}

TEST(Creation, ZerosHasShapeStridesAndZeros) {
  dirty_cache({2, 3}, DType::Float32);
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.strides(), (Strides{3, 1}));
  EXPECT_EQ(z.dtype(), DType::Float32);
  EXPECT_TRUE(z.device().is_cpu());
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_EQ(z.offset(), 0);
  EXPECT_FALSE(z.requires_grad());
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(6, 0.0f));
}

TEST(Creation, OnesAndFullInEveryDType) {
  dirty_cache({4}, DType::Int64);
  EXPECT_EQ(ones({4}, DType::Int64).to_vector<int64_t>(), std::vector<int64_t>(4, 1));
  EXPECT_EQ(full({2, 2}, -2.5, DType::Float64).to_vector<double>(), std::vector<double>(4, -2.5));
  EXPECT_EQ(full({3}, 7.0, DType::UInt8).to_vector<uint8_t>(), std::vector<uint8_t>(3, 7));
  EXPECT_EQ(full({2}, 1.0, DType::Bool).to_vector<uint8_t>(), std::vector<uint8_t>(2, 1));
  // a fractional fill of an integer tensor truncates toward zero, like static_cast: 7.9 -> 7
  EXPECT_EQ(full({1}, 7.9, DType::Int64).item<int64_t>(), 7);
  EXPECT_EQ(full({1}, -7.9, DType::Int64).item<int64_t>(), -7);
}

TEST(Creation, LikeFactoriesCopyDTypeAndShape) {
  Tensor x = full({2, 5}, 3.0, DType::Float64);
  Tensor o = ones_like(x);
  EXPECT_EQ(o.shape(), x.shape());
  EXPECT_EQ(o.dtype(), DType::Float64);
  EXPECT_EQ(o.to_vector<double>(), std::vector<double>(10, 1.0));
  EXPECT_EQ(zeros_like(x).to_vector<double>(), std::vector<double>(10, 0.0));
  EXPECT_EQ(empty_like(x).shape(), (Shape{2, 5}));
}

TEST(Creation, EmptyShapesAndNegativeSizes) {
  Tensor e = zeros({0, 3});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_EQ(e.shape(), (Shape{0, 3}));
  EXPECT_TRUE(e.to_vector<float>().empty());
  EXPECT_THROW(zeros({-1, 2}), ShapeError);
  EXPECT_THROW(empty({3, -2}), ShapeError);
}

TEST(Creation, RequiresGradOption) {
  Tensor x = zeros({2}, TensorOptions().dtype(DType::Float64).requires_grad());
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  EXPECT_EQ(x.dtype(), DType::Float64);
}

TEST(Creation, ArangeCountsAndValues) {
  dirty_cache({5}, DType::Float32);
  EXPECT_EQ(arange(5).to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4}));
  // ceil((2.5 - 1) / 0.5) = 3 values: 1, 1.5, 2
  EXPECT_EQ(arange(1, 2.5, 0.5).to_vector<float>(), (std::vector<float>{1, 1.5f, 2}));
  // ceil((2.6 - 1) / 0.5) = ceil(3.2) = 4 values: the last one, 2.5, is still below 2.6
  EXPECT_EQ(arange(1, 2.6, 0.5).to_vector<float>(), (std::vector<float>{1, 1.5f, 2, 2.5f}));
  EXPECT_EQ(arange(0, 10, 3, DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{0, 3, 6, 9}));
}

TEST(Creation, ArangeNegativeSteps) {
  // ceil((0 - 5) / -1.5) = ceil(3.33) = 4 values: 5, 3.5, 2, 0.5
  EXPECT_EQ(arange(5, 0, -1.5).to_vector<float>(), (std::vector<float>{5, 3.5f, 2, 0.5f}));
  // ceil((-1 - 5) / -2) = 3 values: 5, 3, 1
  EXPECT_EQ(arange(5, -1, -2, DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{5, 3, 1}));
}

TEST(Creation, ArangeEmptyRangesAndBadSteps) {
  EXPECT_EQ(arange(3, 3).shape(), (Shape{0}));
  EXPECT_EQ(arange(0, 5, -1).shape(), (Shape{0}));  // a negative step away from the end
  EXPECT_EQ(arange(5, 0, 1).shape(), (Shape{0}));
  EXPECT_EQ(arange(-2).shape(), (Shape{0}));
  EXPECT_THROW(arange(0, 5, 0), Error);
  EXPECT_THROW(arange(0, std::nan(""), 1), Error);
  EXPECT_THROW(arange(0, INFINITY, 1), Error);
}

TEST(Creation, FromVectorCopiesAndConverts) {
  std::vector<double> data{1.5, -2.5, 3.0, 4.25, -5.0, 6.0};
  Tensor x = from_vector(data, {2, 3}, DType::Float64);
  EXPECT_EQ(x.shape(), (Shape{2, 3}));
  EXPECT_EQ(x.to_vector<double>(), data);
  data[0] = 100;  // the tensor owns a copy
  EXPECT_EQ(x.to_vector<double>()[0], 1.5);
  // doubles into an int64 tensor truncate toward zero: 1.5 -> 1, -2.5 -> -2
  Tensor i = from_vector(std::vector<double>{1.5, -2.5}, {2}, DType::Int64);
  EXPECT_EQ(i.dtype(), DType::Int64);
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{1, -2}));
  EXPECT_EQ(tensor({1.0f, 2.0f, 3.0f}).shape(), (Shape{3}));
  EXPECT_EQ(from_vector(std::vector<int64_t>{}, {0, 4}).numel(), 0);
}

TEST(Creation, FromVectorSizeMismatchNamesCountAndShape) {
  try {
    from_vector(std::vector<float>{1, 2, 3}, {2, 2});
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("3 values"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(from_vector(std::vector<float>{1, 2, 3, 4, 5}, {2, 2}), ShapeError);
  EXPECT_EQ(from_vector(std::vector<float>{2.5f}, {}).item(), 2.5);  // a 0-dim shape holds one value
  EXPECT_THROW(from_vector(std::vector<float>{}, {}), ShapeError);
}

TEST(Creation, ScalarTensorIsZeroDim) {
  Tensor s = scalar_tensor(3.5);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_TRUE(s.strides().empty());
  EXPECT_EQ(s.item(), 3.5);
  Tensor i = scalar_tensor(-4, DType::Int64);
  EXPECT_EQ(i.item<int64_t>(), -4);
}

// ---- random ----

TEST(Random, SameSeedSameValuesDifferentSeedsDiffer) {
  Generator a(42), b(42), c(43);
  std::vector<float> va = rand({1000}, {}, &a).to_vector<float>();
  std::vector<float> vb = rand({1000}, {}, &b).to_vector<float>();
  std::vector<float> vc = rand({1000}, {}, &c).to_vector<float>();
  EXPECT_EQ(va, vb);
  int same = 0;
  for (size_t i = 0; i < va.size(); ++i) same += va[i] == vc[i];
  EXPECT_LT(same, 5);
  // the next draw from one generator continues its stream rather than repeating it
  std::vector<float> va2 = rand({1000}, {}, &a).to_vector<float>();
  same = 0;
  for (size_t i = 0; i < va.size(); ++i) same += va[i] == va2[i];
  EXPECT_LT(same, 5);
  rand({1000}, {}, &b);  // b catches up with a
  EXPECT_EQ(randn({50}, {}, &a).to_vector<float>(), randn({50}, {}, &b).to_vector<float>());
}

TEST(Random, ManualSeedReplaysTheDefaultGenerator) {
  manual_seed(7);
  std::vector<float> first = randn({64}).to_vector<float>();
  manual_seed(7);
  EXPECT_EQ(randn({64}).to_vector<float>(), first);
  manual_seed(8);
  EXPECT_NE(randn({64}).to_vector<float>(), first);
}

TEST(Random, UniformStaysInHalfOpenRange) {
  Generator g(1);
  std::vector<double> v = uniform({100000}, -2.0, 3.0, DType::Float64, &g).to_vector<double>();
  double lo = 1e9, hi = -1e9, sum = 0;
  for (double x : v) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += x;
  }
  EXPECT_GE(lo, -2.0);
  EXPECT_LT(hi, 3.0);
  EXPECT_LT(lo, -1.99);  // 1e5 draws get within 1e-3 of both ends
  EXPECT_GT(hi, 2.99);
  // mean (low + high) / 2 = 0.5; its standard error is 5 / sqrt(12) / sqrt(1e5) = 0.0046
  EXPECT_NEAR(sum / v.size(), 0.5, 0.025);
  // float32 draws near 1 round up to 1.0f; those must still be excluded
  std::vector<float> f = rand({100000}, {}, &g).to_vector<float>();
  for (float x : f) ASSERT_TRUE(x >= 0.0f && x < 1.0f) << x;
  EXPECT_THROW(uniform({2}, 1.0, 1.0), Error);
  EXPECT_THROW(rand({2}, DType::Int64), DTypeError);
}

TEST(Random, NormalMeanAndStdOver1e5Samples) {
  Generator g(2);
  const int n = 100000;
  std::vector<double> v = normal({n}, 2.0, 3.0, DType::Float64, &g).to_vector<double>();
  double sum = 0, sq = 0;
  int within_one_std = 0;
  for (double x : v) {
    sum += x;
    within_one_std += std::abs(x - 2.0) < 3.0;
  }
  double mean = sum / n;
  for (double x : v) sq += (x - mean) * (x - mean);
  double sd = std::sqrt(sq / (n - 1));
  // standard errors: mean 3 / sqrt(1e5) = 0.0095, std 3 / sqrt(2e5) = 0.0067; allow ~5 of them
  EXPECT_NEAR(mean, 2.0, 0.05);
  EXPECT_NEAR(sd, 3.0, 0.035);
  // P(|z| < 1) = 0.6827 for a Gaussian (a uniform with the same std would give 0.577)
  EXPECT_NEAR(static_cast<double>(within_one_std) / n, 0.6827, 0.01);
  std::vector<float> z = randn({n}, {}, &g).to_vector<float>();
  double zs = 0, zq = 0;
  for (float x : z) zs += x, zq += double(x) * x;
  EXPECT_NEAR(zs / n, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(zq / n), 1.0, 0.012);
  EXPECT_THROW(normal({2}, 0.0, -1.0), Error);
}

TEST(Random, RandintInRangeHitsEveryValue) {
  Generator g(3);
  Tensor r = randint(-3, 4, {10000}, DType::Int64, &g);
  EXPECT_EQ(r.dtype(), DType::Int64);
  std::set<int64_t> seen;
  for (int64_t v : r.to_vector<int64_t>()) {
    ASSERT_GE(v, -3);
    ASSERT_LT(v, 4);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);  // -3..3
  // a float tensor of integers works too
  for (float v : randint(0, 2, {100}, DType::Float32, &g).to_vector<float>()) EXPECT_TRUE(v == 0.0f || v == 1.0f);
  EXPECT_THROW(randint(5, 5, {2}), Error);
  EXPECT_THROW(randint(0, 2, {2}, DType::Bool), DTypeError);
}

TEST(Random, GeneratorStateSaveRestoreReplaysTheStream) {
  Generator g(11);
  rand({13}, {}, &g);  // move away from offset 0
  const uint64_t seed = g.seed(), offset = g.offset();
  EXPECT_EQ(offset, 13u);  // one Philox counter per element
  std::vector<float> u = rand({100}, {}, &g).to_vector<float>();
  std::vector<float> n = randn({7, 3}, {}, &g).to_vector<float>();
  std::vector<int64_t> i = randint(0, 1000, {9}, DType::Int64, &g).to_vector<int64_t>();
  EXPECT_EQ(g.offset(), offset + 100 + 21 + 9);
  g.set_state(seed, offset);
  EXPECT_EQ(rand({100}, {}, &g).to_vector<float>(), u);
  EXPECT_EQ(randn({7, 3}, {}, &g).to_vector<float>(), n);
  EXPECT_EQ(randint(0, 1000, {9}, DType::Int64, &g).to_vector<int64_t>(), i);
  // manual_seed resets the offset
  g.manual_seed(11);
  EXPECT_EQ(g.offset(), 0u);
}

TEST(Random, ValueDependsOnlyOnSeedAndCounter) {
  // a tensor large enough to be filled by several threads equals, element for element, the
  // pieces drawn separately from a generator restored to the matching offsets
  Generator whole(5);
  std::vector<float> all = rand({40000}, {}, &whole).to_vector<float>();
  Generator part(5);
  part.set_state(5, 30000);
  std::vector<float> tail = rand({10000}, {}, &part).to_vector<float>();
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), all.begin() + 30000));
}

TEST(Random, HostDraws) {
  Generator g(9);
  std::set<uint64_t> seen;
  for (int i = 0; i < 200; ++i) {
    double d = g.next_double();
    ASSERT_TRUE(d >= 0.0 && d < 1.0);
    uint64_t k = g.next_below(5);
    ASSERT_LT(k, 5u);
    seen.insert(k);
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(g.offset(), 400u);
}

}  // namespace
}  // namespace sepal
