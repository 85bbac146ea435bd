// conv_fused_test.cpp: conv2d_fused (relu?(conv2d + bias + residual), one backend pass when no
// gradient is needed) against the composition of conv2d, add and relu, for every op-table geometry
// and every epilogue, in float32 (oneDNN post-ops) and float64 (im2col then the epilogue loop);
// the residual shape check; and gradients through the composed path when an input requires grad.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "common/expect_error.h"
#include "common/op_cases.h"
#include "common/scaled_error.h"

namespace sepal::testing {
namespace {

Tensor composed(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& residual, bool relu,
                const Conv2dOptions& o) {
  Tensor y = conv2d(x, w, b, o);
  if (residual.defined()) y = y + residual;
  return relu ? y.relu() : y;
}

class ConvFused : public ::testing::TestWithParam<DType> {};

TEST_P(ConvFused, EveryEpilogueMatchesTheComposition) {
  const DType dtype = GetParam();
  NoGradGuard no_grad;
  for (const ConvCase& c : conv_cases()) {
    if (c.transposed) continue;
    Tensor x = randn(c.input, dtype), w = randn(c.weight, dtype);
    Tensor b = c.bias ? randn({c.weight[0]}, dtype) : Tensor();
    const Shape out_shape = conv2d(x, w, Tensor(), c.options).shape();
    for (int kind = 0; kind < 4; ++kind) {
      const Tensor residual = (kind & 1) ? randn(out_shape, dtype) : Tensor();
      const bool relu = kind & 2;
      const Tensor fused = conv2d_fused(x, w, b, residual, relu, c.options);
      const Tensor want = composed(x, w, b, residual, relu, c.options);
      ASSERT_EQ(fused.shape(), want.shape()) << c.name;
      EXPECT_LE(scaled_error(fused, want), rounding_tolerance(dtype)) << c.name << " residual " << (kind & 1) << " relu " << relu;
      if (relu) EXPECT_GE(fused.min().item<double>(), 0.0) << c.name;
    }
  }
}

// ResNet-sized shapes, where oneDNN picks blocked layouts and the residual is reordered into them.
TEST_P(ConvFused, ResNetShapesWithResidualAndRelu) {
  const DType dtype = GetParam();
  NoGradGuard no_grad;
  struct Geometry { Shape input, weight; Conv2dOptions options; };
  for (const Geometry& g : {Geometry{{2, 64, 14, 14}, {64, 64, 3, 3}, {{1, 1}, {1, 1}}},
                            Geometry{{2, 64, 14, 14}, {128, 64, 1, 1}, {{2, 2}}},
                            Geometry{{2, 3, 32, 32}, {64, 3, 7, 7}, {{2, 2}, {3, 3}}}}) {
    Tensor x = randn(g.input, dtype), w = randn(g.weight, dtype), b = randn({g.weight[0]}, dtype);
    const Tensor residual = randn(conv2d(x, w, Tensor(), g.options).shape(), dtype);
    EXPECT_LE(scaled_error(conv2d_fused(x, w, b, residual, true, g.options), composed(x, w, b, residual, true, g.options)),
              rounding_tolerance(dtype));
    EXPECT_LE(scaled_error(conv2d_fused(x, w, b, Tensor(), true, g.options), composed(x, w, b, Tensor(), true, g.options)),
              rounding_tolerance(dtype));
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ConvFused, ::testing::Values(DType::Float32, DType::Float64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// Under bf16 autocast the fused pass rounds its operands to bfloat16 as conv2d does (float32
// accumulation in both), so the two differ only by the order of float32 sums.
TEST(ConvFusedAutocast, Bf16MatchesTheCompositionInBf16) {
  NoGradGuard no_grad;
  AutocastGuard bf16(Precision::BFloat16);
  const Conv2dOptions o{{1, 1}, {1, 1}};
  Tensor x = randn({2, 16, 10, 10}), w = randn({16, 16, 3, 3}), b = randn({16}), r = randn({2, 16, 10, 10});
  const Tensor fused = conv2d_fused(x, w, b, r, true, o), want = composed(x, w, b, r, true, o);
  EXPECT_EQ(fused.dtype(), DType::Float32);
  EXPECT_LE(scaled_error(fused, want), 1e-4);
  AutocastGuard fp32(Precision::Float32);
  EXPECT_GT(scaled_error(want, composed(x, w, b, r, true, o)), 1e-4) << "bf16 rounding shows against float32";
}

// The CPU keeps the inference path's reordered weights between calls (conv_onednn.cpp's
// InferenceWeightCache): every kind of change to the weights must reach the next call, channels-last
// or not, in float32 and under bf16 autocast.
TEST(ConvFusedWeightCache, ChangedWeightsAreNeverServedStale) {
  NoGradGuard no_grad;
  const Conv2dOptions o{{1, 1}, {1, 1}};
  for (const MemoryFormat format : {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast})
    for (const Precision precision : {Precision::Float32, Precision::BFloat16}) {
      AutocastGuard autocast(precision);
      const Tensor x = raw::contiguous(randn({2, 32, 9, 9}), format), b = randn({32});
      Tensor w = randn({32, 32, 3, 3});
      auto check = [&](const char* what) {
        EXPECT_LE(scaled_error(conv2d_fused(x, w, b, Tensor(), true, o), composed(x, w, b, Tensor(), true, o)),
                  rounding_tolerance(DType::Float32))
            << what << " " << memory_format_name(format) << " " << precision_name(precision);
      };
      check("first call");
      check("repeated call");
      w.mul_(-2.0);
      check("after mul_");
      w.copy_(randn({32, 32, 3, 3}));
      check("after copy_");
      w = randn({32, 32, 3, 3});
      check("new weights");
      std::vector<float> outside = w.to_vector<float>();
      w = from_blob(outside.data(), {32, 32, 3, 3});
      check("outside memory");
      for (float& v : outside) v = -v;  // written behind the library's back
      check("outside memory changed");
    }
}

TEST(ConvFusedErrors, ResidualMustHaveTheOutputShape) {
  Tensor x = randn({1, 2, 5, 5}), w = randn({3, 2, 3, 3});
  expect_error_containing([&] { conv2d_fused(x, w, Tensor(), randn({1, 3, 5, 5}), true); },
                          "residual [1, 3, 5, 5] does not match the output [1, 3, 3, 3]");
  // a broadcastable residual is refused too, with gradients or without
  expect_error_containing([&] { conv2d_fused(x.requires_grad_(true), w, Tensor(), randn({1, 3, 1, 1}), false); },
                          "does not match the output");
}

// With an input that requires grad the composition runs, so every gradient equals conv2d's.
TEST(ConvFusedGradients, FlowToInputResidualWeightAndBias) {
  const Conv2dOptions o{{1, 1}, {1, 1}};
  Tensor x = randn({2, 3, 5, 5}, DType::Float64), w = randn({4, 3, 3, 3}, DType::Float64),
         b = randn({4}, DType::Float64), r = randn({2, 4, 5, 5}, DType::Float64);
  auto grads = [&](bool fused) {
    std::vector<Tensor> leaves{x.detach().requires_grad_(true), w.detach().requires_grad_(true),
                               b.detach().requires_grad_(true), r.detach().requires_grad_(true)};
    const Tensor y = fused ? conv2d_fused(leaves[0], leaves[1], leaves[2], leaves[3], true, o)
                           : composed(leaves[0], leaves[1], leaves[2], leaves[3], true, o);
    (y * y).sum().backward();
    std::vector<Tensor> g;
    for (const Tensor& t : leaves) g.push_back(t.grad());
    return g;
  };
  const std::vector<Tensor> fused = grads(true), want = grads(false);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_LE(scaled_error(fused[i], want[i]), 1e-12) << "input " << i;
}

}  // namespace
}  // namespace sepal::testing
