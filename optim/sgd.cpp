// sgd.cpp: SGD's update, tensor by tensor from raw ops, in PyTorch's order of operations.
#include "optim/sgd.h"

#include "tensor/raw.h"

namespace sepal::optim {

SGD::SGD(const SGDOptions& defaults) : Optimizer("SGD", option_specs<SGDOptions>(), to_options(defaults)) {
  check_defaults();
}

SGD::SGD(const nn::NamedTensors& params, const SGDOptions& defaults) : SGD(defaults) {
  if (!params.empty()) add_param_group(params);
}

SGD::SGD(const std::vector<Tensor>& params, const SGDOptions& defaults) : SGD(defaults) {
  if (!params.empty()) add_param_group(params);
}

void SGD::add_param_group(const nn::NamedTensors& params, const SGDOptions& options) {
  add_group(params, to_options(options));
}

void SGD::add_param_group(const std::vector<Tensor>& params, const SGDOptions& options) {
  add_group(auto_named(params), to_options(options));
}

void SGD::check_options(const Options& options, const std::string& where) const {
  from_options<SGDOptions>(options, type(), where);
}

void SGD::step_group(const ParamGroup& group, std::vector<Active>& active) {
  const SGDOptions o = from_options<SGDOptions>(group.options(), type(), type() + ".step");
  const double lr = o.lr(), momentum = o.momentum(), dampening = o.dampening(), weight_decay = o.weight_decay();
  const bool nesterov = o.nesterov(), maximize = o.maximize();
  for (Active& a : active) {
    const Tensor& p = a.param;
    Tensor d = a.grad;
    if (maximize) d = raw::unary(UnaryOp::Neg, d);
    if (weight_decay != 0.0) d = raw::binary(BinaryOp::Add, d, raw::unary(UnaryOp::MulScalar, p, {weight_decay}));
    if (momentum != 0.0) {
      Tensor* buf = a.state->find("momentum_buffer");
      if (!buf) {
        a.state->set("momentum_buffer", raw::clone(d));
        buf = a.state->find("momentum_buffer");
      } else {
        raw::binary_(BinaryOp::Mul, *buf, raw::scalar_like(*buf, momentum));
        raw::binary_(BinaryOp::Add, *buf, raw::unary(UnaryOp::MulScalar, d, {1.0 - dampening}));
      }
      d = nesterov ? raw::binary(BinaryOp::Add, d, raw::unary(UnaryOp::MulScalar, *buf, {momentum})) : *buf;
    }
    raw::binary_(BinaryOp::Add, p, raw::unary(UnaryOp::MulScalar, d, {-lr}));
    ++a.state->step;
  }
}

}  // namespace sepal::optim
