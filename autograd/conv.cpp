// conv.cpp: differentiable 2-D convolution (cross-correlation, as torch.nn.functional.conv2d).
// NCHW: input [N, C, H, W], weight [K, C/groups, R, S], bias [K] -> out [N, K, P, Q] with
// P = (H + 2 pad_h - dil_h (R - 1) - 1) / stride_h + 1 (Q likewise). Validation happens once
// here; the backend kernels (conv2d_forward / _backward_input / _backward_weight) then assume
// contiguous, valid operands. The bias is added here, once for every backend; its gradient is
// the output gradient summed over (N, P, Q). Under bf16 autocast (autograd/autocast.h) the three
// passes compute in bfloat16 with float32 accumulation; the bias add stays float32.
#include <string>

#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/nn_functions.h"
#include "autograd/node.h"
#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal {

namespace {

std::string conv_shapes(const Tensor& input, const Tensor& weight) {
  return "(input " + shape_str(input.shape()) + ", weight " + shape_str(weight.shape()) + ")";
}

std::string pair_str(const std::array<int64_t, 2>& v) {
  return "[" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + "]";
}

// Checks every argument and returns the output shape [N, K, P, Q].
Shape conv2d_output_shape(const Tensor& input, const Tensor& weight, const Tensor& bias,
                          const Conv2dOptions& o) {
  raw::check_defined("conv2d", input, "input");
  raw::check_defined("conv2d", weight, "weight");
  if (input.dim() != 4)
    throw ShapeError("conv2d: expected a 4-D input [N, C, H, W], got " + shape_str(input.shape()));
  if (weight.dim() != 4)
    throw ShapeError("conv2d: expected a 4-D weight [K, C/groups, R, S], got " + shape_str(weight.shape()));
  raw::check_same_device("conv2d", input, weight);
  raw::check_same_dtype("conv2d", input, weight);
  if (!is_floating(input.dtype()))
    throw DTypeError(std::string("conv2d: expected floating tensors (float32 or float64), got ") +
                     dtype_name(input.dtype()) + " " + conv_shapes(input, weight));
  const std::string shapes = conv_shapes(input, weight);
  if (o.groups < 1) throw Error("conv2d: groups must be positive, got " + std::to_string(o.groups) + " " + shapes);
  for (int i = 0; i < 2; ++i) {
    if (o.stride[i] < 1) throw Error("conv2d: stride must be positive, got " + pair_str(o.stride) + " " + shapes);
    if (o.dilation[i] < 1)
      throw Error("conv2d: dilation must be positive, got " + pair_str(o.dilation) + " " + shapes);
    if (o.padding[i] < 0)
      throw Error("conv2d: padding must be non-negative, got " + pair_str(o.padding) + " " + shapes);
  }
  const int64_t C = input.size(1), K = weight.size(0);
  if (C % o.groups != 0)
    throw ShapeError("conv2d: input channels " + std::to_string(C) + " are not divisible by groups " +
                     std::to_string(o.groups) + " " + shapes);
  if (K % o.groups != 0)
    throw ShapeError("conv2d: output channels " + std::to_string(K) + " are not divisible by groups " +
                     std::to_string(o.groups) + " " + shapes);
  if (weight.size(1) * o.groups != C)
    throw ShapeError("conv2d: input has " + std::to_string(C) + " channels but weight expects " +
                     std::to_string(weight.size(1) * o.groups) + " " + shapes);
  Shape out{input.size(0), K, 0, 0};
  for (int i = 0; i < 2; ++i) {
    const int64_t in = input.size(2 + i), kernel = weight.size(2 + i);
    const int64_t span = o.dilation[i] * (kernel - 1) + 1;  // the dilated kernel's extent
    const int64_t padded = in + 2 * o.padding[i];
    if (kernel < 1 || padded < span)
      throw ShapeError("conv2d: the kernel (" + std::to_string(span) + " with dilation) is larger than the padded input (" +
                       std::to_string(padded) + ") in dim " + std::to_string(2 + i) + ", so the output would be empty " +
                       shapes);
    out[2 + i] = (padded - span) / o.stride[i] + 1;
  }
  if (bias.defined()) {
    raw::check_same_device("conv2d", input, bias);
    raw::check_same_dtype("conv2d", input, bias);
    if (bias.dim() != 1 || bias.size(0) != K)
      throw ShapeError("conv2d: bias must have shape [" + std::to_string(K) + "], got " +
                       shape_str(bias.shape()) + " " + shapes);
  }
  return out;
}

// The backend's arguments, in the precision autocast asks for input (autograd/autocast.h).
Conv2dArgs backend_args(const Tensor& input, const Conv2dOptions& options) {
  Conv2dArgs args;
  for (int i = 0; i < 2; ++i) {
    args.stride[i] = options.stride[i];
    args.padding[i] = options.padding[i];
    args.dilation[i] = options.dilation[i];
  }
  args.groups = options.groups;
  args.precision = Autocast::for_tensor(input);  // kept by the backward closure with the rest
  return args;
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options) {
  const Shape out_shape = conv2d_output_shape(input, weight, bias, options);
  const Conv2dArgs args = backend_args(input, options);

  // the output and every gradient in the input's layout where the backend takes it (raw::kernel_format)
  const MemoryFormat format = raw::kernel_format(input);
  const Tensor x = raw::contiguous(input, format), w = raw::contiguous(weight);
  Backend& backend = backend_for(x.device());
  Tensor out = empty(out_shape, TensorOptions().dtype(x.dtype()).device(x.device()).memory_format(format));
  if (out.numel() > 0) {
    if (x.numel() == 0) raw::fill_(out, 0.0);  // C == 0: an empty sum
    else backend.conv2d_forward(x, w, out, args);
  }
  if (bias.defined() && out.numel() > 0) raw::binary_(BinaryOp::Add, out, raw::reshape(bias, {1, out_shape[1], 1, 1}));

  Tensor x_saved = x.detach(), w_saved = w.detach();  // detached: the closure must not own graph nodes
  return autograd::record("conv2d", out, {input, weight, bias},
                          [x_saved, w_saved, args, format](const Tensor& grad, const std::vector<bool>& needs) {
    std::vector<Tensor> grads(3);
    const Tensor g = raw::contiguous(grad, format);
    Backend& be = backend_for(g.device());
    const bool empty_pass = g.numel() == 0 || x_saved.numel() == 0 || w_saved.numel() == 0;
    if (needs[0]) {
      grads[0] = empty(x_saved.shape(), TensorOptions().dtype(g.dtype()).device(g.device()).memory_format(format));
      if (empty_pass) raw::fill_(grads[0], 0.0);
      else be.conv2d_backward_input(g, w_saved, grads[0], args);
    }
    if (needs[1]) {
      grads[1] = empty(w_saved.shape(), TensorOptions().dtype(g.dtype()).device(g.device()));
      if (empty_pass) raw::fill_(grads[1], 0.0);
      else be.conv2d_backward_weight(g, x_saved, grads[1], args);
    }
    if (needs[2]) grads[2] = raw::reduce(ReduceOp::Sum, g, {0, 2, 3}, false);
    return grads;
  });
}

Tensor conv2d_fused(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& residual, bool relu,
                    const Conv2dOptions& options) {
  const Shape out_shape = conv2d_output_shape(input, weight, bias, options);
  if (residual.defined()) {
    raw::check_same_device("conv2d_fused", input, residual);
    raw::check_same_dtype("conv2d_fused", input, residual);
    if (residual.shape() != out_shape)
      throw ShapeError("conv2d_fused: residual " + shape_str(residual.shape()) + " does not match the output " +
                       shape_str(out_shape) + " " + conv_shapes(input, weight));
  }
  const MemoryFormat format = raw::kernel_format(input);
  const Tensor x = raw::contiguous(input, format);
  // With gradients (or an empty input, C == 0, which the backends do not take), the composition.
  if (autograd::any_requires_grad({input, weight, bias, residual}) || x.numel() == 0) {
    Tensor out = conv2d(input, weight, bias, options);
    if (residual.defined()) out = out + residual;
    return relu ? out.relu() : out;
  }
  Tensor out = empty(out_shape, TensorOptions().dtype(x.dtype()).device(x.device()).memory_format(format));
  if (out.numel() == 0) return out;
  const ConvEpilogue epilogue{bias.defined() ? raw::contiguous(bias) : bias,
                              residual.defined() ? raw::contiguous(residual, format) : residual, relu};
  backend_for(x.device()).conv2d_forward_fused(x, raw::contiguous(weight), out, backend_args(input, options), epilogue);
  return out;
}

}  // namespace sepal
