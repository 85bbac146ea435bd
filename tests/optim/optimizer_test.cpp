// optimizer_test.cpp: the Optimizer base through Adam and SGD: parameter groups and their
// validation errors, option overrides, zero_grad, skipping parameters without a gradient,
// frozen parameters, lazily created state keyed by name, late bias correction, SGD's first
// momentum buffer, and gradients that do not fit their parameter. Then the libtorch-style API:
// typed options equal to their name-keyed (state-dict) form both ways, with errors naming the
// option; optimizers over plain tensors, named "param.<k>"; every scheduler, ReduceLROnPlateau
// included, stepped through Scheduler.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>

#include <sepal.h>

#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

using optim::Adam;
using optim::AdamOptions;
using optim::AdamWOptions;
using optim::Options;
using optim::SGD;
using optim::SGDOptions;

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

// ---- the libtorch-style API ----

TEST(OptimizerOptions, TypedOptionsEqualTheNameKeyedForm) {
  const AdamOptions adam = AdamOptions().lr(2e-3).betas({0.8, 0.99}).eps(1e-6).weight_decay(0.1).amsgrad(true);
  const Options adam_map = {{"lr", 2e-3},         {"beta1", 0.8},   {"beta2", 0.99},  {"eps", 1e-6},
                            {"weight_decay", 0.1}, {"amsgrad", 1.0}, {"maximize", 0.0}};
  EXPECT_EQ(optim::to_options(adam), adam_map);
  EXPECT_EQ(optim::from_options<AdamOptions>(adam_map, "Adam", "test"), adam);

  const SGDOptions sgd = SGDOptions(0.1).momentum(0.9).dampening(0).weight_decay(1e-4).nesterov(true);
  const Options sgd_map = {{"lr", 0.1},           {"momentum", 0.9},  {"dampening", 0.0},
                           {"weight_decay", 1e-4}, {"nesterov", 1.0}, {"maximize", 0.0}};
  EXPECT_EQ(optim::to_options(sgd), sgd_map);
  EXPECT_EQ(optim::from_options<SGDOptions>(sgd_map, "SGD", "test"), sgd);

  // PyTorch's defaults; AdamW's weight decay defaults to 1e-2.
  EXPECT_EQ(optim::to_options(AdamOptions()), (Options{{"lr", 1e-3}, {"beta1", 0.9}, {"beta2", 0.999}, {"eps", 1e-8},
                                                       {"weight_decay", 0.0}, {"amsgrad", 0.0}, {"maximize", 0.0}}));
  EXPECT_EQ(AdamWOptions().weight_decay(), 1e-2);
  EXPECT_EQ(AdamWOptions(0.5).lr(), 0.5);

  // An optimizer's groups hold exactly the name-keyed form of their typed options.
  Tensor w = param({3}, 0.5), b = param({2}, 1.5);
  optim::Adam opt({{"w", w}}, adam);
  opt.add_param_group({{"b", b}}, AdamOptions(0.1));
  const optim::OptimizerStateDict sd = opt.state_dict();
  EXPECT_EQ(sd.groups[0].options, adam_map);
  EXPECT_EQ(sd.groups[1].options, optim::to_options(AdamOptions(0.1)));
  EXPECT_EQ(opt.group_options(0), adam);
  EXPECT_EQ(opt.defaults(), adam);
  // A scheduler's initial_lr stays in the name-keyed form only; the typed options ignore it.
  optim::StepLR sched(opt, 2);
  EXPECT_EQ(opt.param_group(1).initial_lr(), std::optional<double>(0.1));
  EXPECT_EQ(opt.group_options(1), AdamOptions(0.1));
  opt.set_group_options(1, AdamOptions(0.2).amsgrad(true));
  EXPECT_EQ(opt.param_group(1).initial_lr(), std::optional<double>(0.1));  // kept
  EXPECT_EQ(opt.group_options(1), AdamOptions(0.2).amsgrad(true));
}

TEST(OptimizerOptions, NameKeyedValuesAreCheckedWithErrorsNamingTheOption) {
  Options good = optim::to_options(AdamOptions());
  auto with = [&good](const std::string& name, double value) {
    Options o = good;
    o[name] = value;
    return o;
  };
  Options missing = good;
  missing.erase("eps");
  expect_error([&] { optim::from_options<AdamOptions>(missing, "Adam", "ckpt"); }, {"ckpt", "requires option 'eps'"});
  expect_error([&] { optim::from_options<AdamOptions>(with("amsgrad", 2), "Adam", "ckpt"); }, {"'amsgrad'", "flag"});
  expect_error([&] { optim::from_options<AdamOptions>(with("lr", std::nan("")), "Adam", "ckpt"); },
               {"'lr'", "finite"});
  expect_error([&] { optim::from_options<AdamOptions>(with("beta2", 1.0), "Adam", "ckpt"); }, {"beta2", "[0, 1)"});
  expect_error([&] { optim::from_options<AdamOptions>(with("weight_decay", -1), "Adam", "ckpt"); },
               {"weight_decay", ">= 0"});
  expect_error([&] { optim::from_options<SGDOptions>(optim::to_options(SGDOptions(0.1).momentum(-1)), "SGD", "x"); },
               {"momentum", ">= 0"});
  // Names that are not the struct's options (a scheduler's initial_lr) are left to the optimizer.
  EXPECT_EQ(optim::from_options<AdamOptions>(with("initial_lr", 0.5), "Adam", "ckpt"), AdamOptions());
}

