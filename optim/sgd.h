// sgd.h: SGD with momentum, dampening, Nesterov momentum, L2 weight decay and maximize, with
// PyTorch 1.13's exact single-tensor algorithm, per parameter:
//   d = -grad when maximize, else grad;  d += weight_decay * p
//   momentum != 0: buf = d on the first update (a copy, as PyTorch does), later
//                  buf = momentum buf + (1 - dampening) d;  d = nesterov ? d + momentum buf : buf
//   p -= lr d
// Options: SGDOptions (optim/options.h; lr required). Nesterov needs momentum > 0 and dampening 0.
// State per parameter: step (the updates applied) and momentum_buffer when momentum != 0.
//
//   optim::SGD opt(model->named_parameters(), optim::SGDOptions(0.1).momentum(0.9).nesterov(true));
#pragma once
#include "optim/optimizer.h"

namespace sepal::optim {

class SGD : public Optimizer {
 public:
  // Without parameters (groups added later), with named ones, or with plain ones ("param.<k>").
  explicit SGD(const SGDOptions& defaults);
  SGD(const nn::NamedTensors& params, const SGDOptions& defaults);
  SGD(const std::vector<Tensor>& params, const SGDOptions& defaults);

  using Optimizer::add_param_group;  // with the defaults
  void add_param_group(const nn::NamedTensors& params, const SGDOptions& options);
  void add_param_group(const std::vector<Tensor>& params, const SGDOptions& options);
  SGDOptions defaults() const { return typed_defaults<SGDOptions>(); }
  SGDOptions group_options(size_t group) const { return typed_options<SGDOptions>(group); }
  void set_group_options(size_t group, const SGDOptions& options) { replace_options(group, to_options(options)); }

 protected:
  void step_group(const ParamGroup& group, std::vector<Active>& active) override;
  void check_options(const Options& options, const std::string& where) const override;
  std::vector<std::string> known_buffers() const override { return {"momentum_buffer"}; }
  std::vector<std::string> required_buffers(const Options&) const override { return {}; }
};

}  // namespace sepal::optim
