// fused_optim.h: the arguments of the backends' fused optimizer updates (Backend::adam_step).
// optim/fused.cpp validates them and calls the backend; the per-element math is
// tensor/kernels/optim_ops.h.
#pragma once
#include <vector>

#include "tensor/kernels/optim_ops.h"
#include "tensor/tensor.h"

namespace sepal {

// One parameter's tensors and its own scalars (its step count differs from its neighbours').
struct AdamTensorSet {
  Tensor param, grad, exp_avg, exp_avg_sq;
  Tensor max_exp_avg_sq;               // defined only with amsgrad
  double neg_step_size = 0.0;          // -lr / (1 - beta1^step)
  double bias_correction2_sqrt = 1.0;  // sqrt(1 - beta2^step)
};

// The options shared by every tensor of one call (one parameter group).
struct AdamStepArgs {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;  // used by AdamDecay::L2
  double decay_factor = 1.0;  // used by AdamDecay::Decoupled: 1 - lr * weight_decay
  bool amsgrad = false;
  bool maximize = false;
  kernels::AdamDecay decay = kernels::AdamDecay::None;
};

// The group scalars rounded once to T, as the per-tensor path rounds its scalar operands.
template <typename T>
kernels::AdamGroupScalars<T> adam_group_scalars(const AdamStepArgs& a) {
  return {T(a.beta1), T(1.0 - a.beta1), T(a.beta2), T(1.0 - a.beta2), T(a.eps), T(a.weight_decay),
          T(a.decay_factor)};
}
template <typename T>
kernels::AdamTensorScalars<T> adam_tensor_scalars(const AdamTensorSet& s) {
  return {T(s.neg_step_size), T(s.bias_correction2_sqrt)};
}

}  // namespace sepal
