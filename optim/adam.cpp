// adam.cpp: Adam and AdamW: options, lazy state, the per-parameter step counts and bias
// corrections (in double, as PyTorch's Python computes them), then one fused or per-tensor update
// per group (optim/fused.h).
#include "optim/adam.h"

#include <cmath>

#include "optim/fused.h"

namespace sepal::optim {

namespace {

std::vector<OptionSpec> adam_specs(double weight_decay) {
  return {{"lr", OptionKind::Real, 1e-3},         {"beta1", OptionKind::Real, 0.9},
          {"beta2", OptionKind::Real, 0.999},     {"eps", OptionKind::Real, 1e-8},
          {"weight_decay", OptionKind::Real, weight_decay}, {"amsgrad", OptionKind::Bool, 0.0},
          {"maximize", OptionKind::Bool, 0.0}};
}

}  // namespace

Adam::Adam(const nn::NamedTensors& params, const Options& defaults) : Adam("Adam", false, params, defaults) {}

AdamW::AdamW(const nn::NamedTensors& params, const Options& defaults) : Adam("AdamW", true, params, defaults) {}

Adam::Adam(std::string type, bool decoupled, const nn::NamedTensors& params, const Options& defaults)
    : Optimizer(std::move(type), adam_specs(decoupled ? 1e-2 : 0.0), defaults), decoupled_(decoupled) {
  check_defaults();
  if (!params.empty()) add_param_group(params);
}

void Adam::check_options(const Options& o, const std::string& where) const {
  auto get = [&o](const char* name) { return o.at(name); };
  if (get("lr") < 0) throw Error(where + ": invalid learning rate " + std::to_string(get("lr")) + " (must be >= 0)");
  if (get("eps") < 0) throw Error(where + ": invalid eps " + std::to_string(get("eps")) + " (must be >= 0)");
  for (const char* b : {"beta1", "beta2"})
    if (!(get(b) >= 0 && get(b) < 1))
      throw Error(where + ": invalid " + b + " " + std::to_string(get(b)) + " (must be in [0, 1))");
  if (get("weight_decay") < 0)
    throw Error(where + ": invalid weight_decay " + std::to_string(get("weight_decay")) + " (must be >= 0)");
}

std::vector<std::string> Adam::known_buffers() const { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }

std::vector<std::string> Adam::required_buffers(const Options&) const {
  // max_exp_avg_sq is not required: amsgrad switched on after a save starts it at zero.
  return {"exp_avg", "exp_avg_sq"};
}

void Adam::step_group(const ParamGroup& group, std::vector<Active>& active) {
  const double lr = group.lr(), beta1 = group.option("beta1"), beta2 = group.option("beta2");
  const double weight_decay = group.option("weight_decay");
  AdamStepArgs args;
  args.beta1 = beta1;
  args.beta2 = beta2;
  args.eps = group.option("eps");
  args.weight_decay = weight_decay;
  args.decay_factor = 1.0 - lr * weight_decay;
  args.amsgrad = group.flag("amsgrad");
  args.maximize = group.flag("maximize");
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
