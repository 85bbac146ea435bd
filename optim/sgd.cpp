// sgd.cpp: SGD's update, tensor by tensor from raw ops, in PyTorch's order of operations.
#include "optim/sgd.h"

#include "tensor/raw.h"

namespace sepal::optim {

SGD::SGD(const nn::NamedTensors& params, const Options& defaults)
    : Optimizer("SGD",
                {{"lr", OptionKind::Real, std::nullopt},
                 {"momentum", OptionKind::Real, 0.0},
                 {"dampening", OptionKind::Real, 0.0},
                 {"weight_decay", OptionKind::Real, 0.0},
                 {"nesterov", OptionKind::Bool, 0.0},
                 {"maximize", OptionKind::Bool, 0.0}},
                defaults) {
  check_defaults();
  if (!params.empty()) add_param_group(params);
}

void SGD::check_options(const Options& o, const std::string& where) const {
  if (o.at("lr") < 0) throw Error(where + ": invalid learning rate " + std::to_string(o.at("lr")) + " (must be >= 0)");
  if (o.at("momentum") < 0) throw Error(where + ": invalid momentum " + std::to_string(o.at("momentum")) + " (must be >= 0)");
  if (o.at("weight_decay") < 0)
    throw Error(where + ": invalid weight_decay " + std::to_string(o.at("weight_decay")) + " (must be >= 0)");
  if (o.at("nesterov") != 0.0 && (o.at("momentum") <= 0 || o.at("dampening") != 0))
    throw Error(where + ": Nesterov momentum requires a momentum > 0 and zero dampening (momentum " +
                std::to_string(o.at("momentum")) + ", dampening " + std::to_string(o.at("dampening")) + ")");
}

void SGD::step_group(const ParamGroup& group, std::vector<Active>& active) {
  const double lr = group.lr(), momentum = group.option("momentum"), dampening = group.option("dampening");
  const double weight_decay = group.option("weight_decay");
  const bool nesterov = group.flag("nesterov"), maximize = group.flag("maximize");
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
