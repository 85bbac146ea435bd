// scheduler_test.cpp: StepLR's 21-epoch sequence with PyTorch's timing, initial_lr for groups
// present at construction and added later, chaining, every scheduler's state saved mid-way and
// restored into a fresh one (built with other hyperparameters) continuing bit for bit, and the
// errors of bad arguments and bad state.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include <sepal.h>

namespace sepal::testing {
namespace {

struct OneParam {
  Tensor w = zeros({2}, TensorOptions().requires_grad(true));
  Tensor b = zeros({2}, TensorOptions().requires_grad(true));
  optim::SGD opt;
  explicit OneParam(double lr = 0.1) : opt({{"w", w}}, optim::SGDOptions(lr)) {}
};

// step_size 7, gamma 0.1, stepped once per epoch after the optimizer: epochs 0-6 at the base
// lr, 7-13 at a tenth, 14-20 at a hundredth (chainable: products of gamma, not powers).
TEST(Schedulers, StepLRTwentyOneEpochs) {
  OneParam s(0.1);
  optim::StepLR sched(s.opt, 7, 0.1);
  EXPECT_EQ(s.opt.param_group(0).initial_lr().value(), 0.1);
  EXPECT_EQ(sched.base_lrs(), std::vector<double>{0.1});
  for (int epoch = 0; epoch < 21; ++epoch) {
    const double expected = epoch < 7 ? 0.1 : epoch < 14 ? 0.1 * 0.1 : 0.1 * 0.1 * 0.1;
    EXPECT_EQ(s.opt.lr(0), expected) << "epoch " << epoch;  // the lr this epoch trains with
    EXPECT_EQ(sched.get_last_lr(), std::vector<double>{expected});
    EXPECT_EQ(sched.last_epoch(), epoch);
    s.w.set_grad(ones({2}));
    s.opt.step();
    sched.step();
  }
  EXPECT_EQ(s.opt.lr(0), 0.1 * 0.1 * 0.1 * 0.1);  // epoch 21
}

TEST(Schedulers, GroupAddedLaterGetsInitialLrAndIsScheduled) {
  OneParam s(0.1);
  optim::StepLR sched(s.opt, 7, 0.1);
  for (int epoch = 0; epoch < 10; ++epoch) sched.step();
  s.opt.add_param_group({{"b", s.b}}, optim::SGDOptions(0.5));  // at epoch 10
  std::vector<std::vector<double>> seen;
  for (int epoch = 10; epoch < 21; ++epoch) {
    if (epoch > 10) sched.step();
    seen.push_back({s.opt.lr(0), s.opt.lr(1)});
    if (epoch > 10) EXPECT_EQ(sched.get_last_lr(), seen.back());
  }
  EXPECT_EQ(s.opt.param_group(1).initial_lr().value(), 0.5);
  EXPECT_EQ(sched.base_lrs(), (std::vector<double>{0.1, 0.5}));
  EXPECT_EQ(seen.front(), (std::vector<double>{0.1 * 0.1, 0.5}));  // before its first scheduler step
  EXPECT_EQ(seen[3], (std::vector<double>{0.1 * 0.1, 0.5}));       // epoch 13
  EXPECT_EQ(seen[4], (std::vector<double>{0.1 * 0.1 * 0.1, 0.5 * 0.1}));  // epoch 14
  EXPECT_EQ(seen.back(), (std::vector<double>{0.1 * 0.1 * 0.1, 0.5 * 0.1}));
}

TEST(Schedulers, ExistingInitialLrIsKeptAndSchedulersChain) {
  OneParam s(1.0);
  optim::StepLR a(s.opt, 2, 0.5);
  optim::MultiStepLR b(s.opt, {3}, 0.1);  // constructed later: initial_lr stays 1.0
  EXPECT_EQ(b.base_lrs(), std::vector<double>{1.0});
  for (int epoch = 1; epoch <= 4; ++epoch) {
    a.step();
    b.step();
  }
  // epoch 2: * 0.5; epoch 3: * 0.1; epoch 4: * 0.5
  EXPECT_EQ(s.opt.lr(0), 1.0 * 0.5 * 0.1 * 0.5);
}

TEST(Schedulers, CosineAnnealingFollowsTheClosedFormWithinRounding) {
  OneParam s(0.1);
  optim::CosineAnnealingLR sched(s.opt, 10, 0.001);
  for (int epoch = 0; epoch <= 30; ++epoch) {
    const double closed = 0.001 + (0.1 - 0.001) * (1 + std::cos(std::acos(-1.0) * epoch / 10)) / 2;
    EXPECT_NEAR(s.opt.lr(0), closed, 1e-12) << "epoch " << epoch;
    sched.step();
  }
}

// A documented difference from PyTorch 1.13: a group added after a CosineAnnealingLR was created
// stays in the cosine cycle. PyTorch zips the restart step over the base_lrs it had at
// construction, so the new group skips the restart and, having reached eta_min, stays there for
// good. sepal adopts the group (its initial_lr is its base lr) and keeps it cycling. T_max 2,
// eta_min 0, base 0.1, hand-derived from the recursive form: epoch 1: (1 + cos(pi/2)) /
// (1 + cos 0) * 0.1 = 0.05; epoch 2: 0 (eta_min); epoch 3, the restart: 0 + 0.1 * (1 - cos(pi/2))
// / 2 = 0.05; epoch 4: (1 + cos 2pi) / (1 + cos(3pi/2)) * 0.05 = 0.1; and so on, every 4 epochs.
TEST(Schedulers, CosineKeepsAGroupAddedLaterInItsCycle) {
  OneParam s(0.2);
  optim::CosineAnnealingLR sched(s.opt, 2, 0.0);
  s.opt.add_param_group({{"b", s.b}}, optim::SGDOptions(0.1));  // after the scheduler, at epoch 0
  const double expected[] = {0.1, 0.05, 0.0, 0.05, 0.1, 0.05, 0.0, 0.05, 0.1};
  for (int epoch = 0; epoch <= 8; ++epoch) {
    EXPECT_NEAR(s.opt.lr(1), expected[epoch], 1e-15) << "epoch " << epoch;
    EXPECT_NEAR(s.opt.lr(0), 2 * expected[epoch], 1e-15) << "epoch " << epoch;  // the first group's cycle
    sched.step();
  }
}

// Saves after `split` epochs, then checks that a fresh scheduler of the same type but other
// hyperparameters, loaded with the saved state (and a fresh optimizer with the saved optimizer
// state), produces the same lrs as the original for the remaining epochs.
void check_resume(const std::function<std::unique_ptr<optim::Scheduler>(optim::Optimizer&, bool)>& make,
                  const std::function<void(optim::Scheduler&, int)>& step, int split, int total) {
  OneParam s(0.2);
  s.opt.add_param_group({{"b", s.b}}, optim::SGDOptions(0.05));
  auto sched = make(s.opt, false);
  for (int e = 1; e <= split; ++e) step(*sched, e);
  const optim::SchedulerStateDict saved = sched->state_dict();
  const optim::OptimizerStateDict saved_opt = s.opt.state_dict().clone();

  OneParam t(0.9);
  t.opt.add_param_group({{"b", t.b}}, optim::SGDOptions(0.3));
  auto fresh = make(t.opt, true);  // other hyperparameters, which the load replaces
  t.opt.load_state_dict(saved_opt);
  fresh->load_state_dict(saved);
  EXPECT_EQ(fresh->get_last_lr(), sched->get_last_lr());
  EXPECT_EQ(fresh->last_epoch(), sched->last_epoch());
  for (int e = split + 1; e <= total; ++e) {
    step(*sched, e);
    step(*fresh, e);
    ASSERT_EQ(fresh->get_last_lr(), sched->get_last_lr()) << "epoch " << e;
    ASSERT_EQ(t.opt.lr(0), s.opt.lr(0));
    ASSERT_EQ(t.opt.lr(1), s.opt.lr(1));
  }
  EXPECT_NE(s.opt.lr(0), 0.2) << "the schedule should have changed the lr";
}

void epoch_step(optim::Scheduler& s, int) { s.step(); }

TEST(Schedulers, EverySchedulerRestoredMidwayContinuesExactly) {
  check_resume([](optim::Optimizer& o, bool other) -> std::unique_ptr<optim::Scheduler> {
    return std::make_unique<optim::StepLR>(o, other ? 3 : 7, other ? 0.5 : 0.1);
  }, epoch_step, 10, 30);
  check_resume([](optim::Optimizer& o, bool other) -> std::unique_ptr<optim::Scheduler> {
    return std::make_unique<optim::MultiStepLR>(o, other ? std::vector<int64_t>{1} : std::vector<int64_t>{4, 12, 12, 20},
                                                other ? 0.9 : 0.3);
  }, epoch_step, 12, 30);
  check_resume([](optim::Optimizer& o, bool other) -> std::unique_ptr<optim::Scheduler> {
    return std::make_unique<optim::CosineAnnealingLR>(o, other ? 3 : 8, other ? 0.0 : 0.01);
  }, epoch_step, 11, 40);
  auto metric = [](optim::Scheduler& s, int e) {
    s.step(1.0 / e + 0.02 * (e % 4));  // through the Scheduler interface
  };
  check_resume([](optim::Optimizer& o, bool other) -> std::unique_ptr<optim::Scheduler> {
    optim::PlateauOptions p;
    p.factor = other ? 0.9 : 0.5;
    p.patience = other ? 7 : 1;
    p.threshold = 0.05;
    p.cooldown = other ? 0 : 2;
    p.min_lr = other ? 0.0 : 0.01;
    return std::make_unique<optim::ReduceLROnPlateau>(o, p);
  }, metric, 9, 40);
}

TEST(Schedulers, PlateauCountersAndBestAreRestored) {
  OneParam s(0.1);
  optim::PlateauOptions p;
  p.patience = 3;
  p.cooldown = 2;
  optim::ReduceLROnPlateau a(s.opt, p);
  for (double m : {1.0, 0.5, 0.6, 0.7}) a.step(m);
  EXPECT_EQ(a.best(), 0.5);
  EXPECT_EQ(a.num_bad_epochs(), 2);
  optim::ReduceLROnPlateau b(s.opt);
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(b.best(), 0.5);
  EXPECT_EQ(b.num_bad_epochs(), 2);
  EXPECT_EQ(b.last_epoch(), 4);
  b.step(0.8);
  b.step(0.9);  // fourth bad epoch > patience 3: reduce, then cooldown
  EXPECT_NEAR(s.opt.lr(0), 0.01, 1e-15);
  EXPECT_EQ(b.cooldown_counter(), 2);
  EXPECT_TRUE(b.in_cooldown());
}

TEST(Schedulers, BadArgumentsAndBadStateAreErrors) {
  OneParam s;
  EXPECT_THROW(optim::StepLR(s.opt, 0), Error);
  EXPECT_THROW(optim::CosineAnnealingLR(s.opt, 0), Error);
  optim::PlateauOptions p;
  p.factor = 1.0;
  EXPECT_THROW(optim::ReduceLROnPlateau(s.opt, p), Error);
  p.factor = 0.5;
  p.min_lrs = {0.1, 0.2};
  EXPECT_THROW(optim::ReduceLROnPlateau(s.opt, p), Error);

  optim::StepLR step(s.opt, 5);
  optim::CosineAnnealingLR cos(s.opt, 5);
  try {
    step.load_state_dict(cos.state_dict());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CosineAnnealingLR"), std::string::npos) << e.what();
  }
  step.step();
  optim::SchedulerStateDict sd = step.state_dict();
  sd.values.erase("gamma");
  sd.values["last_epoch"] = 99;
  try {
    step.load_state_dict(sd);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'gamma'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(step.last_epoch(), 1);  // unchanged by the failed load
  sd = step.state_dict();
  sd.values["step_size"] = 2.5;
  EXPECT_THROW(step.load_state_dict(sd), Error);
}

}  // namespace
}  // namespace sepal::testing
