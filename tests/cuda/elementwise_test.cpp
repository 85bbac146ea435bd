// elementwise_test.cpp: CUDA elementwise kernels beyond the op table: comparisons (with ties and
// NaN) and where in every dtype, integer arithmetic, in-place updates, broadcast and strided
// operands, and sizes past one grid pass, each against the CPU backend.
#include <gtest/gtest.h>

#include <limits>

#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

#define SEPAL_COMPARE_ENTRY(Name, ...) CompareOp::Name,
#define SEPAL_BINARY_ENTRY(Name, ...) BinaryOp::Name,
#define SEPAL_UNARY_ENTRY(Name, ...) UnaryOp::Name,
const CompareOp kCompareOps[] = {SEPAL_COMPARE_OPS(SEPAL_COMPARE_ENTRY)};
const BinaryOp kBinaryOps[] = {SEPAL_BINARY_OPS(SEPAL_BINARY_ENTRY)};
const UnaryOp kUnaryOps[] = {SEPAL_UNARY_OPS(SEPAL_UNARY_ENTRY)};
#undef SEPAL_COMPARE_ENTRY
#undef SEPAL_BINARY_ENTRY
#undef SEPAL_UNARY_ENTRY

// Operands with many equal pairs: small integers, both signs, in any dtype.
Tensor ties(const Shape& shape, DType dtype, uint64_t seed) {
  Generator gen(seed);
  Tensor x = randint(dtype == DType::UInt8 || dtype == DType::Bool ? 0 : -2,
                     dtype == DType::Bool ? 2 : 3, shape, DType::Int64, &gen);
  return raw::cast(x, dtype);
}

TEST(CudaElementwise, ComparisonsMatchCpuInEveryDTypeWithBroadcast) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8, DType::Bool}) {
    Tensor a = ties({4, 1, 6}, dtype, 1), b = ties({3, 6}, dtype, 2);
    Tensor ga = raw::to_device(a, gpu()), gb = raw::to_device(b, gpu());
    for (CompareOp op : kCompareOps) {
      SCOPED_TRACE(std::string(op_name(op)) + " " + dtype_name(dtype));
      Tensor c = raw::compare(op, a, b), g = raw::compare(op, ga, gb);
      EXPECT_EQ(g.dtype(), DType::Bool);
      EXPECT_EQ(g.shape(), (Shape{4, 3, 6}));
      EXPECT_TRUE(bitwise_equal(c, g));
      // transposed operands
      EXPECT_TRUE(bitwise_equal(raw::compare(op, raw::transpose(b, 0, 1), raw::transpose(b, 0, 1)),
                                raw::compare(op, raw::transpose(gb, 0, 1), raw::transpose(gb, 0, 1))));
    }
  }
}

TEST(CudaElementwise, ComparisonsWithNaNAndHandCheckedValues) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor a = from_vector<double>({1, 2, nan, nan, -0.0}, {5}, TensorOptions().device(gpu()));
  Tensor b = from_vector<double>({2, 2, 1, nan, 0.0}, {5}, TensorOptions().device(gpu()));
  using B = std::vector<uint8_t>;
  EXPECT_EQ(eq(a, b).to_vector<uint8_t>(), (B{0, 1, 0, 0, 1}));  // NaN equals nothing; -0 == 0
  EXPECT_EQ(ne(a, b).to_vector<uint8_t>(), (B{1, 0, 1, 1, 0}));
  EXPECT_EQ(lt(a, b).to_vector<uint8_t>(), (B{1, 0, 0, 0, 0}));
  EXPECT_EQ(le(a, b).to_vector<uint8_t>(), (B{1, 1, 0, 0, 1}));
  EXPECT_EQ(gt(a, b).to_vector<uint8_t>(), (B{0, 0, 0, 0, 0}));
  EXPECT_EQ(ge(a, b).to_vector<uint8_t>(), (B{0, 1, 0, 0, 1}));
  Tensor ca = raw::to_device(a, Device::cpu()), cb = raw::to_device(b, Device::cpu());
  for (CompareOp op : kCompareOps) EXPECT_TRUE(bitwise_equal(raw::compare(op, ca, cb), raw::compare(op, a, b))) << op_name(op);
}

TEST(CudaElementwise, WhereMatchesCpuWithBroadcastAndEveryDType) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tensor cond = raw::compare(CompareOp::Gt, randn({3, 1, 5}), scalar_tensor(0.0));
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8, DType::Bool}) {
    SCOPED_TRACE(dtype_name(dtype));
    Tensor a = ties({4, 5}, dtype, 3), b = ties({3, 4, 1}, dtype, 4);
    Tensor c = raw::where(cond, a, b);
    Tensor g = raw::where(raw::to_device(cond, gpu()), raw::to_device(a, gpu()), raw::to_device(b, gpu()));
    EXPECT_EQ(g.shape(), (Shape{3, 4, 5}));
    EXPECT_TRUE(bitwise_equal(c, g));
  }
  // hand-checked
  Tensor k = from_vector<uint8_t>({1, 0, 1}, {3}, TensorOptions().device(gpu()));
  Tensor kb = raw::cast(k, DType::Bool);
  Tensor x = from_vector<float>({1, 2, 3}, {3}, TensorOptions().device(gpu()));
  Tensor y = from_vector<float>({-1, -2, -3}, {3}, TensorOptions().device(gpu()));
  EXPECT_EQ(raw::where(kb, x, y).to_vector<float>(), (std::vector<float>{1, -2, 3}));
}

