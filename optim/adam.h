// adam.h: Adam and AdamW with PyTorch 1.13's exact single-tensor algorithm, per parameter:
//   step += 1 (a parameter first stepped late starts its bias correction at 1)
//   g = -grad when maximize; Adam: g += weight_decay * p (L2); AdamW: p *= 1 - lr * weight_decay
//   exp_avg = beta1 exp_avg + (1 - beta1) g;  exp_avg_sq = beta2 exp_avg_sq + (1 - beta2) g^2
//   amsgrad: max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq) (the raw average, as PyTorch does)
//   denom = sqrt(exp_avg_sq or max) / sqrt(1 - beta2^step) + eps
//   p -= lr / (1 - beta1^step) * exp_avg / denom
// Options: AdamOptions / AdamWOptions (optim/options.h; AdamW's weight_decay defaults to 1e-2).
// State per parameter: step, exp_avg, exp_avg_sq[, max_exp_avg_sq].
// The update runs fused (one multi-tensor backend kernel per group and device; the default) or
// per tensor from raw ops (the reference); both give the same bits.
//
//   optim::Adam opt(model->named_parameters(), optim::AdamOptions(1e-3).amsgrad(true));
//   optim::AdamW opt(std::vector<Tensor>{w, b}, optim::AdamWOptions().weight_decay(0.05));
#pragma once
#include "optim/optimizer.h"

namespace sepal::optim {

enum class AdamImpl : uint8_t { Fused, PerTensor };

class Adam : public Optimizer {
 public:
  // Without parameters (groups added later), with named ones, or with plain ones ("param.<k>").
  explicit Adam(const AdamOptions& defaults = AdamOptions());
  explicit Adam(const nn::NamedTensors& params, const AdamOptions& defaults = AdamOptions());
  explicit Adam(const std::vector<Tensor>& params, const AdamOptions& defaults = AdamOptions());

  using Optimizer::add_param_group;  // with the defaults
  void add_param_group(const nn::NamedTensors& params, const AdamOptions& options);
  void add_param_group(const std::vector<Tensor>& params, const AdamOptions& options);
  AdamOptions defaults() const { return typed_defaults<AdamOptions>(); }
  AdamOptions group_options(size_t group) const { return typed_options<AdamOptions>(group); }
  void set_group_options(size_t group, const AdamOptions& options) { replace_options(group, to_options(options)); }

  void set_implementation(AdamImpl impl) { impl_ = impl; }
  AdamImpl implementation() const { return impl_; }

 protected:
  Adam(std::string type, bool decoupled, const Options& defaults);
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
  explicit AdamW(const AdamWOptions& defaults = AdamWOptions());
  explicit AdamW(const nn::NamedTensors& params, const AdamWOptions& defaults = AdamWOptions());
  explicit AdamW(const std::vector<Tensor>& params, const AdamWOptions& defaults = AdamWOptions());

  using Optimizer::add_param_group;  // with the defaults
  void add_param_group(const nn::NamedTensors& params, const AdamWOptions& options);
  void add_param_group(const std::vector<Tensor>& params, const AdamWOptions& options);
  AdamWOptions defaults() const { return typed_defaults<AdamWOptions>(); }
  AdamWOptions group_options(size_t group) const { return typed_options<AdamWOptions>(group); }
  void set_group_options(size_t group, const AdamWOptions& options) { replace_options(group, to_options(options)); }
};

}  // namespace sepal::optim
