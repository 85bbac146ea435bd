// adam.cpp: Adam and AdamW: options, lazy state, the per-parameter step counts and bias
// corrections (in double, as PyTorch's Python computes them), then one fused or per-tensor update
// per group (optim/fused.h).
#include "optim/adam.h"

#include <cmath>

#include "optim/fused.h"

namespace sepal::optim {

Adam::Adam(const AdamOptions& defaults) : Adam("Adam", false, to_options(defaults)) {}

Adam::Adam(const nn::NamedTensors& params, const AdamOptions& defaults) : Adam(defaults) {
  if (!params.empty()) add_param_group(params);
}

Adam::Adam(const std::vector<Tensor>& params, const AdamOptions& defaults) : Adam(defaults) {
  if (!params.empty()) add_param_group(params);
}

Adam::Adam(std::string type, bool decoupled, const Options& defaults)
    : Optimizer(std::move(type), option_specs<AdamOptions>(), defaults), decoupled_(decoupled) {
  check_defaults();
}

void Adam::add_param_group(const nn::NamedTensors& params, const AdamOptions& options) {
  add_group(params, to_options(options));
}

void Adam::add_param_group(const std::vector<Tensor>& params, const AdamOptions& options) {
  add_group(auto_named(params), to_options(options));
}

AdamW::AdamW(const AdamWOptions& defaults) : Adam("AdamW", true, to_options(defaults)) {}

AdamW::AdamW(const nn::NamedTensors& params, const AdamWOptions& defaults) : AdamW(defaults) {
  if (!params.empty()) add_param_group(params);
}

AdamW::AdamW(const std::vector<Tensor>& params, const AdamWOptions& defaults) : AdamW(defaults) {
  if (!params.empty()) add_param_group(params);
}

void AdamW::add_param_group(const nn::NamedTensors& params, const AdamWOptions& options) {
  add_group(params, to_options(options));
}

void AdamW::add_param_group(const std::vector<Tensor>& params, const AdamWOptions& options) {
  add_group(auto_named(params), to_options(options));
}

void Adam::check_options(const Options& options, const std::string& where) const {
  from_options<AdamOptions>(options, type(), where);
}

std::vector<std::string> Adam::known_buffers() const { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }

std::vector<std::string> Adam::required_buffers(const Options&) const {
  // max_exp_avg_sq is not required: amsgrad switched on after a save starts it at zero.
  return {"exp_avg", "exp_avg_sq"};
}

void Adam::step_group(const ParamGroup& group, std::vector<Active>& active) {
  const AdamOptions o = from_options<AdamOptions>(group.options(), type(), type() + ".step");
  const double lr = o.lr(), beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
  const double weight_decay = o.weight_decay();
  AdamStepArgs args;
  args.beta1 = beta1;
  args.beta2 = beta2;
  args.eps = o.eps();
  args.weight_decay = weight_decay;
  args.decay_factor = 1.0 - lr * weight_decay;
  args.amsgrad = o.amsgrad();
  args.maximize = o.maximize();
  args.decay = decoupled_ ? kernels::AdamDecay::Decoupled
                          : (weight_decay != 0.0 ? kernels::AdamDecay::L2 : kernels::AdamDecay::None);
  std::vector<AdamTensorSet> sets;
  std::vector<std::string> names;
  for (Active& a : active) {
    AdamTensorSet s;
    s.param = a.param;
    s.grad = a.grad;
    s.exp_avg = buffer_or_zeros(a, "exp_avg");
    s.exp_avg_sq = buffer_or_zeros(a, "exp_avg_sq");
    if (args.amsgrad) s.max_exp_avg_sq = buffer_or_zeros(a, "max_exp_avg_sq");
    const double step = static_cast<double>(++a.state->step);
    const double bias_correction1 = 1.0 - std::pow(beta1, step);
    const double bias_correction2 = 1.0 - std::pow(beta2, step);
    s.neg_step_size = -(lr / bias_correction1);
    s.bias_correction2_sqrt = std::sqrt(bias_correction2);
    sets.push_back(std::move(s));
    names.push_back(*a.name);
  }
  if (impl_ == AdamImpl::Fused) adam_step_fused(sets, args, names);
  else adam_step_per_tensor(sets, args);
}

}  // namespace sepal::optim
