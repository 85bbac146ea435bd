// memory_format_test.cpp: MemoryFormat::ChannelsLast tensors (NHWC memory, NCHW shape): their
// strides, the density checks with size-1 dims, conversions both ways, elementwise results and
// in-place updates keeping the layout (with broadcast operands), the elementwise geometry walking
// them as one flat loop, and views of them.
#include <gtest/gtest.h>
#include <sepal.h>

#include "common/expect_error.h"
#include "tensor/elementwise_geometry.h"

namespace sepal::testing {
namespace {

constexpr MemoryFormat kCL = MemoryFormat::ChannelsLast;

TEST(MemoryFormat, StridesAndDensity) {
  EXPECT_EQ(strides_for({2, 3, 4, 5}, kCL), (Strides{60, 1, 15, 3}));
  EXPECT_EQ(strides_for({2, 3, 4, 5}, MemoryFormat::Contiguous), (Strides{60, 20, 5, 1}));
  expect_error_containing([] { strides_for({3, 4}, kCL); }, "4-D");
  const Tensor x = empty({2, 3, 4, 5}, TensorOptions().memory_format(kCL));
  EXPECT_EQ(x.strides(), (Strides{60, 1, 15, 3}));
  EXPECT_TRUE(x.is_contiguous(kCL));
  EXPECT_FALSE(x.is_contiguous());
  EXPECT_EQ(x.memory_format(), kCL);
  // [N, C, 1, 1] and [N, 1, H, W] are dense both ways: row-major wins
  for (const Shape& both : {Shape{2, 3, 1, 1}, Shape{2, 1, 4, 5}}) {
    const Tensor t = empty(both, TensorOptions().memory_format(kCL));
    EXPECT_TRUE(t.is_contiguous()) << shape_str(both);
    EXPECT_TRUE(t.is_contiguous(kCL)) << shape_str(both);
    EXPECT_EQ(t.memory_format(), MemoryFormat::Contiguous) << shape_str(both);
  }
  // a transposed view is neither
  const Tensor t = randn({2, 3, 4, 5}).transpose(2, 3);
  EXPECT_FALSE(t.is_contiguous(kCL));
  EXPECT_EQ(t.memory_format(), MemoryFormat::Contiguous);
  EXPECT_FALSE(randn({3, 4}).is_contiguous(kCL));
}

TEST(MemoryFormat, ConversionsKeepEveryValue) {
  const Tensor x = randn({2, 3, 4, 5}, DType::Float64);
  const Tensor cl = x.contiguous(kCL);
  EXPECT_EQ(cl.memory_format(), kCL);
  EXPECT_EQ(cl.to_vector<double>(), x.to_vector<double>());  // logical order: NCHW indexing
  // element [n, c, h, w] sits at n*60 + h*15 + w*3 + c in memory
  const double* mem = cl.data_ptr<double>();
  const std::vector<double> v = x.to_vector<double>();
  EXPECT_EQ(mem[1 * 60 + 2 * 15 + 3 * 3 + 1], v[((1 * 3 + 1) * 4 + 2) * 5 + 3]);
  const Tensor back = cl.contiguous();
  EXPECT_TRUE(back.is_contiguous());
  EXPECT_EQ(back.to_vector<double>(), v);
  EXPECT_TRUE(cl.contiguous(kCL).same(cl));  // already channels-last: no copy
  // the conversion is differentiable (the gradient passes through)
  Tensor leaf = randn({1, 2, 3, 3}).requires_grad_(true);
  (leaf.contiguous(kCL) * 2.0).sum().backward();
  EXPECT_EQ(leaf.grad().to_vector<float>(), std::vector<float>(18, 2.0f));
  EXPECT_TRUE(leaf.grad().is_contiguous());  // a row-major leaf gets a row-major gradient
}

// The CPU copies between the layouts by tiled transposes: every dtype, odd sizes, large tensors.
TEST(MemoryFormat, LayoutCopiesOfEveryDTypeAndSize) {
  for (const Shape& shape : {Shape{8, 3, 224, 224}, Shape{3, 37, 5, 7}, Shape{1, 64, 33, 1}})
    for (const DType dtype : {DType::Float32, DType::Float64, DType::Int64, DType::UInt8}) {
      const Tensor x = raw::cast(randint(0, 200, shape), dtype);
      const Tensor cl = raw::contiguous(x, kCL);
      const Tensor back = raw::contiguous(cl, MemoryFormat::Contiguous);
      EXPECT_EQ(raw::cast(cl, DType::Int64).to_vector<int64_t>(), raw::cast(x, DType::Int64).to_vector<int64_t>())
          << shape_str(shape) << " " << dtype_name(dtype);
      EXPECT_EQ(raw::cast(back, DType::Int64).to_vector<int64_t>(), raw::cast(x, DType::Int64).to_vector<int64_t>());
      // into a channels-last view with an offset (a slice of a larger batch)
      Tensor big = empty({shape[0] + 1, shape[1], shape[2], shape[3]}, TensorOptions().dtype(dtype).memory_format(kCL));
      Tensor slice = raw::narrow(big, 0, 1, shape[0]);
      raw::copy_(slice, x);
      EXPECT_EQ(raw::cast(slice, DType::Int64).to_vector<int64_t>(), raw::cast(x, DType::Int64).to_vector<int64_t>());
    }
}

TEST(MemoryFormat, ElementwiseResultsKeepTheLayout) {
  const Tensor x = randn({2, 8, 3, 3}), bias = randn({1, 8, 1, 1});
  const Tensor cl = x.contiguous(kCL);
  const Tensor relu = cl.relu(), sum = cl + bias, prod = bias * cl, mixed = cl + x;
  for (const Tensor& t : {relu, sum, prod, mixed}) EXPECT_EQ(t.memory_format(), kCL);
  EXPECT_EQ((x + cl).memory_format(), MemoryFormat::Contiguous);  // the first full-size operand decides
  EXPECT_EQ(sum.to_vector<float>(), (x + bias).to_vector<float>());
  EXPECT_EQ(relu.to_vector<float>(), x.relu().to_vector<float>());
  EXPECT_EQ(mixed.to_vector<float>(), (x + x).to_vector<float>());
  // in place into a channels-last tensor, with a broadcast operand
  Tensor acc = cl.clone().contiguous(kCL);
  raw::binary_(BinaryOp::Add, acc, bias);
  EXPECT_EQ(acc.memory_format(), kCL);
  EXPECT_EQ(acc.to_vector<float>(), (x + bias).to_vector<float>());
  expect_error_containing([&] { raw::binary_(BinaryOp::Add, x.transpose(2, 3), x.transpose(2, 3)); }, "dense");
}

TEST(MemoryFormat, GeometryWalksChannelsLastTensorsAsOneFlatLoop) {
  const Tensor a = empty({4, 16, 7, 7}, TensorOptions().memory_format(kCL));
  const Tensor b = empty({4, 16, 7, 7}, TensorOptions().memory_format(kCL));
  const Geometry<2> g = coalesce<2>({&a, &b});
  EXPECT_TRUE(g.contiguous());
  EXPECT_EQ(g.sizes[0], a.numel());
  const Tensor bias = raw::expand(empty({1, 16, 1, 1}), {4, 16, 7, 7});  // channel broadcast: C innermost
  const Geometry<2> gb = coalesce<2>({&a, &bias});
  EXPECT_EQ(gb.ndim, 2);
  EXPECT_EQ(gb.sizes[1], 16);
  EXPECT_EQ(gb.strides[1][1], 1);
}

TEST(MemoryFormat, PooledChannelsLastFlattensToAView) {
  const Tensor x = randn({3, 5, 1, 1}).contiguous(kCL);
  const Tensor pooled = adaptive_avg_pool2d(randn({3, 5, 4, 4}).contiguous(kCL), {1, 1});
  EXPECT_EQ(pooled.flatten(1).shape(), (Shape{3, 5}));
  EXPECT_TRUE(pooled.flatten(1).storage() == pooled.storage());
  EXPECT_EQ(x.flatten(1).to_vector<float>(), x.to_vector<float>());
}

}  // namespace
}  // namespace sepal::testing