TEST(CudaElementwise, IntegerArithmeticIsExact) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Generator gen(11);
  Tensor a = raw::binary(BinaryOp::Mul, randint(-100000, 100000, {6, 7}, DType::Int64, &gen),
                         scalar_tensor(1 << 20, DType::Int64));
  Tensor b = randint(-3000, 3000, {7}, DType::Int64, &gen);
  for (BinaryOp op : kBinaryOps) {
    if (op == BinaryOp::Div) continue;  // integer division is rejected by raw::binary
    SCOPED_TRACE(op_name(op));
    EXPECT_TRUE(bitwise_equal(raw::binary(op, a, b), raw::binary(op, raw::to_device(a, gpu()), raw::to_device(b, gpu()))));
  }
}

TEST(CudaElementwise, EveryUnaryAndBinaryOpOnStridedAndBroadcastOperands) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  for (DType dtype : {DType::Float32, DType::Float64}) {
    // positive inputs keep log/sqrt/pow finite; a permuted, narrowed view is non-contiguous
    Tensor base = uniform({5, 6, 7}, 0.5, 2.0, dtype);
    Tensor x = raw::narrow(raw::permute(base, {2, 0, 1}), 0, 1, 5);  // [5, 5, 6]
    Tensor gx = raw::narrow(raw::permute(raw::to_device(base, gpu()), {2, 0, 1}), 0, 1, 5);
    ASSERT_TRUE(bitwise_equal(x, gx));
    ASSERT_FALSE(gx.is_contiguous());
    const double tol = dtype == DType::Float32 ? 1e-5 : 1e-12;
    for (UnaryOp op : kUnaryOps) {
      SCOPED_TRACE(std::string(op_name(op)) + " " + dtype_name(dtype));
      UnaryArgs args{0.75, 1.25};  // clamp to [0.75, 1.25], pow 0.75, x + 0.75, x * 0.75
      Tensor c = raw::unary(op, x, args), g = raw::unary(op, gx, args);
      EXPECT_TRUE(all_close(c, g, tol, tol));
      Tensor grad = raw::unary(UnaryOp::Cos, x), ggrad = raw::to_device(grad, gpu());
      EXPECT_TRUE(all_close(raw::unary_backward(op, grad, x, c, args),
                            raw::unary_backward(op, ggrad, gx, g, args), tol, tol));
    }
    Tensor y = raw::narrow(uniform({6, 1}, 0.5, 2.0, dtype), 0, 1, 5);  // broadcasts over the last dim
    Tensor gy = raw::to_device(y, gpu());
    for (BinaryOp op : kBinaryOps) {
      SCOPED_TRACE(std::string(op_name(op)) + " " + dtype_name(dtype));
      Tensor c = raw::binary(op, x, y), g = raw::binary(op, gx, gy);
      EXPECT_TRUE(all_close(c, g, tol, tol));
      Tensor grad = raw::unary(UnaryOp::Sin, c), ggrad = raw::to_device(grad, gpu());
      for (int input : {0, 1})
        EXPECT_TRUE(all_close(raw::binary_backward(op, input, grad, x, y),
                              raw::binary_backward(op, input, ggrad, gx, gy), tol, tol)) << "input " << input;
    }
  }
}

TEST(CudaElementwise, InPlaceUpdates) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tensor c = randn({4, 5}), row = randn({5});
  Tensor g = c.to(gpu()), grow = row.to(gpu());
  for (BinaryOp op : kBinaryOps) {
    SCOPED_TRACE(op_name(op));
    raw::binary_(op, c, row);  // a = op(a, b) with out aliasing a
    raw::binary_(op, g, grow);
    EXPECT_TRUE(all_close(c, g, 1e-5, 1e-6));
  }
  c.add_(row, 0.5);
  g.add_(grow, 0.5);
  c.mul_(-3.0);
  g.mul_(-3.0);
  EXPECT_TRUE(all_close(c, g, 1e-5, 1e-6));
}

TEST(CudaElementwise, SizesPastOneGridPass) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const int64_t n = (int64_t(1) << 20) + 3;
  Tensor a = randn({n}), b = randn({n});
  Tensor ga = a.to(gpu()), gb = b.to(gpu());
  poison_cache(n, DType::Float32, 2);
  EXPECT_TRUE(all_close(a + b, ga + gb, 0, 0));  // one rounding on both sides: exact
  EXPECT_TRUE(all_close(a.exp(), ga.exp(), 1e-5, 0));
  Tensor s = scalar_tensor(2.0);
  EXPECT_TRUE(all_close(a * s, ga * s.to(gpu()), 0, 0));  // broadcast scalar operand
  // 2^26 + 1 elements: more than the 65536 x 256 threads of a capped grid, so threads loop
  const int64_t huge = (int64_t(1) << 26) + 1;
  Tensor h = full({huge}, 1.5, TensorOptions().device(gpu()));
  Tensor h2 = h * h;
  EXPECT_EQ(raw::narrow(h2, 0, huge - 1, 1).item<double>(), 2.25);
  // summed in double (exact here), then rounded once to float32
  EXPECT_EQ(h2.sum().item<float>(), static_cast<float>(2.25 * static_cast<double>(huge)));
  // strided and huge: the last element of a transposed product
  Tensor m = raw::transpose(raw::reshape(arange(0, static_cast<double>(huge - 1), 1,
                                                TensorOptions().dtype(DType::Int64).device(gpu())),
                                         {int64_t(1) << 13, int64_t(1) << 13}),
                            0, 1);
  Tensor mc = raw::contiguous(m);
  EXPECT_EQ(raw::narrow(raw::reshape(mc, {huge - 1}), 0, 1, 1).item<int64_t>(), int64_t(1) << 13);
  EXPECT_EQ(raw::narrow(raw::reshape(mc, {huge - 1}), 0, huge - 2, 1).item<int64_t>(), huge - 2);
}

}  // namespace
}  // namespace sepal::testing
