// batch_norm.cpp: differentiable batch normalisation, as torch.nn.functional.batch_norm. Validates
// once, calls the backend's forward (which in training also updates the running statistics in
// place: a buffer update, outside any graph) and records the backward next to it. Gradients flow
// to input, weight and bias; the running statistics are buffers and receive none. batch_norm_relu
// is the same followed by ReLU, in the same passes over memory (BatchNormArgs::relu): its backward
// masks the gradient by the saved output inside the BatchNorm backward.
#include <string>

#include "autograd/nn_functions.h"
#include "autograd/node.h"
#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal {

namespace {

constexpr const char* kOp = "batch_norm";

// A per-channel tensor must be on input's device, in its dtype, with one element per channel.
void check_per_channel(const Tensor& t, const char* what, const Tensor& input) {
  if (!t.defined()) return;
  raw::check_same_device(kOp, input, t);
  raw::check_same_dtype(kOp, input, t);
  if (t.numel() != input.size(1))
    throw ShapeError(std::string(kOp) + ": " + what + " has " + std::to_string(t.numel()) + " elements but input has " +
                     std::to_string(input.size(1)) + " channels (input " + shape_str(input.shape()) + ")");
}

// A contiguous [C] tensor with t's values (t itself when already so); undefined stays undefined.
Tensor per_channel(const Tensor& t, int64_t channels) {
  return t.defined() ? raw::reshape(raw::contiguous(t), {channels}) : t;
}

Tensor batch_norm_impl(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps,
                       bool relu) {
  raw::check_defined(kOp, input, "input");
  if (input.dim() != 2 && input.dim() != 4)
    throw ShapeError(std::string(kOp) + ": expected input [N, C] or [N, C, H, W], got " + shape_str(input.shape()));
  if (!is_floating(input.dtype()))
    throw DTypeError(std::string(kOp) + ": expected a floating input (float32 or float64), got " +
                     dtype_name(input.dtype()));
  check_per_channel(weight, "weight", input);
  check_per_channel(bias, "bias", input);
  check_per_channel(running_mean, "running_mean", input);
  check_per_channel(running_var, "running_var", input);
  const int64_t channels = input.size(1);
  const int64_t per_channel_count = input.size(0) * (input.dim() == 4 ? input.size(2) * input.size(3) : 1);
  if (training && per_channel_count <= 1)
    throw ShapeError(std::string(kOp) + ": expected more than 1 value per channel when training, got input " +
                     shape_str(input.shape()));
  if (!training && (!running_mean.defined() || !running_var.defined()))
    throw Error(std::string(kOp) + ": eval mode (training = false) needs running_mean and running_var (input " +
                shape_str(input.shape()) + ")");
  if (!(eps > 0.0) || !(momentum >= 0.0 && momentum <= 1.0))
    throw Error(std::string(kOp) + ": expected eps > 0 and momentum in [0, 1], got eps " + std::to_string(eps) +
                " and momentum " + std::to_string(momentum));

  const MemoryFormat format = raw::kernel_format(input);  // channels-last stays channels-last on the CPU
  const Tensor x = raw::contiguous(input, format);
  const Tensor w = per_channel(weight, channels), b = per_channel(bias, channels);
  // The backend updates the running statistics in place: through a view of their own storage when
  // they are contiguous, else in a copy written back below.
  const Tensor rm = per_channel(running_mean, channels), rv = per_channel(running_var, channels);
  const TensorOptions options = TensorOptions().dtype(input.dtype()).device(input.device());
  Tensor out = empty(x.shape(), options.memory_format(format));
  Tensor save_mean = empty({channels}, options), save_invstd = empty({channels}, options);
  backend_for(input.device()).batch_norm_forward(x, w, b, rm, rv, out, save_mean, save_invstd,
                                                 BatchNormArgs{training, momentum, eps, relu});
  if (training) {
    if (rm.defined()) rm.mark_modified();  // the backend updated them in place
    if (rv.defined()) rv.mark_modified();
    if (running_mean.defined() && !running_mean.is_contiguous()) raw::copy_(running_mean, raw::reshape(rm, running_mean.shape()));
    if (running_var.defined() && !running_var.is_contiguous()) raw::copy_(running_var, raw::reshape(rv, running_var.shape()));
  }

  if (!autograd::any_requires_grad({input, weight, bias})) return out;
  const Shape weight_shape = weight.defined() ? weight.shape() : Shape{};
  const Shape bias_shape = bias.defined() ? bias.shape() : Shape{};
  const Tensor relu_output = relu ? out.detach() : Tensor();  // detached: the node must not own its output
  return autograd::record(
      relu ? "batch_norm_relu" : kOp, out, {input, weight, bias},
      [x, w, save_mean, save_invstd, training, channels, weight_shape, bias_shape, format,
       relu_output](const Tensor& grad, const std::vector<bool>& needs) {
        const TensorOptions options = TensorOptions().dtype(x.dtype()).device(x.device());
        std::vector<Tensor> grads(3);
        if (needs[0]) grads[0] = empty(x.shape(), options.memory_format(format));
        if (needs[1]) grads[1] = empty({channels}, options);
        if (needs[2]) grads[2] = empty({channels}, options);
        backend_for(x.device()).batch_norm_backward(raw::contiguous(grad, format), x, w, save_mean, save_invstd, grads[0],
                                                    grads[1], grads[2], training, relu_output);
        if (needs[1]) grads[1] = raw::reshape(grads[1], weight_shape);
        if (needs[2]) grads[2] = raw::reshape(grads[2], bias_shape);
        return grads;
      });
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  return batch_norm_impl(input, running_mean, running_var, weight, bias, training, momentum, eps, false);
}

Tensor batch_norm_relu(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  return batch_norm_impl(input, running_mean, running_var, weight, bias, training, momentum, eps, true);
}

}  // namespace sepal
