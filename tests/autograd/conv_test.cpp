// conv_test.cpp: conv2d on the CPU: hand-derived values (float32 through oneDNN, float64 through
// im2col), the oneDNN kernels against the im2col reference in float32 for every op-table geometry
// and some ResNet-sized ones, argument errors, and that a frozen weight costs no weight gradient.
// (Gradients against finite differences: tests/autograd; CUDA against the CPU: tests/cuda.)
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "autograd/node.h"
#include "common/op_cases.h"
#include "cuda/cuda_test_util.h"
#include "tensor/cpu/conv.h"

namespace sepal::testing {
namespace {

// x[0, 0, i, j] = 4 i + j + 1: the 4x4 image 1..16 in row-major order.
Tensor image_1_to_16(DType dtype) { return arange(1.0, 17.0, 1.0, dtype).reshape({1, 1, 4, 4}); }

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

class ConvBothDtypes : public ::testing::TestWithParam<DType> {};

// 3x3 all-ones kernel, no padding, over the 4x4 image 1..16: each output is the sum of a 3x3
// window. Window (0,0) = 1+2+3 + 5+6+7 + 9+10+11 = 54; moving right adds 1 per element (+9 = 63),
// moving down adds 4 per element (+36 = 90, 99). Bias 0.5 is added to each.
TEST_P(ConvBothDtypes, AllOnesKernelSumsWindows) {
  Tensor x = image_1_to_16(GetParam());
  Tensor w = ones({1, 1, 3, 3}, GetParam());
  Tensor b = full({1}, 0.5, GetParam());
  Tensor y = conv2d(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values(y), (std::vector<double>{54.5, 63.5, 90.5, 99.5}));
}

// Stride 2, padding 1: windows centred on (0,0), (0,2), (2,0), (2,2), clipped at the border:
// (0,0): 1+2+5+6 = 14; (0,2): 2+3+4+6+7+8 = 30; (2,0): 5+6+9+10+13+14 = 57;
// (2,2): 6+7+8+10+11+12+14+15+16 = 99.
TEST_P(ConvBothDtypes, StrideAndPaddingClipWindows) {
  Tensor y = conv2d(image_1_to_16(GetParam()), ones({1, 1, 3, 3}, GetParam()), Tensor(), {{2, 2}, {1, 1}});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values(y), (std::vector<double>{14, 30, 57, 99}));
}

// Backward of sum(conv(x, ones 3x3)) over the 4x4 image (outputs at p, q in {0, 1}):
//   dL/dx[i][j] = number of windows covering (i, j) = c(i) c(j) with c = [1, 2, 2, 1];
//   dL/dw[r][s] = sum over p, q of x[p + r][q + s] = sum (4 (p + r) + (q + s) + 1) = 14 + 16 r + 4 s;
//   dL/db = number of outputs = 4.
TEST_P(ConvBothDtypes, AllOnesKernelGradients) {
  Tensor x = image_1_to_16(GetParam()).requires_grad_(true);
  Tensor w = ones({1, 1, 3, 3}, GetParam()).requires_grad_(true);
  Tensor b = zeros({1}, GetParam()).requires_grad_(true);
  conv2d(x, w, b).sum().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1}));
  EXPECT_EQ(values(w.grad()), (std::vector<double>{14, 18, 22, 30, 34, 38, 46, 50, 54}));
  EXPECT_EQ(values(b.grad()), (std::vector<double>{4}));
}

// groups = 2 with 1x1 kernels [2, 3]: channel 0 is scaled by 2, channel 1 by 3, no mixing.
TEST_P(ConvBothDtypes, GroupsDoNotMixChannels) {
  Tensor x = arange(1.0, 9.0, 1.0, GetParam()).reshape({1, 2, 2, 2});
  Tensor w = from_vector<double>({2, 3}, {2, 1, 1, 1}, GetParam());
  Tensor y = conv2d(x, w, Tensor(), {{1, 1}, {0, 0}, {1, 1}, 2});
  EXPECT_EQ(values(y), (std::vector<double>{2, 4, 6, 8, 15, 18, 21, 24}));
}

