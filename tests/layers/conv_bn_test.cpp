// conv_bn_test.cpp: BatchNorm folded into the preceding convolution in eval mode (layers/conv_bn.h)
// against the unfused modules, for the ResNet stem, BasicBlocks with and without downsample, a
// Bottleneck and a whole ResNet-18, in float32 (oneDNN post-ops) and float64; that the folded
// weights are computed once and recomputed after every kind of in-place change; that training
// mode, or parameters that need gradients, never fold; and input gradients through a folded model.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <cmath>
#include <set>
#include <string>

#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "layers/conv_bn.h"
#include "layers/init.h"
#include "layers/resnet.h"
#include "optim/sgd.h"
#include "tensor/profiler.h"
#include "common/scaled_error.h"

namespace sepal::testing {
namespace {

using nn::ConvBnFold;

// Turns folding off for its lifetime (the reference), on again after.
struct UnfusedScope {
  UnfusedScope() { nn::set_conv_bn_folding(false); }
  ~UnfusedScope() { nn::set_conv_bn_folding(true); }
};

// BatchNorm as after training: every statistic and affine parameter away from its initial value,
// so that a wrong fold cannot pass. Parameters frozen (feature extraction's backbone) when asked.
void make_trained(nn::Module& model, DType dtype, bool freeze) {
  Generator gen(7);
  NoGradGuard no_grad;
  for (auto& [name, m] : model.named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m.get())) {
      nn::init::uniform_(bn->weight, 0.5, 1.5, &gen);
      nn::init::normal_(bn->bias, 0.0, 0.2, &gen);
      nn::init::normal_(bn->running_mean, 0.0, 0.2, &gen);
      nn::init::uniform_(bn->running_var, 0.5, 2.0, &gen);
    }
  model.to(dtype);
  model.eval();
  if (freeze) model.requires_grad_(false);
}

// The model's forward under NoGradGuard, folded (the default) or not.
Tensor forward(nn::Module& model, const Tensor& x, bool folded) {
  NoGradGuard no_grad;
  if (folded) return model.forward(x);
  UnfusedScope unfused;
  return model.forward(x);
}

void expect_folded_equals_unfused(nn::Module& model, const Tensor& x, int64_t pairs) {
  const uint64_t before = ConvBnFold::computations();
  const Tensor folded = forward(model, x, true);
  EXPECT_EQ(ConvBnFold::computations() - before, static_cast<uint64_t>(pairs)) << "each pair folds once";
  const Tensor unfused = forward(model, x, false);
  ASSERT_EQ(folded.shape(), unfused.shape());
  EXPECT_LE(scaled_error(folded, unfused), rounding_tolerance(x.dtype()));
  forward(model, x, true);
  EXPECT_EQ(ConvBnFold::computations() - before, static_cast<uint64_t>(pairs)) << "the second forward reuses them";
}

std::shared_ptr<nn::Module> downsample(int64_t in, int64_t out, int64_t stride) {
  return std::make_shared<nn::Sequential>(nn::ModuleList{
      std::make_shared<nn::Conv2d>(in, out, 1, stride, 0, false), std::make_shared<nn::BatchNorm2d>(out)});
}

class ConvBnFolding : public ::testing::TestWithParam<DType> {};

TEST_P(ConvBnFolding, BasicBlockWithoutDownsample) {
  nn::BasicBlock block(16, 16, 1, nullptr);
  make_trained(block, GetParam(), true);
  expect_folded_equals_unfused(block, randn({2, 16, 9, 9}, GetParam()), 2);
}

TEST_P(ConvBnFolding, BasicBlockWithDownsample) {
  nn::BasicBlock block(16, 32, 2, downsample(16, 32, 2));
  make_trained(block, GetParam(), true);
  expect_folded_equals_unfused(block, randn({2, 16, 9, 9}, GetParam()), 3);
}

TEST_P(ConvBnFolding, BottleneckWithDownsample) {
  nn::Bottleneck block(16, 8, 2, downsample(16, 32, 2));
  make_trained(block, GetParam(), true);
  expect_folded_equals_unfused(block, randn({2, 16, 9, 9}, GetParam()), 4);
}

// The whole ResNet-18: the stem (7x7/2 conv, bn, relu), 8 blocks and 3 downsamples: 20 pairs.
TEST_P(ConvBnFolding, ResNet18EvalForward) {
  auto model = nn::resnet18(10);
  make_trained(*model, GetParam(), false);  // trainable, but grad mode is off in forward()
  expect_folded_equals_unfused(*model, randn({2, 3, 40, 40}, GetParam()), 20);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ConvBnFolding, ::testing::Values(DType::Float32, DType::Float64),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// Between two eval forwards, each way of changing a source tensor is seen: the second forward
// folds again and equals the unfused modules with the new values.
TEST(ConvBnFoldInvalidation, EveryChangeBetweenTwoEvalForwardsIsSeen) {
  auto model = nn::resnet18(10);
  make_trained(*model, DType::Float64, false);
  const Tensor x = randn({2, 3, 16, 16}, DType::Float64);  // 2 images: a train-mode forward needs them
  auto stem_conv = std::dynamic_pointer_cast<nn::Conv2d>(model->child("conv1"));
  auto stem_bn = std::dynamic_pointer_cast<nn::BatchNorm2d>(model->child("bn1"));
  const std::vector<std::pair<std::string, std::function<void()>>> changes{
      {"conv weight mul_", [&] { NoGradGuard g; stem_conv->weight.mul_(1.5); }},
      {"bn weight add_", [&] { NoGradGuard g; stem_bn->weight.add_(ones_like(stem_bn->weight)); }},
      {"bn bias fill_", [&] { NoGradGuard g; stem_bn->bias.fill_(0.3); }},
      {"running_var copy_", [&] { stem_bn->running_var.copy_(full({64}, 3.0, DType::Float64)); }},
      {"eps", [&] { stem_bn->eps = 0.5; }},
      {"running_mean by a train-mode forward", [&] {
         model->train();
         { NoGradGuard g; model->forward(x); }
         model->eval();
       }},
      {"load_state_dict", [&] {
         auto other = nn::resnet18(10);
         other->to(DType::Float64);
         model->load_state_dict(other->state_dict());
       }},
      {"SGD step", [&] {
         for (auto& [n, p] : model->named_parameters()) p.set_grad(full(p.shape(), 0.01, DType::Float64));
         optim::SGD(model->named_parameters(), optim::SGDOptions(1.0)).step();
       }},
      {"to(float32)", [&] { model->to(DType::Float32); }},
      // last: the member no longer shares the registered parameter's storage
      {"replaced parameter", [&] { stem_conv->weight = randn(stem_conv->weight.shape()); }},
  };
  Tensor previous = forward(*model, x, true);
  for (const auto& [what, change] : changes) {
    change();
    const Tensor input = x.to(stem_conv->weight.dtype());
    const uint64_t before = ConvBnFold::computations();
    const Tensor folded = forward(*model, input, true);
    EXPECT_GE(ConvBnFold::computations() - before, 1u) << what;
    EXPECT_LE(scaled_error(folded, forward(*model, input, false)), rounding_tolerance(input.dtype())) << what;
    if (what != "to(float32)")  // the same values, in new storage
      EXPECT_GT(scaled_error(folded.to(DType::Float64), previous.to(DType::Float64)), 1e-6) << what << " changed nothing";
    previous = folded;
  }
}

TEST(ConvBnFoldConditions, TrainingModeNeverFolds) {
  auto model = nn::resnet18(10);
  make_trained(*model, DType::Float32, true);
  model->train();
  const uint64_t before = ConvBnFold::computations();
  NoGradGuard no_grad;
  model->forward(randn({2, 3, 32, 32}));
  EXPECT_EQ(ConvBnFold::computations(), before);
}

TEST(ConvBnFoldConditions, ParametersThatNeedGradientsNeverFold) {
  auto model = nn::resnet18(10);
  make_trained(*model, DType::Float64, false);  // eval mode, parameters trainable, grad mode on
  const Tensor x = randn({1, 3, 32, 32}, DType::Float64);
  const uint64_t before = ConvBnFold::computations();
  model->forward(x).sum().backward();
  EXPECT_EQ(ConvBnFold::computations(), before);
  EXPECT_TRUE(std::dynamic_pointer_cast<nn::Conv2d>(model->child("conv1"))->weight.grad().defined());
}

// A frozen, folded model still gives the input its gradient (as a saliency map would need).
TEST(ConvBnFoldConditions, InputGradientsThroughAFoldedModel) {
  auto model = nn::resnet18(10);
  make_trained(*model, DType::Float64, true);
  const Tensor x = randn({1, 3, 32, 32}, DType::Float64);
  auto input_grad = [&](bool folded) {
    UnfusedScope* unfused = folded ? nullptr : new UnfusedScope;
    Tensor leaf = x.detach().requires_grad_(true);
    const uint64_t before = ConvBnFold::computations();
    Tensor y = model->forward(leaf);
    (y * y).sum().backward();
    if (folded) EXPECT_EQ(ConvBnFold::computations(), before) << "cached from the first call";
    delete unfused;
    return leaf.grad();
  };
  forward(*model, x, true);  // folds
  const Tensor folded = input_grad(true), unfused = input_grad(false);
  EXPECT_LE(scaled_error(folded, unfused), 1e-12);
  EXPECT_GT(folded.abs().max().item<double>(), 0.0);
}

// Under bf16 autocast the folded weights are rounded to bfloat16 instead of the unfolded ones, so
// the two agree to bfloat16's precision (8 bits: 2^-8 = 3.9e-3 relative per operand), not better.
TEST(ConvBnFoldConditions, Bf16AutocastFoldsWithinBf16Rounding) {
  nn::BasicBlock block(32, 32, 1, nullptr);
  make_trained(block, DType::Float32, true);
  const Tensor x = randn({2, 32, 12, 12});
  AutocastGuard bf16(Precision::BFloat16);
  const uint64_t before = ConvBnFold::computations();
  const Tensor folded = forward(block, x, true);
  EXPECT_EQ(ConvBnFold::computations() - before, 2u);
  EXPECT_LE(scaled_error(folded, forward(block, x, false)), 2e-2);
}

// A profile books each fused pass under its convolution's name, as the unfused conv2d_forward.
TEST(ConvBnFoldConditions, AProfileBooksTheFusedPassUnderTheConvolution) {
  auto model = nn::resnet18(10);
  make_trained(*model, DType::Float32, true);
  profile::Session session;
  forward(*model, randn({1, 3, 32, 32}), true);
  const profile::Profile p = session.finish();
  std::set<std::string> scopes;
  for (const auto& r : p.records)
    if (r.kind == "conv2d_forward_fused") scopes.insert(r.scope);
  EXPECT_EQ(scopes.size(), 20u);
  EXPECT_TRUE(scopes.count("conv1"));
  EXPECT_TRUE(scopes.count("layer2.0.downsample.0"));
  EXPECT_TRUE(scopes.count("layer4.1.conv2"));
}

// Training mode fuses each BatchNorm with the ReLU right after it (batch_norm_relu, 9 pairs in a
// ResNet-18: the stem and each block's first); a training step equals the unfused modules', and a
// profile books the fused pass under the BatchNorm.
TEST(ConvBnTrainingFusion, BatchNormReluMatchesTheModules) {
  for (const DType dtype : {DType::Float32, DType::Float64}) {
    auto step = [&](bool fused, profile::Profile* prof) {
      UnfusedScope* unfused = fused ? nullptr : new UnfusedScope;
      Generator gen(5);
      auto model = nn::resnet18(10, &gen);
      model->to(dtype);
      model->train();
      const Tensor x = randn({2, 3, 32, 32}, TensorOptions().dtype(dtype), &gen);
      std::unique_ptr<profile::Session> session = prof ? std::make_unique<profile::Session>() : nullptr;
      (model->forward(x) * model->forward(x)).sum().backward();
      if (prof) *prof = session->finish();
      delete unfused;
      std::vector<Tensor> out;
      for (auto& [name, p] : model->named_parameters()) out.push_back(p.grad());
      for (auto& [name, b] : model->named_buffers()) out.push_back(b);
      return out;
    };
    profile::Profile prof;
    const std::vector<Tensor> fused = step(true, &prof), unfused = step(false, nullptr);
    ASSERT_EQ(fused.size(), unfused.size());
    for (size_t i = 0; i < fused.size(); ++i)
      EXPECT_LE(scaled_error(fused[i], unfused[i]), dtype == DType::Float32 ? 1e-4 : 1e-10) << i << " " << dtype_name(dtype);
    std::set<std::string> scopes;
    for (const auto& r : prof.records)
      if (r.kind == "batch_norm_forward" && r.scope.find("bn1") != std::string::npos) scopes.insert(r.scope);
    EXPECT_EQ(scopes.size(), 9u);
    double relus = 0;
    for (const auto& r : prof.records) relus += r.kind == "relu" ? r.calls : 0.0;
    EXPECT_EQ(relus, 2.0 * 8) << "only the ReLUs after a residual add run on their own (8 blocks, 2 forwards)";
  }
}

// A block whose ReLU was replaced applies the replacement after the folded convolution.
TEST(ConvBnFoldConditions, AReplacedActivationIsApplied) {
  nn::BasicBlock block(8, 8, 1, nullptr);
  block.replace_module("relu", std::make_shared<nn::Identity>());
  make_trained(block, DType::Float64, true);
  const Tensor x = randn({1, 8, 6, 6}, DType::Float64);
  const Tensor folded = forward(block, x, true);
  EXPECT_LT(folded.min().item<double>(), 0.0) << "no ReLU left";
  EXPECT_LE(scaled_error(folded, forward(block, x, false)), 1e-12);
}

}  // namespace
}  // namespace sepal::testing
