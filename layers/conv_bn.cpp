// conv_bn.cpp: BatchNorm folded into the preceding convolution in eval mode, and the conv_bn_act
// unit (see conv_bn.h).
#include "layers/conv_bn.h"

#include <atomic>
#include <bit>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "tensor/profiler.h"

namespace sepal::nn {

namespace {

std::atomic<bool> folding_enabled{true};
std::atomic<uint64_t> fold_computations{0};

// What identifies the contents of the pair's six tensors and eps (conv_bn.h).
std::vector<uint64_t> fold_key(const Conv2d& conv, const BatchNorm2d& bn) {
  std::vector<uint64_t> key{std::bit_cast<uint64_t>(bn.eps)};
  for (const Tensor* t : {&conv.weight, &conv.bias, &bn.weight, &bn.bias, &bn.running_mean, &bn.running_var}) {
    key.push_back(t->defined() ? t->version() : 0);
    key.push_back(t->defined() ? reinterpret_cast<uintptr_t>(t->raw_data()) : 0);
  }
  return key;
}

// Folding applies in eval mode when no gradient reaches the pair's parameters and the shapes
// agree (otherwise the unfused path reports the mismatch as the modules always have).
bool can_fold(const Conv2d& conv, const BatchNorm2d& bn) {
  if (!conv_bn_folding() || bn.is_training()) return false;
  if (autograd::any_requires_grad({conv.weight, conv.bias, bn.weight, bn.bias})) return false;
  const int64_t K = conv.weight.size(0);
  for (const Tensor* t : {&bn.weight, &bn.bias, &bn.running_mean, &bn.running_var})
    if (!t->defined() || t->numel() != K || t->dtype() != conv.weight.dtype() || t->device() != conv.weight.device())
      return false;
  return true;
}

}  // namespace

void set_conv_bn_folding(bool enabled) { folding_enabled = enabled; }
bool conv_bn_folding() { return folding_enabled; }

uint64_t ConvBnFold::computations() { return fold_computations; }

ConvBnFold::Folded ConvBnFold::get(const Conv2d& conv, const BatchNorm2d& bn) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<uint64_t> key = fold_key(conv, bn);
  if (key == key_) return folded_;
  NoGradGuard no_grad;
  const int64_t K = conv.weight.size(0);
  const Tensor scale = bn.weight / (bn.running_var.reshape({K}) + bn.eps).sqrt();
  Tensor shift = conv.bias.defined() ? conv.bias.reshape({K}) - bn.running_mean.reshape({K})
                                     : -bn.running_mean.reshape({K});
  folded_ = {conv.weight * scale.reshape({K, 1, 1, 1}), bn.bias.reshape({K}) + shift * scale};
  key_ = std::move(key);
  ++fold_computations;
  return folded_;
}

Tensor conv_bn_act(const ModulePtr& conv, const ModulePtr& bn, ConvBnFold& fold, const Tensor& x,
                   const ModulePtr& act, const Tensor& residual) {
  const auto* c = dynamic_cast<const Conv2d*>(conv.get());
  const auto* b = dynamic_cast<const BatchNorm2d*>(bn.get());
  Tensor y;
  const bool fused_relu = act && dynamic_cast<const ReLU*>(act.get());
  if (c && b && can_fold(*c, *b)) {
    {  // the fold and the fused pass are the convolution's work in a profile (tensor/profiler.h)
      const profile::Scope scope(c->scope_name());
      const ConvBnFold::Folded f = fold.get(*c, *b);
      y = conv2d_fused(x, f.weight, f.bias, residual, fused_relu,
                       Conv2dOptions{c->spec.stride, c->spec.padding, c->spec.dilation, c->spec.groups});
    }
    return act && !fused_relu ? (*act)(y) : y;
  }
  // Otherwise (training mode): BatchNorm and a ReLU straight after it run as one pass
  // (batch_norm_relu), booked under the BatchNorm in a profile; with a residual in between, as modules.
  auto* b_mut = dynamic_cast<BatchNorm2d*>(bn.get());
  if (b_mut && fused_relu && !residual.defined() && conv_bn_folding()) {
    const Tensor z = (*conv)(x);
    const profile::Scope scope(b_mut->scope_name());
    return b_mut->forward_relu(z);
  }
  y = (*bn)((*conv)(x));
  if (residual.defined()) y = y + residual;
  return act ? (*act)(y) : y;
}

}  // namespace sepal::nn