INSTANTIATE_TEST_SUITE_P(Cpu, ConvBothDtypes, ::testing::Values(DType::Float32, DType::Float64),
                         [](const ::testing::TestParamInfo<DType>& info) { return std::string(dtype_name(info.param)); });

// ---- oneDNN (float32) against the im2col reference (float32) on the same random inputs ----

Conv2dArgs to_args(const Conv2dOptions& o) {
  Conv2dArgs a;
  for (int i = 0; i < 2; ++i) {
    a.stride[i] = o.stride[i];
    a.padding[i] = o.padding[i];
    a.dilation[i] = o.dilation[i];
  }
  a.groups = o.groups;
  return a;
}

Shape output_shape(const Shape& x, const Shape& w, const Conv2dOptions& o) {
  Shape out{x[0], w[0], 0, 0};
  for (int i = 0; i < 2; ++i)
    out[2 + i] = (x[2 + i] + 2 * o.padding[i] - o.dilation[i] * (w[2 + i] - 1) - 1) / o.stride[i] + 1;
  return out;
}

// An output filled with NaN, so an element a kernel leaves unwritten fails the comparison.
Tensor sentinel(const Shape& shape) { return full(shape, std::nan(""), DType::Float32); }

// float32 sums of up to a few hundred N(0,1) products: relative 1e-4, absolute 1e-4 of the
// tensor's RMS for results that cancel to near zero.
::testing::AssertionResult close_f32(const Tensor& expected, const Tensor& actual) {
  double rms = std::sqrt(expected.square().mean().item<double>());
  return all_close(expected, actual, 1e-4, 1e-4 * rms + 1e-6);
}

struct Geometry {
  std::string name;
  Shape x, w;
  Conv2dOptions o;
};
void PrintTo(const Geometry& g, std::ostream* os) { *os << g.name; }

// Every op-table geometry plus channel counts where oneDNN picks blocked (nChw16c) layouts.
std::vector<Geometry> reference_geometries() {
  std::vector<Geometry> out;
  for (const ConvCase& c : conv_cases()) out.push_back({c.name, c.input, c.weight, c.options});
  out.push_back({"resnet_stem_7x7", {2, 3, 32, 32}, {16, 3, 7, 7}, {{2, 2}, {3, 3}}});
  out.push_back({"resnet_3x3_64", {2, 64, 14, 14}, {64, 64, 3, 3}, {{1, 1}, {1, 1}}});
  out.push_back({"resnet_3x3_stride2", {2, 32, 15, 15}, {64, 32, 3, 3}, {{2, 2}, {1, 1}}});
  out.push_back({"resnet_1x1_downsample", {2, 64, 14, 14}, {128, 64, 1, 1}, {{2, 2}}});
  out.push_back({"groups4_32", {2, 32, 9, 9}, {32, 8, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 4}});
  out.push_back({"depthwise_32", {2, 32, 9, 9}, {32, 1, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 32}});
  out.push_back({"dilated_16", {1, 16, 12, 11}, {24, 16, 3, 3}, {{1, 1}, {2, 2}, {2, 2}}});
  return out;
}

class OneDnnVsIm2col : public ::testing::TestWithParam<Geometry> {};

