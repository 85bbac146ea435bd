// options_test.cpp: the libtorch-style optimizer API: typed options equal to their name-keyed
// (state-dict) form both ways, with errors naming the option; optimizers over plain tensors,
// named "param.<k>"; every scheduler, ReduceLROnPlateau included, stepped through Scheduler.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <optional>

#include <sepal.h>

#include "cuda/cuda_test_util.h"

namespace sepal::testing {
namespace {

using optim::AdamOptions;
using optim::AdamWOptions;
using optim::Options;
using optim::SGDOptions;

Tensor param(const Shape& shape, double start) {
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
