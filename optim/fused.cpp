// fused.cpp: validation and dispatch of the fused Adam step, and the per-tensor reference update
// composed from raw ops in the order of tensor/kernels/optim_ops.h.
#include "optim/fused.h"

#include <cstdint>
#include <map>
#include <utility>

#include "tensor/backend.h"
#include "tensor/raw.h"

namespace sepal::optim {

namespace {

std::string label(const std::vector<std::string>& names, size_t k) {
  return k < names.size() ? "'" + names[k] + "'" : "tensor set " + std::to_string(k);
}

std::string describe(const Tensor& t) {
  return std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) + " on " + t.device().str();
}

bool overlap(const Tensor& a, const Tensor& b) {
  if (a.numel() == 0 || b.numel() == 0 || a.device() != b.device()) return false;
  const char* pa = static_cast<const char*>(a.raw_data());
  const char* pb = static_cast<const char*>(b.raw_data());
  const int64_t na = a.numel() * static_cast<int64_t>(a.element_size());
  const int64_t nb = b.numel() * static_cast<int64_t>(b.element_size());
  return pa < pb + nb && pb < pa + na;
}

void check_set(const AdamTensorSet& s, const AdamStepArgs& args, const std::string& who) {
  const std::string where = "adam_step: " + who;
  if (!s.param.defined()) throw Error(where + ": the parameter is undefined");
  if (!is_floating(s.param.dtype())) throw DTypeError(where + ": the parameter is " + describe(s.param) + ", not floating");
  std::vector<std::pair<const char*, const Tensor*>> ops = {
      {"param", &s.param}, {"grad", &s.grad}, {"exp_avg", &s.exp_avg}, {"exp_avg_sq", &s.exp_avg_sq}};
  if (args.amsgrad) ops.push_back({"max_exp_avg_sq", &s.max_exp_avg_sq});
  for (const auto& [name, t] : ops) {
    if (!t->defined()) throw Error(where + ": " + name + " is undefined");
    if (t->shape() != s.param.shape() || t->dtype() != s.param.dtype() || t->device() != s.param.device())
      throw Error(where + ": " + name + " is " + describe(*t) + " but the parameter is " + describe(s.param));
    if (!t->is_contiguous()) throw Error(where + ": " + name + " must be contiguous, got strides " + shape_str(t->strides()));
  }
  for (size_t i = 0; i < ops.size(); ++i)
    for (size_t j = i + 1; j < ops.size(); ++j)
      if (overlap(*ops[i].second, *ops[j].second))
        throw Error(where + ": " + ops[i].first + " and " + ops[j].first + " overlap in memory");
}

}  // namespace

void adam_step_fused(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args,
                     const std::vector<std::string>& names) {
  // Partition by (device, dtype), keeping the order within each partition.
  std::map<std::pair<std::pair<int, int>, int>, std::vector<AdamTensorSet>> parts;
  for (size_t k = 0; k < sets.size(); ++k) {
    check_set(sets[k], args, label(names, k));
    const Tensor& p = sets[k].param;
    parts[{{static_cast<int>(p.device().type), p.device().index}, static_cast<int>(p.dtype())}].push_back(sets[k]);
  }
  for (auto& [key, part] : parts) backend_for(part.front().param.device()).adam_step(part, args);
  for (const AdamTensorSet& s : sets)
    for (const Tensor* t : {&s.param, &s.exp_avg, &s.exp_avg_sq, &s.max_exp_avg_sq})
      if (t->defined()) t->mark_modified();
}

void adam_step_per_tensor(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& a) {
  using kernels::AdamDecay;
  for (const AdamTensorSet& s : sets) {
    const Tensor& p = s.param;
    auto scalar = [&p](double v) { return raw::scalar_like(p, v); };
    Tensor g = s.grad;
    if (a.maximize) g = raw::unary(UnaryOp::Neg, g);
    if (a.decay == AdamDecay::L2) g = raw::binary(BinaryOp::Add, g, raw::unary(UnaryOp::MulScalar, p, {a.weight_decay}));
    if (a.decay == AdamDecay::Decoupled) raw::binary_(BinaryOp::Mul, p, scalar(a.decay_factor));
    raw::binary_(BinaryOp::Mul, s.exp_avg, scalar(a.beta1));
    raw::binary_(BinaryOp::Add, s.exp_avg, raw::unary(UnaryOp::MulScalar, g, {1.0 - a.beta1}));
    raw::binary_(BinaryOp::Mul, s.exp_avg_sq, scalar(a.beta2));
    raw::binary_(BinaryOp::Add, s.exp_avg_sq,
                 raw::binary(BinaryOp::Mul, raw::unary(UnaryOp::MulScalar, g, {1.0 - a.beta2}), g));
    Tensor second = s.exp_avg_sq;
    if (a.amsgrad) {
      raw::binary_(BinaryOp::Maximum, s.max_exp_avg_sq, s.exp_avg_sq);
      second = s.max_exp_avg_sq;
    }
    Tensor denom = raw::unary(UnaryOp::Sqrt, second);
    raw::binary_(BinaryOp::Div, denom, scalar(s.bias_correction2_sqrt));
    raw::binary_(BinaryOp::Add, denom, scalar(a.eps));
    Tensor update = raw::unary(UnaryOp::MulScalar, s.exp_avg, {s.neg_step_size});
    raw::binary_(BinaryOp::Div, update, denom);
    raw::binary_(BinaryOp::Add, p, update);
  }
}

}  // namespace sepal::optim
