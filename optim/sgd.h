// sgd.h: SGD with momentum, dampening, Nesterov momentum, L2 weight decay and maximize, with
// PyTorch 1.13's exact single-tensor algorithm, per parameter:
//   d = -grad when maximize, else grad;  d += weight_decay * p
//   momentum != 0: buf = d on the first update (a copy, as PyTorch does), later
//                  buf = momentum buf + (1 - dampening) d;  d = nesterov ? d + momentum buf : buf
//   p -= lr d
// Options (defaults): lr (required), momentum 0, dampening 0, weight_decay 0, nesterov false,
// maximize false. Nesterov needs momentum > 0 and dampening 0. State per parameter: step (the
// updates applied) and momentum_buffer when momentum != 0.
#pragma once
#include "optim/optimizer.h"

namespace sepal::optim {

class SGD : public Optimizer {
 public:
  // `defaults` or every group must give "lr".
  explicit SGD(const nn::NamedTensors& params = {}, const Options& defaults = {});

 protected:
  void step_group(const ParamGroup& group, std::vector<Active>& active) override;
  void check_options(const Options& options, const std::string& where) const override;
  std::vector<std::string> known_buffers() const override { return {"momentum_buffer"}; }
  std::vector<std::string> required_buffers(const Options&) const override { return {}; }
};

}  // namespace sepal::optim
