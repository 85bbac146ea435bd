// pooling.cpp: differentiable max_pool2d and adaptive_avg_pool2d (NCHW, or CHW treated as a batch
// of one), as torch.nn.functional. Each validates once, calls the backend and records its
// backward next to the forward; the window math lives in tensor/kernels/norm_pool.h.
#include <string>
#include <utility>

#include "autograd/nn_functions.h"
#include "autograd/node.h"
#include "tensor/error.h"
#include "tensor/kernels/norm_pool.h"
#include "tensor/raw.h"

namespace sepal {

namespace {

// "3" for a square pair, "[3, 2]" otherwise.
std::string pair_str(const std::array<int64_t, 2>& v) {
  return v[0] == v[1] ? std::to_string(v[0]) : shape_str({v[0], v[1]});
}

void check_pool_input(const char* op, const Tensor& input) {
  raw::check_defined(op, input, "input");
  if (input.dim() != 3 && input.dim() != 4)
    throw ShapeError(std::string(op) + ": expected input [N, C, H, W] or [C, H, W], got " + shape_str(input.shape()));
  if (!is_floating(input.dtype()))
    throw DTypeError(std::string(op) + ": expected a floating input (float32 or float64), got " +
                     dtype_name(input.dtype()));
  if (input.size(-1) == 0 || input.size(-2) == 0)
    throw ShapeError(std::string(op) + ": input " + shape_str(input.shape()) + " has an empty plane");
}

// Validates the options and returns the backend arguments.
Pool2dArgs max_pool_args(const MaxPool2dOptions& o) {
  const char* op = "max_pool2d";
  const std::string setting = " (kernel " + pair_str(o.kernel) + ", stride " + pair_str(o.stride) + ", padding " +
                              pair_str(o.padding) + ", dilation " + pair_str(o.dilation) + ")";
  Pool2dArgs a;
  a.ceil_mode = o.ceil_mode;
  for (int d = 0; d < 2; ++d) {
    if (o.kernel[d] <= 0 || o.stride[d] < 0 || o.padding[d] < 0 || o.dilation[d] <= 0)
      throw Error(std::string(op) + ": expected kernel > 0, stride >= 0 (0 = kernel), padding >= 0 and dilation > 0" +
                  setting);
    if (o.padding[d] > o.kernel[d] / 2)
      throw Error(std::string(op) + ": padding should be at most half of the kernel size" + setting);
    a.kernel[d] = o.kernel[d];
    a.stride[d] = o.stride[d] == 0 ? o.kernel[d] : o.stride[d];
    a.padding[d] = o.padding[d];
    a.dilation[d] = o.dilation[d];
  }
  return a;
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, const MaxPool2dOptions& options) {
  check_pool_input("max_pool2d", input);
  const Pool2dArgs a = max_pool_args(options);
  const int64_t H = input.size(-2), W = input.size(-1);
  const int64_t P = kernels::pool_output_size(H, a.kernel[0], a.stride[0], a.padding[0], a.dilation[0], a.ceil_mode);
  const int64_t Q = kernels::pool_output_size(W, a.kernel[1], a.stride[1], a.padding[1], a.dilation[1], a.ceil_mode);
  if (P <= 0 || Q <= 0)
    throw ShapeError("max_pool2d: output size would be " + (P == Q ? std::to_string(P) : shape_str({P, Q})) +
                     " for input " + shape_str(input.shape()) + " with kernel " + pair_str(options.kernel) +
                     ", stride " + pair_str({a.stride[0], a.stride[1]}) + ", padding " + pair_str(options.padding) +
                     ", dilation " + pair_str(options.dilation) + (a.ceil_mode ? ", ceil_mode" : ""));
  // with dilation a window can fall between the input's rows entirely; PyTorch reads out of bounds there
  for (int d = 0; d < 2; ++d) {
    const int64_t in = d == 0 ? H : W, out = d == 0 ? P : Q;
    for (int64_t o = 0; o < out; ++o) {
      const kernels::Taps t = kernels::max_pool_taps(o, in, a.kernel[d], a.stride[d], a.padding[d], a.dilation[d]);
      if (t.first >= t.end)
        throw ShapeError("max_pool2d: window " + std::to_string(o) + " along " + (d == 0 ? "H" : "W") +
                         " covers no input element for input " + shape_str(input.shape()) + " with kernel " +
                         pair_str(options.kernel) + ", padding " + pair_str(options.padding) + ", dilation " +
                         pair_str(options.dilation));
    }
  }

  if (input.dim() == 3) {  // validated against the caller's shape; pooled as a batch of one
    auto [out, indices] = max_pool2d_with_indices(input.unsqueeze(0), options);
    return {out.squeeze(0), raw::squeeze(indices, 0)};
  }
  const MemoryFormat format = raw::kernel_format(input);  // outputs and gradients in the input's layout
  const Tensor x = raw::contiguous(input, format);
  const Shape out_shape{input.size(0), input.size(1), P, Q};
  const TensorOptions out_options = TensorOptions().dtype(input.dtype()).device(input.device()).memory_format(format);
  Tensor out = empty(out_shape, out_options);
  Tensor indices = empty(out_shape, out_options.dtype(DType::Int64));
  if (out.numel() > 0) backend_for(input.device()).max_pool2d_forward(x, out, indices, a);
  if (!autograd::any_requires_grad({input})) return {out, indices};
  const Shape in_shape = input.shape();
  out = autograd::record("max_pool2d", out, {input}, [indices, in_shape, format](const Tensor& grad, const std::vector<bool>&) {
    Tensor grad_input = empty(in_shape, TensorOptions().dtype(grad.dtype()).device(grad.device()).memory_format(format));
    if (grad_input.numel() > 0)
      backend_for(grad.device()).max_pool2d_backward(raw::contiguous(grad, format), indices, grad_input);
    return std::vector<Tensor>{grad_input};
  });
  return {out, indices};
}

Tensor max_pool2d(const Tensor& input, const MaxPool2dOptions& options) {
  return max_pool2d_with_indices(input, options).first;
}

Tensor adaptive_avg_pool2d(const Tensor& input, std::array<int64_t, 2> output_size) {
  check_pool_input("adaptive_avg_pool2d", input);
  if (output_size[0] <= 0 || output_size[1] <= 0)
    throw ShapeError("adaptive_avg_pool2d: output size must be positive, got " + shape_str({output_size[0], output_size[1]}) +
                     " for input " + shape_str(input.shape()));
  if (input.dim() == 3) return adaptive_avg_pool2d(input.unsqueeze(0), output_size).squeeze(0);
  const MemoryFormat format = raw::kernel_format(input);
  const Tensor x = raw::contiguous(input, format);
  Tensor out = empty({input.size(0), input.size(1), output_size[0], output_size[1]},
                     TensorOptions().dtype(input.dtype()).device(input.device()).memory_format(format));
  if (out.numel() > 0) backend_for(input.device()).adaptive_avg_pool2d_forward(x, out);
  if (!autograd::any_requires_grad({input})) return out;
  const Shape in_shape = input.shape();
  return autograd::record("adaptive_avg_pool2d", out, {input}, [in_shape, format](const Tensor& grad, const std::vector<bool>&) {
    Tensor grad_input = empty(in_shape, TensorOptions().dtype(grad.dtype()).device(grad.device()).memory_format(format));
    if (grad_input.numel() > 0)
      backend_for(grad.device()).adaptive_avg_pool2d_backward(raw::contiguous(grad, format), grad_input);
    return std::vector<Tensor>{grad_input};
  });
}

}  // namespace sepal
