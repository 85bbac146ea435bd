// reduce_test.cpp: CUDA reductions against the CPU backend and hand-checked values: every
// ReduceOp in every dtype it supports, ties and NaN for argmax/argmin and max/min, rows longer
// than a block, and more rows than the grid cap.
#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

const ReduceOp kAllOps[] = {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max,
                            ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin};

using View = std::function<Tensor(const Tensor&)>;

// Runs `op` over `dims` on view(base) on the CPU and on the same view of base's CUDA copy (taken
// after the move, so the GPU kernel sees the view's strides), and compares: exactly for
// max/min/arg ops and integer sums, within float rounding for floating sums and means.
void expect_reduce_matches(ReduceOp op, const Tensor& base, std::vector<int64_t> dims, bool keepdim = false,
                           const View& view = [](const Tensor& t) { return t; }) {
  const Tensor x = view(base);
  SCOPED_TRACE(std::string(op_name(op)) + " of " + dtype_name(x.dtype()) + " " + shape_str(x.shape()) + " strides " +
               shape_str(x.strides()) + " over " + shape_str(dims));
  Tensor c = raw::reduce(op, x, dims, keepdim);
  Tensor gx = view(raw::to_device(base, gpu()));
  ASSERT_EQ(gx.strides(), x.strides());
  poison_cache(c.numel(), c.dtype(), 2);
  Tensor g = raw::reduce(op, gx, dims, keepdim);
  ASSERT_EQ(g.device(), gpu());
  bool rounding = (op == ReduceOp::Sum || op == ReduceOp::Mean) && is_floating(x.dtype());
  const bool f32 = x.dtype() == DType::Float32;
  if (rounding) EXPECT_TRUE(all_close(c, g, f32 ? 1e-6 : 1e-13, f32 ? 1e-6 : 1e-9));
  else EXPECT_TRUE(bitwise_equal(c, g));
}

TEST(CudaReduce, EveryOpMatchesCpuOnFloats) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor x = raw::cast(randn({5, 37, 300}, DType::Float64), dtype);
    for (ReduceOp op : kAllOps) {
      expect_reduce_matches(op, x, {2});
      expect_reduce_matches(op, x, {1});
      expect_reduce_matches(op, x, {0});
      expect_reduce_matches(op, x, {});  // everything: one row of 55500
    }
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min}) {
      expect_reduce_matches(op, x, {0, 2}, true);
      // non-contiguous inputs: transposed, a narrowed window, every other element
      expect_reduce_matches(op, x, {1}, false, [](const Tensor& t) { return raw::transpose(t, 0, 2); });
      expect_reduce_matches(op, x, {2}, false, [](const Tensor& t) { return raw::narrow(t, 2, 7, 250); });
      expect_reduce_matches(op, x, {0, 1}, false, [](const Tensor& t) { return raw::transpose(raw::narrow(t, 1, 1, 30), 1, 2); });
    }
  }
}

TEST(CudaReduce, IntegerAndBoolDTypes) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  Tensor i64 = raw::binary(BinaryOp::Mul, randint(-1000, 1000, {7, 513}, DType::Int64),
                           scalar_tensor(1e12, DType::Int64));  // sums beyond 2^53: exact only in int64
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin}) {
    expect_reduce_matches(op, i64, {1});
    expect_reduce_matches(op, i64, {0});
  }
  Tensor u8 = randint(0, 5, {9, 200}, DType::UInt8);  // many ties
  Tensor b = raw::compare(CompareOp::Gt, randn({9, 200}), scalar_tensor(0.8));
  for (const Tensor& x : {u8, b}) {
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin}) {
      expect_reduce_matches(op, x, {1});
      expect_reduce_matches(op, x, {});
    }
  }
  // hand-checked: sum of a bool tensor counts the trues (int64)
  Tensor flags = raw::cast(from_vector<uint8_t>({1, 0, 1, 1}, {4}, TensorOptions().device(gpu())), DType::Bool);
  Tensor count = raw::reduce(ReduceOp::Sum, flags, {}, false);
  EXPECT_EQ(count.dtype(), DType::Int64);
  EXPECT_EQ(count.item<int64_t>(), 3);
}

