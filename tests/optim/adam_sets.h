// adam_sets.h: random Adam tensor sets for the fused-kernel tests (CPU here, CUDA in tests/cuda):
// parameters, gradients and moments of given sizes with per-tensor scalars as real steps have
// them, deep copies to another device, a bitwise comparison of two lists, and a loop over every
// Adam variant (dtype x amsgrad x decay x maximize).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <sepal.h>

#include "cuda/cuda_test_util.h"

namespace sepal::testing {

inline std::vector<AdamTensorSet> random_adam_sets(const std::vector<int64_t>& sizes, DType dtype, bool amsgrad,
                                                   uint64_t seed) {
  Generator gen(seed);
  const TensorOptions o(dtype);
  std::vector<AdamTensorSet> sets;
  for (size_t k = 0; k < sizes.size(); ++k) {
    const Shape shape{sizes[k]};
    AdamTensorSet s;
    s.param = randn(shape, o, &gen);
    s.grad = randn(shape, o, &gen);
    s.exp_avg = raw::unary(UnaryOp::MulScalar, randn(shape, o, &gen), {0.1});
    s.exp_avg_sq = raw::unary(UnaryOp::MulScalar, rand(shape, o, &gen), {0.01});
    if (amsgrad) s.max_exp_avg_sq = raw::unary(UnaryOp::MulScalar, rand(shape, o, &gen), {0.012});
    const double step = static_cast<double>(k % 5 + 1);
    s.neg_step_size = -(1e-3 * static_cast<double>(k + 1)) / (1.0 - std::pow(0.9, step));
    s.bias_correction2_sqrt = std::sqrt(1.0 - std::pow(0.999, step));
    sets.push_back(s);
  }
  return sets;
}

inline std::vector<AdamTensorSet> copy_adam_sets(const std::vector<AdamTensorSet>& sets, Device device) {
  std::vector<AdamTensorSet> out = sets;
  for (AdamTensorSet& s : out)
    for (Tensor* t : {&s.param, &s.grad, &s.exp_avg, &s.exp_avg_sq, &s.max_exp_avg_sq})
      if (t->defined()) *t = raw::contiguous(raw::clone(raw::to_device(*t, device)));
  return out;
}

inline ::testing::AssertionResult adam_sets_equal(const std::vector<AdamTensorSet>& expected,
                                                  const std::vector<AdamTensorSet>& actual) {
  for (size_t k = 0; k < expected.size(); ++k) {
    const AdamTensorSet &e = expected[k], &a = actual[k];
    const std::pair<const char*, std::pair<const Tensor*, const Tensor*>> ops[] = {
        {"param", {&e.param, &a.param}},
        {"exp_avg", {&e.exp_avg, &a.exp_avg}},
        {"exp_avg_sq", {&e.exp_avg_sq, &a.exp_avg_sq}},
        {"max_exp_avg_sq", {&e.max_exp_avg_sq, &a.max_exp_avg_sq}}};
    for (const auto& [name, pair] : ops) {
      if (!pair.first->defined()) continue;
      ::testing::AssertionResult r = bitwise_equal(*pair.first, *pair.second);
      if (!r) return ::testing::AssertionFailure() << "set " << k << " " << name << ": " << r.message();
    }
  }
  return ::testing::AssertionSuccess();
}

// Calls f(dtype, args) for float32 and float64 x amsgrad x {no decay, L2, decoupled} x maximize,
// each under a SCOPED_TRACE naming the variant; `base` supplies the other fields of args.
inline void for_each_adam_variant(const AdamStepArgs& base,
                                  const std::function<void(DType, const AdamStepArgs&)>& f) {
  using kernels::AdamDecay;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (bool amsgrad : {false, true})
      for (AdamDecay decay : {AdamDecay::None, AdamDecay::L2, AdamDecay::Decoupled})
        for (bool maximize : {false, true}) {
          SCOPED_TRACE(std::string(dtype_name(dtype)) + " amsgrad " + std::to_string(amsgrad) + " decay " +
                       std::to_string(static_cast<int>(decay)) + " maximize " + std::to_string(maximize));
          AdamStepArgs args = base;
          args.amsgrad = amsgrad;
          args.decay = decay;
          args.maximize = maximize;
          f(dtype, args);
        }
}

}  // namespace sepal::testing
