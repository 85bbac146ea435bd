// adam.h: Adam and AdamW with PyTorch 1.13's exact single-tensor algorithm, per parameter:
//   step += 1 (a parameter first stepped late starts its bias correction at 1)
//   g = -grad when maximize; Adam: g += weight_decay * p (L2); AdamW: p *= 1 - lr * weight_decay
//   exp_avg = beta1 exp_avg + (1 - beta1) g;  exp_avg_sq = beta2 exp_avg_sq + (1 - beta2) g^2
//   amsgrad: max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq) (the raw average, as PyTorch does)
//   denom = sqrt(exp_avg_sq or max) / sqrt(1 - beta2^step) + eps
//   p -= lr / (1 - beta1^step) * exp_avg / denom
// Options (defaults): lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-8, weight_decay 0 (AdamW 1e-2),
// amsgrad false, maximize false. State per parameter: step, exp_avg, exp_avg_sq[, max_exp_avg_sq].
// The update runs fused (one multi-tensor backend kernel per group and device; the default) or
// per tensor from raw ops (the reference); both give the same bits.
#pragma once
#include "optim/optimizer.h"

namespace sepal::optim {

enum class AdamImpl : uint8_t { Fused, PerTensor };

class Adam : public Optimizer {
 public:
  explicit Adam(const nn::NamedTensors& params = {}, const Options& defaults = {});
  void set_implementation(AdamImpl impl) { impl_ = impl; }
  AdamImpl implementation() const { return impl_; }

 protected:
  Adam(std::string type, bool decoupled, const nn::NamedTensors& params, const Options& defaults);
  void step_group(const ParamGroup& group, std::vector<Active>& active) override;
  void check_options(const Options& options, const std::string& where) const override;
  std::vector<std::string> known_buffers() const override;
  std::vector<std::string> required_buffers(const Options& options) const override;

 private:
  bool decoupled_;
  AdamImpl impl_ = AdamImpl::Fused;
};

// Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr * weight_decay each step.
class AdamW : public Adam {
 public:
  explicit AdamW(const nn::NamedTensors& params = {}, const Options& defaults = {});
};

}  // namespace sepal::optim
