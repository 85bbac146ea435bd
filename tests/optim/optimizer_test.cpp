// optimizer_test.cpp: the Optimizer base through Adam and SGD: parameter groups and their
// validation errors, option overrides, zero_grad, skipping parameters without a gradient,
// frozen parameters, lazily created state keyed by name, late bias correction, SGD's first
// momentum buffer, and gradients that do not fit their parameter.
#include <gtest/gtest.h>

#include <functional>
#include <tuple>
#include <type_traits>

#include <sepal.h>

#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

using optim::Adam;
using optim::SGD;

Tensor param(const Shape& shape, double start = 0.5) {
  Tensor t = arange(start, start + static_cast<double>(numel_of(shape)), 1.0).reshape(shape).detach();
  t.requires_grad_(true);
  return t;
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const std::string& s : fragments) EXPECT_NE(what.find(s), std::string::npos) << "'" << s << "' not in: " << what;
  }
}

TEST(Optimizer, AddParamGroupRejectsBadParametersAndNamesThem) {
  Tensor w = param({2, 3}), b = param({3});
  Adam opt({{"fc.weight", w}});
  expect_error([&] { opt.add_param_group({{"other", w}}); }, {"'other'", "already in another parameter group"});
  expect_error([&] { opt.add_param_group({{"fc.weight", b}}); }, {"'fc.weight'", "already in parameter group 0"});
  expect_error([&] { opt.add_param_group({{"x", b}, {"x", param({1})}}); }, {"'x'", "twice"});
  expect_error([&] { opt.add_param_group({{"y", b}, {"z", b}}); }, {"'z'", "same tensor"});
  Tensor y = w * 2.0;
  expect_error([&] { opt.add_param_group({{"scaled", y}}); }, {"'scaled'", "not a leaf"});
  expect_error([&] { opt.add_param_group({{"ids", arange(3, DType::Int64)}}); }, {"'ids'", "int64"});
  expect_error([&] { opt.add_param_group({{"", b}}); }, {"empty name"});
  expect_error([&] { opt.add_param_group({{"u", Tensor()}}); }, {"'u'", "undefined"});
  // A failed add changes nothing: the names are still free.
  EXPECT_EQ(opt.num_param_groups(), 1u);
  opt.add_param_group({{"fc.bias", b}});
  EXPECT_EQ(opt.num_param_groups(), 2u);
  EXPECT_EQ(opt.group_of("fc.bias"), std::optional<size_t>(1));
}

template <typename O>
concept HasMomentum = requires(O o) { o.momentum(0.9); };
template <typename O>
concept TakesScalarBetas = requires(O o) { o.betas(0.9); };

TEST(Optimizer, OptionsAreTypedGroupsTakeTheirOwnAndBadValuesAreErrors) {
  Tensor w = param({2}), b = param({2});
  Adam opt({{"w", w}}, optim::AdamOptions(0.01).weight_decay(1e-4));
  opt.add_param_group({{"b", b}}, opt.defaults().lr(0.1).betas({0.9, 0.99}).amsgrad(true));
  EXPECT_EQ(opt.param_group(0).lr(), 0.01);
  EXPECT_EQ(std::get<1>(opt.group_options(0).betas()), 0.999);
  EXPECT_EQ(opt.param_group(1).lr(), 0.1);
  EXPECT_EQ(std::get<1>(opt.group_options(1).betas()), 0.99);
  EXPECT_EQ(opt.group_options(1).weight_decay(), 1e-4);
  EXPECT_TRUE(opt.group_options(1).amsgrad());
  EXPECT_FALSE(opt.group_options(0).amsgrad());
  EXPECT_EQ(opt.defaults().lr(), 0.01);
  // A misspelt or foreign option does not compile; SGD's lr has no default.
  static_assert(!HasMomentum<optim::AdamOptions> && HasMomentum<optim::SGDOptions>);
  static_assert(!TakesScalarBetas<optim::AdamOptions>);
  static_assert(!std::is_default_constructible_v<optim::SGDOptions>);
  // Out-of-range values are errors naming the option (and the group).
  Tensor c = param({1});
  expect_error([&] { opt.add_param_group({{"c", c}}, optim::AdamOptions(-1)); }, {"learning rate", "group 2"});
  expect_error([&] { opt.add_param_group({{"c", c}}, optim::AdamOptions().betas({1.0, 0.999})); }, {"beta1"});
  expect_error([&] { opt.set_group_options(0, opt.group_options(0).eps(-1)); }, {"eps"});
  expect_error([&] { SGD sgd({{"c", c}}, optim::SGDOptions(0.1).nesterov(true)); }, {"Nesterov"});
  expect_error([&] { SGD sgd({{"c", c}}, optim::SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true)); },
               {"Nesterov"});
  EXPECT_EQ(opt.num_param_groups(), 2u);
  EXPECT_EQ(opt.group_options(0).eps(), 1e-8);  // the failed set changed nothing
  // The name-keyed form (state dicts) names unknown, missing and malformed options.
  optim::OptimizerStateDict sd = opt.state_dict();
  sd.groups[0].options["momentum"] = 0.9;
  expect_error([&] { opt.load_state_dict(sd); }, {"unknown option 'momentum'", "beta1"});
  sd.groups[0].options.erase("momentum");
  sd.groups[0].options["amsgrad"] = 0.5;
  expect_error([&] { opt.load_state_dict(sd); }, {"'amsgrad'", "flag"});
  expect_error([&] { optim::from_options<optim::SGDOptions>({{"momentum", 0.9}}, "SGD", "test"); },
               {"requires option 'lr'"});
  expect_error([&] { optim::from_options<optim::AdamOptions>({{"betas", 0.9}}, "Adam", "test"); },
               {"requires option 'lr'"});
  // A group may take the defaults with its own lr.
  SGD sgd(optim::SGDOptions(0.1).momentum(0.9));
  sgd.add_param_group({{"c", c}}, sgd.defaults().lr(0.5));
  EXPECT_EQ(sgd.lr(0), 0.5);
  EXPECT_EQ(sgd.group_options(0).momentum(), 0.9);
}

