// optim_test.cpp: the CUDA fused Adam/AdamW kernel against the CPU one, bit for bit (both run
// kernels::adam_element with single-rounding arithmetic), for every flag combination, both
// dtypes, sizes around the chunk size and more tensors than one launch carries; and whole
// optimizer trajectories on the GPU against PyTorch's golden values. Skipped without a device.
#include <gtest/gtest.h>

#include "cuda/cuda_test_util.h"
#include "optim/adam_sets.h"
#include "optim/golden_problem.h"
#include "common/test_data.h"

namespace sepal::testing {
namespace {

TEST(CudaFusedAdam, MatchesCpuBitForBit) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  std::vector<int64_t> sizes;  // 60 tensors (two launches), 0 to 3 chunks of 8192 and more
  for (int k = 0; k < 60; ++k) sizes.push_back(k % 7 == 0 ? 8192 * (k % 3) + k : (k * 997) % 20000);
  sizes.push_back(1 << 20);
  AdamStepArgs base;
  base.weight_decay = 0.02;
  base.decay_factor = 1.0 - 0.003 * 0.02;
  for_each_adam_variant(base, [&](DType dtype, const AdamStepArgs& args) {
    std::vector<AdamTensorSet> cpu = random_adam_sets(sizes, dtype, args.amsgrad, 11);
    std::vector<AdamTensorSet> gpu_sets = copy_adam_sets(cpu, gpu());
    for (int step = 0; step < 2; ++step) {
      optim::adam_step_fused(cpu, args);
      optim::adam_step_fused(gpu_sets, args);
    }
    EXPECT_TRUE(adam_sets_equal(cpu, gpu_sets));
  });
}

TEST(CudaFusedAdam, GoldenTrajectoriesOnTheGpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const nn::StateDict golden = checkpoint::load_safetensors(sepal::testing::test_data_path("optim_golden.safetensors"));
  for (const GoldenConfig& cfg : golden_configs())
    for (optim::AdamImpl impl : {optim::AdamImpl::Fused, optim::AdamImpl::PerTensor}) {
      SCOPED_TRACE(cfg.name + (impl == optim::AdamImpl::Fused ? " fused" : " per tensor"));
      GoldenRun run(cfg, impl, gpu());
      GoldenRun cpu_run(cfg, impl);
      for (int k = 1; k <= kGoldenSteps; ++k) {
        run.step(cfg, k);
        cpu_run.step(cfg, k);
      }
      for (const GoldenParam& p : golden_params()) {
        const Tensor* want = golden.find(cfg.name + "." + p.name + ".step" + std::to_string(kGoldenSteps));
        ASSERT_NE(want, nullptr);
        EXPECT_EQ(run.params[p.name].device(), gpu());
        EXPECT_TRUE(all_close(*want, host_copy(run.params[p.name]), 1e-6, 1e-7)) << p.name;
        EXPECT_TRUE(bitwise_equal(cpu_run.params[p.name], run.params[p.name])) << p.name;
      }
    }
}

}  // namespace
}  // namespace sepal::testing