TEST(OptimizerOptions, PlainParametersAreNamedByTheirPositionAndStepLikeNamedOnes) {
  Tensor a = param({2, 3}, 0.5), b = param({3}, -1.0), c = param({4}, 2.0);
  optim::Adam plain(std::vector<Tensor>{a, b}, AdamOptions(0.1));
  plain.add_param_group(std::vector<Tensor>{c}, AdamOptions(0.05).amsgrad(true));
  EXPECT_EQ(plain.param_group(0).names(), (std::vector<std::string>{"param.0", "param.1"}));
  EXPECT_EQ(plain.param_group(1).names(), (std::vector<std::string>{"param.2"}));
  EXPECT_EQ(plain.group_of("param.2"), std::optional<size_t>(1));

  Tensor a2 = param({2, 3}, 0.5), b2 = param({3}, -1.0), c2 = param({4}, 2.0);
  optim::Adam named({{"param.0", a2}, {"param.1", b2}}, AdamOptions(0.1));
  named.add_param_group({{"param.2", c2}}, AdamOptions(0.05).amsgrad(true));
  for (int k = 0; k < 3; ++k) {
    for (Tensor* t : {&a, &b, &c, &a2, &b2, &c2}) t->set_grad(full(t->shape(), 0.25 * (k + 1)));
    plain.step();
    named.step();
  }
  EXPECT_TRUE(bitwise_equal(a, a2));
  EXPECT_TRUE(bitwise_equal(c, c2));
  ASSERT_NE(plain.state("param.2"), nullptr);
  EXPECT_EQ(plain.state("param.2")->step, 3);
  // The state dict keys are the generated names, so a named optimizer loads it.
  EXPECT_TRUE(named.check_state_dict(plain.state_dict()).ok());

  // SGD and AdamW take plain parameters too; a generated name may not clash with a given one.
  Tensor d = param({2}, 0.0), e = param({2}, 1.0);
  optim::SGD sgd({{"param.1", d}}, SGDOptions(0.1));
  expect_error([&] { sgd.add_param_group(std::vector<Tensor>{e}); }, {"'param.1'", "already in parameter group 0"});
  optim::AdamW adamw(std::vector<Tensor>{e});
  EXPECT_EQ(adamw.param_group(0).names(), std::vector<std::string>{"param.0"});
  EXPECT_EQ(adamw.group_options(0).weight_decay(), 1e-2);
}

TEST(OptimizerOptions, EverySchedulerStepsThroughTheSchedulerInterface) {
  Tensor w = param({2}, 0.0), w2 = param({2}, 0.0);
  optim::SGD opt({{"w", w}}, SGDOptions(0.1)), direct_opt({{"w", w2}}, SGDOptions(0.1));
  optim::PlateauOptions po;
  po.patience = 1;
  po.factor = 0.5;
  std::unique_ptr<optim::Scheduler> sched = std::make_unique<optim::ReduceLROnPlateau>(opt, po);
  optim::ReduceLROnPlateau direct(direct_opt, po);
  EXPECT_TRUE(sched->uses_metric());
  // Without the metric it cannot decide: an error naming what it needs, and nothing changes.
  expect_error([&] { sched->step(); }, {"ReduceLROnPlateau", "metric"});
  EXPECT_EQ(sched->last_epoch(), 0);
  for (double loss : {1.0, 0.9, 0.95, 0.97, 0.99, 0.98}) {
    sched->step(loss);  // PyTorch's scheduler.step(val_loss)
    direct.step(loss);
    EXPECT_EQ(opt.lr(0), direct_opt.lr(0));
  }
  EXPECT_LT(opt.lr(0), 0.1) << "the metrics should have reduced the lr";

  // An epoch scheduler takes the same call and ignores the metric.
  Tensor v = param({2}, 0.0), v2 = param({2}, 0.0);
  optim::SGD a({{"v", v}}, SGDOptions(0.1)), b({{"v", v2}}, SGDOptions(0.1));
  std::unique_ptr<optim::Scheduler> with_metric = std::make_unique<optim::StepLR>(a, 2, 0.5);
  optim::StepLR without(b, 2, 0.5);
  EXPECT_FALSE(with_metric->uses_metric());
  for (int e = 0; e < 5; ++e) {
    with_metric->step(123.0);
    without.step();
    EXPECT_EQ(a.lr(0), b.lr(0));
  }
}

}  // namespace
}  // namespace sepal::testing