TEST(Optimizer, ZeroGradSetsToNoneOrZeroes) {
  Tensor w = param({3}), b = param({2});
  SGD opt({{"w", w}, {"b", b}}, optim::SGDOptions(0.1));
  w.set_grad(ones({3}));
  b.set_grad(ones({2}));
  opt.zero_grad(false);
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{0, 0, 0}));
  opt.zero_grad();
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(b.grad().defined());
}

TEST(Optimizer, StepSkipsParametersWithoutGradAndCreatesStateLazilyByName) {
  Tensor w = param({3}), b = param({2});
  Adam opt({{"w", w}, {"b", b}}, optim::AdamOptions(0.1));
  EXPECT_EQ(opt.num_states(), 0u);
  w.set_grad(full({3}, 0.5));
  const std::vector<float> b_before = b.to_vector<float>(), w_before = w.to_vector<float>();
  opt.step();
  EXPECT_EQ(b.to_vector<float>(), b_before);  // no grad: untouched, no state
  EXPECT_EQ(opt.state("b"), nullptr);
  ASSERT_NE(opt.state("w"), nullptr);
  EXPECT_EQ(opt.state("w")->step, 1);
  EXPECT_NE(w.to_vector<float>(), w_before);
  // A zero gradient is a gradient (PyTorch: zero and None differ): it counts as a step.
  b.set_grad(zeros({2}));
  w.zero_grad();
  opt.step();
  EXPECT_EQ(opt.state("b")->step, 1);
  EXPECT_EQ(opt.state("w")->step, 1);
  EXPECT_EQ(opt.state("b")->buffers.size(), 2u);  // exp_avg, exp_avg_sq
}

TEST(Optimizer, FrozenParametersNeverChangeAndGetNoState) {
  Tensor w = param({4}), frozen = param({4}, 3.0);
  frozen.requires_grad_(false);
  frozen.set_grad(ones({4}));  // a stale gradient from before freezing
  for (const std::string& type : {"Adam", "SGD"}) {
    SCOPED_TRACE(type);
    std::unique_ptr<optim::Optimizer> opt;
    if (type == "Adam") opt = std::make_unique<Adam>(nn::NamedTensors{{"w", w}, {"frozen", frozen}});
    else opt = std::make_unique<SGD>(nn::NamedTensors{{"w", w}, {"frozen", frozen}}, optim::SGDOptions(0.1).momentum(0.9));
    const std::vector<float> before = frozen.to_vector<float>();
    for (int k = 0; k < 5; ++k) {
      w.set_grad(full({4}, 0.25));
      opt->step();
    }
    EXPECT_EQ(frozen.to_vector<float>(), before);
    EXPECT_EQ(opt->state("frozen"), nullptr);
    EXPECT_EQ(opt->state("w")->step, 5);
  }
}

