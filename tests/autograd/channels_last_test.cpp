// channels_last_test.cpp: every op of the shared op table with its 4-D inputs in channels-last
// memory (MemoryFormat::ChannelsLast) gives the results of the row-major inputs, in float32 and
// float64, and passes the float64 gradient check; convolution, batch norm, ReLU, the residual
// add, both poolings and their gradients keep the channels-last layout from input to output on
// the CPU (what lets a ResNet run without layout round trips, issue 15 item 2).
#include <gtest/gtest.h>

#include <cmath>

#include "common/op_cases.h"
#include "common/scaled_error.h"

namespace sepal::testing {
namespace {

std::vector<Tensor> to_channels_last(std::vector<Tensor> inputs) {
  for (Tensor& x : inputs)
    if (x.dim() == 4) x = raw::contiguous(x, MemoryFormat::ChannelsLast);
  return inputs;
}

bool has_4d_input(const OpCase& c) {
  for (const InputSpec& s : c.inputs)
    if (s.shape.size() == 4) return true;
  return false;
}

std::vector<OpCase> cases_with_4d_inputs() {
  std::vector<OpCase> out;
  for (const OpCase& c : op_cases())
    if (has_4d_input(c)) out.push_back(c);
  return out;
}

class ChannelsLastOps : public ::testing::TestWithParam<OpCase> {};

TEST_P(ChannelsLastOps, ResultsEqualTheRowMajorInputs) {
  const OpCase& c = GetParam();
  for (const DType dtype : {DType::Float32, DType::Float64}) {
    const std::vector<Tensor> row_major = make_inputs(c, dtype, Device::cpu());
    const std::vector<Tensor> channels_last = to_channels_last(row_major);
    bool any = false;
    for (const Tensor& x : channels_last) any = any || x.memory_format() == MemoryFormat::ChannelsLast;
    ASSERT_TRUE(any) << c.name << ": no input became channels-last";
    const Tensor want = c.fn(row_major), got = c.fn(channels_last);
    ASSERT_EQ(got.shape(), want.shape()) << c.name;
    EXPECT_LE(scaled_error(got, want), rounding_tolerance(dtype)) << c.name << " " << dtype_name(dtype);
  }
}

TEST_P(ChannelsLastOps, GradcheckWithChannelsLastInputs) {
  const OpCase& c = GetParam();
  if (!c.differentiable) GTEST_SKIP() << "not differentiable";
  std::vector<Tensor> inputs = to_channels_last(make_inputs(c, DType::Float64, Device::cpu()));
  for (Tensor& x : inputs) x.requires_grad_(true);
  const GradcheckResult r = gradcheck(c.fn, inputs);
  EXPECT_TRUE(r.ok) << c.name << ": " << r.message;
}

INSTANTIATE_TEST_SUITE_P(FourDimOps, ChannelsLastOps, ::testing::ValuesIn(cases_with_4d_inputs()),
                         [](const ::testing::TestParamInfo<OpCase>& info) { return info.param.name; });

// The layer chain of a ResNet block, forward and backward: every activation and every input
// gradient stays channels-last, and the values equal the row-major chain's.
TEST(ChannelsLast, TheLayoutFlowsThroughABlockAndItsGradients) {
  for (const DType dtype : {DType::Float32, DType::Float64}) {
    Generator gen(7);
    const Tensor x0 = randn({2, 16, 12, 12}, dtype, &gen), w = randn({16, 16, 3, 3}, dtype, &gen) * 0.1;
    const Tensor gamma = rand({16}, dtype, &gen) + 0.5, beta = randn({16}, dtype, &gen);
    auto run = [&](MemoryFormat format, std::vector<MemoryFormat>* formats) {
      Tensor x = raw::contiguous(x0, format).detach().requires_grad_(true);
      Tensor wl = w.detach().requires_grad_(true), g = gamma.detach().requires_grad_(true);
      Tensor rm = zeros({16}, dtype), rv = ones({16}, dtype);
      Tensor y = conv2d(x, wl, Tensor(), Conv2dOptions{{1, 1}, {1, 1}});
      Tensor z = batch_norm(y, rm, rv, g, beta, true, 0.1, 1e-5).relu() + x;
      Tensor p = max_pool2d(z, MaxPool2dOptions{{3, 3}, {2, 2}, {1, 1}});
      Tensor a = adaptive_avg_pool2d(p, {2, 2});
      for (const Tensor& t : {y, z, p, a}) formats->push_back(t.memory_format());
      (a * a).sum().backward();
      formats->push_back(x.grad().memory_format());
      return std::vector<Tensor>{a, x.grad(), wl.grad(), g.grad(), rm, rv};
    };
    std::vector<MemoryFormat> cl, rowmajor;
    const std::vector<Tensor> got = run(MemoryFormat::ChannelsLast, &cl), want = run(MemoryFormat::Contiguous, &rowmajor);
    for (size_t i = 0; i < cl.size(); ++i) {
      EXPECT_EQ(cl[i], MemoryFormat::ChannelsLast) << "tensor " << i << " " << dtype_name(dtype);
      EXPECT_EQ(rowmajor[i], MemoryFormat::Contiguous) << "tensor " << i;
    }
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_LE(scaled_error(got[i], want[i]), 10 * rounding_tolerance(dtype)) << "result " << i << " " << dtype_name(dtype);
  }
}

// Max pooling picks the same positions in either layout, ties and NaN included.
TEST(ChannelsLast, MaxPoolIndicesAndNaNMatchRowMajor) {
  Tensor x = raw::cast(raw::cast(randn({2, 5, 7, 6}) * 2.0, DType::Int64), DType::Float32);  // many ties
  raw::copy_(raw::narrow(raw::narrow(raw::narrow(x, 1, 2, 1), 2, 3, 1), 3, 1, 1), full({}, NAN));
  for (const MaxPool2dOptions& o : {MaxPool2dOptions{{3, 3}, {2, 2}, {1, 1}}, MaxPool2dOptions{{2, 2}},
                                    MaxPool2dOptions{{3, 2}, {1, 2}, {1, 0}, {2, 1}, true}}) {
    const auto [want, want_idx] = max_pool2d_with_indices(x, o);
    const auto [got, got_idx] = max_pool2d_with_indices(raw::contiguous(x, MemoryFormat::ChannelsLast), o);
    EXPECT_EQ(got.memory_format(), MemoryFormat::ChannelsLast);
    EXPECT_EQ(got_idx.to_vector<int64_t>(), want_idx.to_vector<int64_t>());
    const std::vector<float> g = got.to_vector<float>(), w = want.to_vector<float>();
    for (size_t i = 0; i < g.size(); ++i)
      if (std::isnan(w[i])) EXPECT_TRUE(std::isnan(g[i])) << i;
      else EXPECT_EQ(g[i], w[i]) << i;
  }
}

}  // namespace
}  // namespace sepal::testing