TEST_P(OneDnnVsIm2col, AllThreePassesMatch) {
  const Geometry& g = GetParam();
  const Conv2dArgs args = to_args(g.o);
  const Shape y_shape = output_shape(g.x, g.w, g.o);
  Generator gen(7);
  Tensor x = randn(g.x, DType::Float32, &gen), w = randn(g.w, DType::Float32, &gen);
  Tensor dy = randn(y_shape, DType::Float32, &gen);

  Tensor y_ref = sentinel(y_shape), y = sentinel(y_shape);
  cpu::im2col_conv2d_forward(x, w, y_ref, args);
  cpu::onednn_conv2d_forward(x, w, y, args);
  EXPECT_TRUE(close_f32(y_ref, y)) << "forward";

  Tensor dx_ref = sentinel(g.x), dx = sentinel(g.x);
  cpu::im2col_conv2d_backward_input(dy, w, dx_ref, args);
  cpu::onednn_conv2d_backward_input(dy, w, dx, args);
  EXPECT_TRUE(close_f32(dx_ref, dx)) << "backward input";

  Tensor dw_ref = sentinel(g.w), dw = sentinel(g.w);
  cpu::im2col_conv2d_backward_weight(dy, x, dw_ref, args);
  cpu::onednn_conv2d_backward_weight(dy, x, dw, args);
  EXPECT_TRUE(close_f32(dw_ref, dw)) << "backward weight";

  // the cached plan gives the same result on a second call (a fresh output)
  Tensor y2 = sentinel(y_shape);
  cpu::onednn_conv2d_forward(x, w, y2, args);
  EXPECT_TRUE(bitwise_equal(y, y2)) << "second forward";
}

INSTANTIATE_TEST_SUITE_P(Shapes, OneDnnVsIm2col, ::testing::ValuesIn(reference_geometries()),
                         [](const ::testing::TestParamInfo<Geometry>& info) { return info.param.name; });

// Several threads share the cached primitives (each with its own scratchpad and stream).
TEST(OneDnnConv, ConcurrentCallsAgree) {
  const Geometry g{"shared", {2, 16, 10, 10}, {16, 16, 3, 3}, {{1, 1}, {1, 1}}};
  const Conv2dArgs args = to_args(g.o);
  Generator gen(11);
  Tensor x = randn(g.x, DType::Float32, &gen), w = randn(g.w, DType::Float32, &gen);
  Tensor expected = sentinel(output_shape(g.x, g.w, g.o));
  cpu::im2col_conv2d_forward(x, w, expected, args);
  std::vector<Tensor> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) {
        Tensor y = sentinel(expected.shape());
        cpu::onednn_conv2d_forward(x, w, y, args);
        results[t] = y;
      }
    });
  for (std::thread& th : threads) th.join();
  for (const Tensor& y : results) EXPECT_TRUE(close_f32(expected, y));
}

TEST(Conv2d, NonContiguousInputMatchesContiguous) {
  Generator gen(3);
  Tensor base = randn({2, 3, 6, 5}, DType::Float32, &gen);
  Tensor x = base.transpose(2, 3);  // [2, 3, 5, 6], not contiguous
  Tensor w = randn({4, 3, 3, 3}, DType::Float32, &gen);
  ASSERT_FALSE(x.is_contiguous());
  EXPECT_TRUE(bitwise_equal(conv2d(x.contiguous(), w), conv2d(x, w)));
}

// ---- argument errors name the op and the shapes ----

template <typename E>
void expect_error(const std::function<void()>& fn, const std::string& expected_substring) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing: " << expected_substring;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(expected_substring), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

TEST(Conv2dErrors, ChannelMismatchNamesBothShapes) {
  expect_error<ShapeError>([] { conv2d(empty({8, 4, 224, 224}), empty({64, 3, 7, 7})); },
                           "conv2d: input has 4 channels but weight expects 3 (input [8, 4, 224, 224], weight "
                           "[64, 3, 7, 7])");
}