// Adam's first update of a parameter moves each element by lr * g / (|g| + eps) (both bias
// corrections cancel exactly when step = 1): m / (1 - b1) = g, sqrt(v) / sqrt(1 - b2) = |g|.
// A parameter that first gets a gradient after 10 steps of its neighbours must start at step 1.
TEST(Optimizer, LateParameterStartsItsBiasCorrectionAtOne) {
  Tensor early = param({2}), late = param({3});
  Adam opt({{"early", early}}, optim::AdamOptions(0.01));
  for (int k = 0; k < 10; ++k) {
    early.set_grad(full({2}, 1.0));
    opt.step();
  }
  opt.add_param_group({{"late", late}}, optim::AdamOptions(0.05));
  const std::vector<float> before = late.to_vector<float>();
  late.set_grad(from_vector<float>({2.0f, -0.5f, 1e-3f}, {3}));
  early.set_grad(full({2}, 1.0));
  opt.step();
  EXPECT_EQ(opt.state("late")->step, 1);
  EXPECT_EQ(opt.state("early")->step, 11);
  const std::vector<float> after = late.to_vector<float>();
  EXPECT_NEAR(after[0] - before[0], -0.05, 1e-6);
  EXPECT_NEAR(after[1] - before[1], 0.05, 1e-6);
  EXPECT_NEAR(after[2] - before[2], -0.05 * 1e-3 / (1e-3 + 1e-8), 1e-6);
}

// PyTorch's SGD starts the momentum buffer as a copy of the first (decayed) gradient, without
// dampening: buf = g + wd p; the update is then lr * buf.
TEST(Optimizer, SgdMomentumBufferStartsAsTheFirstGradient) {
  Tensor w = from_vector<float>({1.0f, -2.0f}, {2});
  w.requires_grad_(true);
  SGD opt({{"w", w}}, optim::SGDOptions(0.5).momentum(0.9).dampening(0.5).weight_decay(0.1));
  Tensor g = from_vector<float>({0.25f, 0.5f}, {2});
  w.set_grad(g);
  opt.step();
  const Tensor* buf = opt.state("w")->find("momentum_buffer");
  ASSERT_NE(buf, nullptr);
  EXPECT_EQ(buf->to_vector<float>(), (std::vector<float>{0.25f + 0.1f * 1.0f, 0.5f + 0.1f * -2.0f}));
  EXPECT_FALSE(buf->same(g));  // a copy, not the gradient itself
  EXPECT_NEAR(w.to_vector<float>()[0], 1.0 - 0.5 * 0.35, 1e-6);
  // Second step: buf = 0.9 buf + (1 - 0.5) g'.
  w.set_grad(from_vector<float>({1.0f, 1.0f}, {2}));
  const float p0 = w.to_vector<float>()[0];
  opt.step();
  const float expected_buf = 0.9f * 0.35f + 0.5f * (1.0f + 0.1f * p0);
  EXPECT_NEAR(buf->to_vector<float>()[0], expected_buf, 1e-6);
}

TEST(Optimizer, GradientThatDoesNotFitItsParameterIsAnErrorAndChangesNothing) {
  Tensor w = param({2, 3}), b = param({3});
  Adam opt({{"w", w}});
  opt.add_param_group({{"b", b}});
  w.set_grad(ones({2, 3}));
  b.set_grad(ones({3}, DType::Float64));
  const std::vector<float> w_before = w.to_vector<float>();
  expect_error([&] { opt.step(); }, {"'b'", "group 1", "float64", "float32"});
  EXPECT_EQ(w.to_vector<float>(), w_before);  // checked before any update
  EXPECT_EQ(opt.state("w"), nullptr);
}

TEST(Optimizer, NonContiguousGradientIsUsedAsIs) {
  Tensor w = param({2, 3}), w2 = param({2, 3});
  Adam a({{"w", w}}), b({{"w", w2}});
  Tensor g = arange(6.0).reshape({3, 2}).detach();
  w.set_grad(raw::transpose(g, 0, 1));
  w2.set_grad(raw::contiguous(raw::transpose(g, 0, 1)));
  a.step();
  b.step();
  EXPECT_TRUE(bitwise_equal(w2, w));
}

}  // namespace
}  // namespace sepal::testing
