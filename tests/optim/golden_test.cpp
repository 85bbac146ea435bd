// golden_test.cpp: Adam, AdamW and SGD trajectories against PyTorch 1.13 (golden values from
// scripts/golden/make_optim_golden.py): 120 steps on two groups with different options, a third
// group added after step 40, parameters without a gradient on some steps (one of them until
// step 5, so its bias correction starts late); parameters compared after steps 1, 10, 40, 41,
// 80 and 120 and the final state of every parameter, at 1e-6 relative. Adam runs both fused and
// per tensor. Also the lr sequences of every scheduler against PyTorch's.
#include <gtest/gtest.h>

#include "cuda/cuda_test_util.h"
#include "optim/golden_problem.h"
#include "common/test_data.h"

namespace sepal::testing {
namespace {

const nn::StateDict& golden() {
  static const nn::StateDict sd = checkpoint::load_safetensors(testing::test_data_path("optim_golden.safetensors"));
  return sd;
}

Tensor golden_tensor(const std::string& key) {
  const Tensor* t = golden().find(key);
  if (!t) throw Error("golden file has no '" + key + "' (regenerate it with scripts/golden/make_optim_golden.py)");
  return *t;
}

// float32 trajectories: relative 1e-6, plus an absolute floor for elements near zero.
constexpr double kRtol = 1e-6, kAtol = 1e-7;
// Averages of gradients (exp_avg, momentum_buffer) inherit the cancellation in 2 (p - t): a
// parameter a few ulps (~6e-8 each near 0.5) off moves the gradient by ~1e-7 per ulp, which is
// large against a buffer of 1e-3; so they get an absolute floor of 1e-6 instead.
double buffer_atol(const std::string& buffer) {
  return buffer == "exp_avg" || buffer == "momentum_buffer" ? 1e-6 : kAtol;
}

void run_and_compare(const GoldenConfig& cfg, optim::AdamImpl impl) {
  GoldenRun run(cfg, impl);
  int compared = 0;
  for (int k = 1; k <= kGoldenSteps; ++k) {
    run.step(cfg, k);
    if (std::find(kGoldenRecord.begin(), kGoldenRecord.end(), k) == kGoldenRecord.end()) continue;
    for (const GoldenParam& p : golden_params()) {
      if (p.group == 2 && k <= kGoldenAddAfter) continue;
      SCOPED_TRACE(cfg.name + " " + p.name + " after step " + std::to_string(k));
      EXPECT_TRUE(all_close(golden_tensor(cfg.name + "." + p.name + ".step" + std::to_string(k)), run.params[p.name],
                            kRtol, kAtol));
      ++compared;
    }
  }
  EXPECT_EQ(compared, 27);
  // Final state: PyTorch's buffers and step counts (SGD keeps no step in PyTorch).
  for (const GoldenParam& p : golden_params()) {
    SCOPED_TRACE(cfg.name + " " + p.name + " final state");
    const optim::ParamState* st = run.opt->state(p.name);
    ASSERT_NE(st, nullptr);
    int buffers = 0;
    for (const auto& [key, t] : golden().entries()) {
      const std::string prefix = cfg.name + "." + p.name + ".";
      if (key.rfind(prefix, 0) != 0) continue;
      const std::string what = key.substr(prefix.size());
      if (what == "step") {
        EXPECT_EQ(st->step, t.item<int64_t>());
      } else if (what.rfind("step", 0) != 0) {
        const Tensor* mine = st->find(what);
        ASSERT_NE(mine, nullptr) << "no buffer " << what;
        EXPECT_TRUE(all_close(t, *mine, kRtol, buffer_atol(what))) << what;
        ++buffers;
      }
    }
    EXPECT_EQ(static_cast<size_t>(buffers), st->buffers.size());
  }
}

class GoldenTrajectory : public ::testing::TestWithParam<size_t> {};

TEST_P(GoldenTrajectory, MatchesPyTorchFused) {
  run_and_compare(golden_configs()[GetParam()], optim::AdamImpl::Fused);
}

INSTANTIATE_TEST_SUITE_P(Configs, GoldenTrajectory, ::testing::Range<size_t>(0, golden_configs().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return golden_configs()[info.param].name; });

// Adam and AdamW also run per tensor (SGD has one implementation).
std::vector<size_t> adam_configs() {
  std::vector<size_t> out;
  for (size_t i = 0; i < golden_configs().size(); ++i)
    if (golden_configs()[i].type != "SGD") out.push_back(i);
  return out;
}

class GoldenAdam : public ::testing::TestWithParam<size_t> {};

TEST_P(GoldenAdam, MatchesPyTorchPerTensor) { run_and_compare(golden_configs()[GetParam()], optim::AdamImpl::PerTensor); }

// The fused kernel performs the per-tensor ops' exact roundings: whole trajectories agree bit for bit.
TEST_P(GoldenAdam, FusedEqualsPerTensorBitForBit) {
  const GoldenConfig& cfg = golden_configs()[GetParam()];
  GoldenRun fused(cfg, optim::AdamImpl::Fused), reference(cfg, optim::AdamImpl::PerTensor);
  for (int k = 1; k <= kGoldenSteps; ++k) {
    fused.step(cfg, k);
    reference.step(cfg, k);
  }
  for (const GoldenParam& p : golden_params()) {
    SCOPED_TRACE(p.name);
    EXPECT_TRUE(bitwise_equal(reference.params[p.name], fused.params[p.name]));
    const optim::ParamState* a = reference.opt->state(p.name);
    const optim::ParamState* b = fused.opt->state(p.name);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(a->buffers.size(), b->buffers.size());
    for (size_t i = 0; i < a->buffers.size(); ++i)
      EXPECT_TRUE(bitwise_equal(a->buffers[i].second, *b->find(a->buffers[i].first))) << a->buffers[i].first;
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, GoldenAdam, ::testing::ValuesIn(adam_configs()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return golden_configs()[info.param].name; });

// ---- schedulers ----

// Two groups with the given lrs (one parameter each), for schedulers.
struct TwoGroups {
  Tensor a = zeros({1}, TensorOptions().requires_grad(true)), b = zeros({1}, TensorOptions().requires_grad(true));
  optim::SGD opt;
  TwoGroups(double lr0, double lr1) : opt(optim::SGDOptions(1.0)) {
    opt.add_param_group({{"a", a}}, optim::SGDOptions(lr0));
    opt.add_param_group({{"b", b}}, optim::SGDOptions(lr1));
  }
};

void expect_row(const Tensor& rows, int64_t e, const std::vector<double>& lrs) {
  std::vector<double> want = rows.select(0, e).to_vector<double>();
  ASSERT_EQ(want.size(), lrs.size());
  for (size_t i = 0; i < lrs.size(); ++i) EXPECT_EQ(lrs[i], want[i]) << "epoch " << e << " group " << i;  // bit for bit
}

template <typename Make>
void check_epoch_schedule(const std::string& key, double lr0, double lr1, Make make) {
  const Tensor rows = golden_tensor("sched." + key);
  TwoGroups g(lr0, lr1);
  auto sched = make(g.opt);
  for (int64_t e = 0; e < rows.size(0); ++e) {
    if (e > 0) {
      g.opt.step();
      sched->step();
    }
    expect_row(rows, e, sched->get_last_lr());
    EXPECT_EQ(sched->last_epoch(), e);
  }
}

TEST(GoldenSchedules, StepLRMultiStepLRCosineAnnealingLR) {
  check_epoch_schedule("step_lr", 0.1, 0.01, [](optim::Optimizer& o) { return std::make_unique<optim::StepLR>(o, 7, 0.1); });
  check_epoch_schedule("multistep", 0.1, 0.05, [](optim::Optimizer& o) {
    return std::make_unique<optim::MultiStepLR>(o, std::vector<int64_t>{3, 8, 8, 12}, 0.5);
  });
  check_epoch_schedule("cosine", 0.1, 0.02,
                       [](optim::Optimizer& o) { return std::make_unique<optim::CosineAnnealingLR>(o, 6, 0.001); });
}

void check_plateau(const std::string& key, optim::PlateauOptions options) {
  const Tensor rows = golden_tensor("sched." + key);
  const std::vector<double> metrics = golden_tensor("sched." + key + ".metrics").to_vector<double>();
  TwoGroups g(0.1, 0.02);
  optim::ReduceLROnPlateau sched(g.opt, options);
  int reductions = 0;
  for (int64_t e = 0; e < rows.size(0); ++e) {
    const double before = g.opt.lr(0);
    g.opt.step();
    sched.step(metrics[static_cast<size_t>(e)]);
    reductions += g.opt.lr(0) != before;
    expect_row(rows, e, {g.opt.lr(0), g.opt.lr(1)});
    EXPECT_EQ(sched.get_last_lr(), (std::vector<double>{g.opt.lr(0), g.opt.lr(1)}));
  }
  EXPECT_GE(reductions, 2) << "the golden metrics should trigger several reductions";
}

TEST(GoldenSchedules, ReduceLROnPlateauMinRelative) {
  optim::PlateauOptions o;
  o.factor = 0.5;
  o.patience = 2;
  o.threshold = 0.1;
  o.cooldown = 1;
  o.min_lrs = {0.01, 0.004};
  check_plateau("plateau_min", o);
}

TEST(GoldenSchedules, ReduceLROnPlateauMaxAbsolute) {
  optim::PlateauOptions o;
  o.mode = optim::PlateauMode::Max;
  o.factor = 0.3;
  o.patience = 1;
  o.threshold = 0.05;
  o.threshold_mode = optim::ThresholdMode::Abs;
  o.cooldown = 2;
  o.min_lr = 1e-3;
  check_plateau("plateau_max_abs", o);
}

}  // namespace
}  // namespace sepal::testing