TEST(Conv2dErrors, RejectsBadArguments) {
  Tensor x = zeros({2, 4, 8, 8}), w = zeros({6, 4, 3, 3});
  expect_error<ShapeError>([&] { conv2d(zeros({4, 8, 8}), w); }, "conv2d: expected a 4-D input [N, C, H, W], got [4, 8, 8]");
  expect_error<ShapeError>([&] { conv2d(x, zeros({6, 4, 3})); }, "conv2d: expected a 4-D weight");
  expect_error<DTypeError>([&] { conv2d(x, zeros({6, 4, 3, 3}, DType::Float64)); }, "conv2d: dtypes differ");
  expect_error<DTypeError>([&] { conv2d(zeros({2, 4, 8, 8}, DType::Int64), zeros({6, 4, 3, 3}, DType::Int64)); },
                           "conv2d: expected floating tensors");
  expect_error<ShapeError>([&] { conv2d(x, zeros({6, 1, 3, 3}), Tensor(), {{1, 1}, {0, 0}, {1, 1}, 3}); },
                           "conv2d: input channels 4 are not divisible by groups 3 (input [2, 4, 8, 8], weight [6, 1, 3, 3])");
  expect_error<ShapeError>([&] { conv2d(x, zeros({5, 2, 3, 3}), Tensor(), {{1, 1}, {0, 0}, {1, 1}, 2}); },
                           "conv2d: output channels 5 are not divisible by groups 2");
  expect_error<ShapeError>([&] { conv2d(x, zeros({6, 4, 3, 3}), Tensor(), {{1, 1}, {0, 0}, {1, 1}, 2}); },
                           "conv2d: input has 4 channels but weight expects 8");
  expect_error<Error>([&] { conv2d(x, w, Tensor(), {{1, 1}, {-1, 0}}); }, "conv2d: padding must be non-negative, got [-1, 0]");
  expect_error<Error>([&] { conv2d(x, w, Tensor(), {{0, 1}}); }, "conv2d: stride must be positive, got [0, 1]");
  expect_error<Error>([&] { conv2d(x, w, Tensor(), {{1, 1}, {0, 0}, {1, 0}}); }, "conv2d: dilation must be positive");
  expect_error<Error>([&] { conv2d(x, w, Tensor(), {{1, 1}, {0, 0}, {1, 1}, 0}); }, "conv2d: groups must be positive");
  expect_error<ShapeError>([&] { conv2d(zeros({2, 4, 2, 8}), w); }, "is larger than the padded input (2) in dim 2");
  expect_error<ShapeError>([&] { conv2d(x, w, Tensor(), {{1, 1}, {0, 0}, {4, 4}}); }, "the kernel (9 with dilation)");
  expect_error<ShapeError>([&] { conv2d(x, w, zeros({4})); }, "conv2d: bias must have shape [6], got [4]");
  expect_error<DTypeError>([&] { conv2d(x, w, zeros({6}, DType::Float64)); }, "conv2d: dtypes differ");
  expect_error<Error>([&] { conv2d(Tensor(), w); }, "conv2d: input is an undefined tensor");
}

// ---- a frozen weight costs no weight-gradient work ----

TEST(Conv2dAutograd, FrozenWeightGetsNoGradientAndNoWork) {
  Generator gen(5);
  Tensor x = randn({2, 3, 6, 6}, DType::Float64, &gen).requires_grad_(true);
  Tensor w = randn({4, 3, 3, 3}, DType::Float64, &gen);  // frozen
  Tensor b = randn({4}, DType::Float64, &gen).requires_grad_(true);
  Tensor y = conv2d(x, w, b, {{1, 1}, {1, 1}});
  ASSERT_TRUE(y.grad_fn());
  // the node's own backward, asked for the input gradient only, computes nothing for the weight
  // or the bias (this closure is where the weight-gradient kernel would run)
  Tensor g = ones(y.shape(), DType::Float64);
  std::vector<Tensor> grads = y.grad_fn()->backward(g, {true, false, false});
  ASSERT_EQ(grads.size(), 3u);
  EXPECT_TRUE(grads[0].defined());
  EXPECT_FALSE(grads[1].defined());
  EXPECT_FALSE(grads[2].defined());
  // through the engine: the frozen weight gets no gradient, the bias gets the sum over (N, P, Q)
  y.backward(g);
  EXPECT_TRUE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
  EXPECT_EQ(values(b.grad()), (std::vector<double>{72, 72, 72, 72}));  // N P Q = 2 * 6 * 6
}

TEST(Conv2dAutograd, NothingRecordedWhenNothingNeedsGradient) {
  Tensor y = conv2d(ones({1, 2, 4, 4}), ones({3, 2, 3, 3}), ones({3}));
  EXPECT_FALSE(y.grad_fn());
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(values(y), std::vector<double>(12, 19.0));  // 2 channels * 9 ones + bias 1
}

}  // namespace
}  // namespace sepal::testing
