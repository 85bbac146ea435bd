// fused_test.cpp: the CPU fused Adam/AdamW kernel against the per-tensor raw-op reference, bit
// for bit, for every flag combination (amsgrad, no/L2/decoupled decay, maximize), both floating
// dtypes and sizes around the chunk and parallel thresholds; one step checked by hand; and the
// argument checks of adam_step_fused.
#include <gtest/gtest.h>

#include <functional>

#include "optim/adam_sets.h"

namespace sepal::testing {
namespace {

const std::vector<int64_t> kSizes = {1, 7, 0, 16383, 16384, 16385, 100003, 33};

TEST(FusedAdam, EqualsPerTensorBitForBitForEveryVariant) {
  AdamStepArgs base;
  base.beta1 = 0.85;
  base.beta2 = 0.995;
  base.eps = 1e-7;
  base.weight_decay = 0.05;
  base.decay_factor = 1.0 - 0.01 * 0.05;
  for_each_adam_variant(base, [&](DType dtype, const AdamStepArgs& args) {
    std::vector<AdamTensorSet> fused = random_adam_sets(kSizes, dtype, args.amsgrad, 7);
    std::vector<AdamTensorSet> reference = copy_adam_sets(fused, Device::cpu());
    for (int step = 0; step < 3; ++step) {
      optim::adam_step_fused(fused, args);
      optim::adam_step_per_tensor(reference, args);
    }
    EXPECT_TRUE(adam_sets_equal(reference, fused));
  });
}

// One step by hand (step 1, lr 0.1, betas 0.9/0.999, eps 1e-8) from p = 1, g = 0.5, m = v = 0:
//   m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 2.5e-4, bias corrections 0.1 and 0.001,
//   denom = sqrt(2.5e-4) / sqrt(0.001) + 1e-8 = 0.5 + 1e-8,
//   p = 1 - (0.1 / 0.1) * 0.05 / (0.5 + 1e-8) = 0.9 (to float32 precision).
TEST(FusedAdam, OneStepByHand) {
  AdamTensorSet s;
  s.param = from_vector<float>({1.0f}, {1});
  s.grad = from_vector<float>({0.5f}, {1});
  s.exp_avg = zeros({1});
  s.exp_avg_sq = zeros({1});
  s.neg_step_size = -(0.1 / (1.0 - 0.9));
  s.bias_correction2_sqrt = std::sqrt(1.0 - 0.999);
  optim::adam_step_fused({s}, AdamStepArgs{});
  EXPECT_NEAR(s.param.item<double>(), 0.9, 1e-7);
  EXPECT_NEAR(s.exp_avg.item<double>(), 0.05, 1e-8);
  EXPECT_NEAR(s.exp_avg_sq.item<double>(), 2.5e-4, 1e-10);
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    for (const std::string& s : fragments)
      EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << "'" << s << "' not in: " << e.what();
  }
}

TEST(FusedAdam, ChecksItsArgumentsAndNamesTheSet) {
  std::vector<AdamTensorSet> sets = random_adam_sets({6, 4}, DType::Float32, true, 1);
  AdamStepArgs args;
  args.amsgrad = true;
  auto with = [&](const std::function<void(AdamTensorSet&)>& change) {
    std::vector<AdamTensorSet> copy = copy_adam_sets(sets, Device::cpu());
    change(copy[1]);
    return copy;
  };
  const std::vector<std::string> names = {"fc.weight", "fc.bias"};
  expect_error([&] { optim::adam_step_fused(with([](AdamTensorSet& s) { s.exp_avg = zeros({5}); }), args, names); },
               {"'fc.bias'", "exp_avg", "[5]", "[4]"});
  expect_error([&] { optim::adam_step_fused(with([](AdamTensorSet& s) { s.grad = zeros({4}, DType::Float64); }), args, names); },
               {"'fc.bias'", "grad", "float64"});
  expect_error([&] { optim::adam_step_fused(with([](AdamTensorSet& s) { s.max_exp_avg_sq = Tensor(); }), args); },
               {"tensor set 1", "max_exp_avg_sq", "undefined"});
  expect_error([&] { optim::adam_step_fused(with([](AdamTensorSet& s) { s.exp_avg_sq = s.param; }), args, names); },
               {"'fc.bias'", "overlap"});
  expect_error([&] {
    optim::adam_step_fused(with([](AdamTensorSet& s) { s.exp_avg = raw::as_strided(zeros({8}), {4}, {2}, 0); }),
                           args, names);
  }, {"contiguous"});
  expect_error([&] { optim::adam_step_fused(with([](AdamTensorSet& s) { s.param = zeros({4}, DType::Int64); }), args); },
               {"not floating"});
}

}  // namespace
}  // namespace sepal::testing