TEST(CudaReduce, ArgMaxArgMinReturnTheFirstOfTies) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  // short rows (one warp) and long rows (many threads, ties in different threads' slices)
  std::vector<float> row(5000, 0.0f);
  for (int64_t i = 0; i < 5000; ++i) row[i] = static_cast<float>((i * 37) % 101) - 50.0f;  // in [-50, 50]
  for (int64_t i : {4000, 777, 513, 3}) row[i] = 100.0f;  // the max, first at 3
  for (int64_t i : {4999, 2048, 1030}) row[i] = -100.0f;  // the min, first at 1030
  Tensor x = from_vector(row, {1, 5000}, TensorOptions().device(gpu()));
  EXPECT_EQ(argmax(x, 1).item<int64_t>(), 3);
  EXPECT_EQ(argmin(x, 1).item<int64_t>(), 1030);
  EXPECT_EQ(x.max().item<double>(), 100.0);
  EXPECT_EQ(x.min().item<double>(), -100.0);
  Tensor small = from_vector<float>({1, 3, 3, 2, 3, 0, 0, 5, 5, 0}, {2, 5}, TensorOptions().device(gpu()));
  EXPECT_EQ(argmax(small, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(argmin(small, 1).to_vector<int64_t>(), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(argmax(small, 0).to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1, 0}));
  Tensor ints = from_vector<int64_t>({4, 9, 9, 1, 1, 9}, {6}, TensorOptions().device(gpu()));
  EXPECT_EQ(argmax(ints, 0).item<int64_t>(), 1);
  EXPECT_EQ(argmin(ints, 0).item<int64_t>(), 3);
  expect_reduce_matches(ReduceOp::ArgMax, raw::to_device(x, Device::cpu()), {1});
  expect_reduce_matches(ReduceOp::ArgMin, raw::to_device(x, Device::cpu()), {1});
}

TEST(CudaReduce, NaNPropagatesAndWinsArgReductions) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t n : {10, 4096}) {
    SCOPED_TRACE("row length " + std::to_string(n));
    std::vector<float> row(n);
    for (int64_t i = 0; i < n; ++i) row[i] = static_cast<float>(i % 17);
    const int64_t first_nan = n > 100 ? 600 : 5, second_nan = n > 100 ? 3001 : 7;
    row[second_nan] = nan;
    row[first_nan] = nan;
    row[1] = 1000.0f;   // the largest number, before both NaNs
    row[2] = -1000.0f;  // the smallest
    Tensor x = from_vector(row, {1, n}, TensorOptions().device(gpu()));
    EXPECT_TRUE(std::isnan(x.max().item<double>()));
    EXPECT_TRUE(std::isnan(x.min().item<double>()));
    EXPECT_EQ(argmax(x, 1).item<int64_t>(), first_nan);
    EXPECT_EQ(argmin(x, 1).item<int64_t>(), first_nan);
    EXPECT_TRUE(std::isnan(x.sum().item<double>()));
    Tensor c = raw::to_device(x, Device::cpu());
    for (ReduceOp op : kAllOps) expect_reduce_matches(op, c, {1});
  }
  // NaN in some rows only: the other rows reduce normally
  Tensor m = from_vector<double>({1, std::numeric_limits<double>::quiet_NaN(), 3, 4, 8, 2}, {2, 3});
  for (ReduceOp op : kAllOps) expect_reduce_matches(op, m, {1});
}

TEST(CudaReduce, RowsLongerThanABlockAndMoreRowsThanTheGridCap) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const int64_t n = (int64_t(1) << 20) + 3;
  Tensor ones_row = ones({1, n}, TensorOptions().device(gpu()));
  EXPECT_EQ(ones_row.sum().item<double>(), static_cast<double>(n));  // exact: accumulated in double
  EXPECT_EQ(ones_row.mean().item<double>(), 1.0);
  Tensor ramp = arange(0, static_cast<double>(n), 1, TensorOptions().dtype(DType::Int64).device(gpu()));
  EXPECT_EQ(argmax(ramp, 0).item<int64_t>(), n - 1);
  EXPECT_EQ(argmin(ramp, 0).item<int64_t>(), 0);
  EXPECT_EQ(ramp.sum().item<int64_t>(), n * (n - 1) / 2);
  Tensor x = randn({2, n});
  for (ReduceOp op : kAllOps) expect_reduce_matches(op, x, {1});
  // 70001 rows of 3 (more rows than the 65536-block grid) and 100003 rows of 1
  Tensor many = randn({70001, 3});
  for (ReduceOp op : kAllOps) expect_reduce_matches(op, many, {1});
  Tensor single = randn({100003, 1});
  for (ReduceOp op : kAllOps) expect_reduce_matches(op, single, {1});
  // row lengths around the block-size switches
  for (int64_t len : {31, 32, 33, 127, 128, 129, 511, 512, 513, 1025}) {
    Tensor t = randn({3, len});
    for (ReduceOp op : kAllOps) expect_reduce_matches(op, t, {1});
  }
}

}  // namespace
}  // namespace sepal::testing
