// backend.h: the interface every device backend implements. Every method is pure virtual, so a
// backend that lacks a kernel does not compile. The raw ops (tensor/raw.h) validate arguments,
// allocate outputs and call these; kernels may assume the documented preconditions.
//
// Common preconditions: all tensors are on this backend's device; outputs are freshly allocated
// and contiguous unless stated otherwise; inputs may have any strides (including 0 strides from
// broadcasting/expand) and their shape equals the output's shape (the raw layer expands them).
#pragma once
#include <cstddef>
#include <cstdint>

#include "tensor/error.h"
#include "tensor/fused_optim.h"
#include "tensor/kernels/elementwise_ops.h"
#include "tensor/kernels/philox.h"
#include "tensor/precision.h"
#include "tensor/tensor.h"

namespace sepal {

#define SEPAL_ENUM_ENTRY(Name, ...) Name,
enum class UnaryOp : uint8_t { SEPAL_UNARY_OPS(SEPAL_ENUM_ENTRY) };
enum class BinaryOp : uint8_t { SEPAL_BINARY_OPS(SEPAL_ENUM_ENTRY) };
enum class CompareOp : uint8_t { SEPAL_COMPARE_OPS(SEPAL_ENUM_ENTRY) };
#undef SEPAL_ENUM_ENTRY
const char* op_name(UnaryOp op);
const char* op_name(BinaryOp op);
const char* op_name(CompareOp op);

enum class ReduceOp : uint8_t { Sum, Mean, Max, Min, ArgMax, ArgMin };
const char* op_name(ReduceOp op);

// Scalar arguments of parameterised unary ops, in double; kernels convert to the dtype.
struct UnaryArgs {
  double a = 0.0;
  double b = 0.0;
};

struct RandomArgs {
  kernels::RandomKind kind;
  uint64_t seed;
  uint64_t offset;
  double a, b;
};

// Convolution geometry. NCHW: N batch, C channels, H height, W width; weights [K, C/groups, R, S].
struct Conv2dArgs {
  int64_t stride[2] = {1, 1};
  int64_t padding[2] = {0, 0};
  int64_t dilation[2] = {1, 1};
  int64_t groups = 1;
  Precision precision = Precision::Float32;  // BFloat16: operands rounded, float32 accumulation
};

// What a fused convolution applies to each output element after the convolution, in this order:
// + bias[k] (a [K] tensor, when defined), + residual (out's shape, when defined), then ReLU.
struct ConvEpilogue {
  Tensor bias, residual;
  bool relu = false;
  // The epilogue's kind (which parts it has), for plan caches: 0..7.
  int64_t kind() const { return (bias.defined() ? 1 : 0) | (residual.defined() ? 2 : 0) | (relu ? 4 : 0); }
};

struct BatchNormArgs {
  bool training = true;
  double momentum = 0.1;
  double eps = 1e-5;
  bool relu = false;  // out = relu(normalised): BatchNorm and the ReLU after it in one pass
};

// Pooling window; out = floor_or_ceil((in + 2 pad - dilation (kernel - 1) - 1) / stride) + 1.
struct Pool2dArgs {
  int64_t kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1};
  int64_t padding[2] = {0, 0};
  int64_t dilation[2] = {1, 1};
  bool ceil_mode = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // ---- memory ----
  virtual void* allocate(size_t nbytes) = 0;  // never null; throws on failure
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  virtual void copy_from_host(void* dst, const void* host_src, size_t nbytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t nbytes) = 0;
  virtual void synchronize() = 0;

  // ---- creation ----
  virtual void fill(const Tensor& out, double value) = 0;            // out: any strides
  virtual void arange(const Tensor& out, double start, double step) = 0;
  virtual void random(const Tensor& out, const RandomArgs& args) = 0;  // out[i] = RandomFill(i)

  // ---- elementwise ----
  // dst[i] = cast(src[i]); dst may have any (non-overlapping) strides and any dtype.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  // out = op(in); floating dtypes.
  virtual void unary(UnaryOp op, const UnaryArgs& args, const Tensor& in, const Tensor& out) = 0;
  // grad_in = grad * op'(in, result); floating dtypes.
  virtual void unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& grad,
                              const Tensor& in, const Tensor& result, const Tensor& grad_in) = 0;
  // out = op(a, b); arithmetic dtypes. out may alias a (in-place update) when a is contiguous.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // grad_in = d op / d (a if input == 0 else b) for upstream grad; floating dtypes.
  virtual void binary_backward(BinaryOp op, int input, const Tensor& grad, const Tensor& a,
                               const Tensor& b, const Tensor& grad_in) = 0;
  virtual void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // ---- reductions ----
  // in: contiguous [rows, n] with n >= 1; out: contiguous [rows] (int64 for ArgMax/ArgMin).
  virtual void reduce_rows(ReduceOp op, const Tensor& in, const Tensor& out) = 0;

  // ---- linear algebra ----
  // out[b] = a[b] @ bm[b] for 3-D tensors [batch, m, k] @ [batch, k, n] -> [batch, m, n];
  // a and bm may be transposed views (either of their last two strides equal to 1). BFloat16
  // precision (float32 operands only) rounds a and bm to bfloat16 and accumulates in float32.
  virtual void matmul(const Tensor& a, const Tensor& bm, const Tensor& out, Precision precision) = 0;

  // ---- layouts ----
  // Whether the convolution, batch normalisation and pooling kernels below take channels-last
  // activations (MemoryFormat::ChannelsLast) of `dtype`. When they do, the ops pass every
  // activation of a call (input, output, their gradients, a residual) in one format, NCHW or
  // channels-last; when they do not, the ops pass row-major copies and return row-major results.
  virtual bool takes_channels_last(DType dtype) const = 0;

  // ---- convolution (floating dtypes; every tensor dense and non-empty: weights row-major,
  // activations in one format as takes_channels_last says) ----
  // The arguments are valid (autograd/conv.cpp checks them): P = (H + 2 pad - dil (R - 1) - 1) /
  // stride + 1 >= 1 (Q likewise), C and K divisible by groups; no tensor aliases another.
  // out [N, K, P, Q] = conv(input [N, C, H, W], weight [K, C/groups, R, S]); no bias.
  virtual void conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out,
                              const Conv2dArgs& args) = 0;
  // out = epilogue(conv(input, weight)), for inference (no backward follows): bias, residual and
  // ReLU applied as ConvEpilogue says, in one pass where the backend can (oneDNN post-ops). The
  // epilogue's tensors are dense (bias [K], residual in out's format), of input's dtype and
  // device; residual does not alias out.
  virtual void conv2d_forward_fused(const Tensor& input, const Tensor& weight, const Tensor& out,
                                    const Conv2dArgs& args, const ConvEpilogue& epilogue) = 0;
  // grad_input [N, C, H, W] from grad_out [N, K, P, Q] and weight (overwrites grad_input).
  virtual void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight,
                                     const Tensor& grad_input, const Conv2dArgs& args) = 0;
  // grad_weight [K, C/groups, R, S] from grad_out and input (overwrites grad_weight).
  virtual void conv2d_backward_weight(const Tensor& grad_out, const Tensor& input,
                                      const Tensor& grad_weight, const Conv2dArgs& args) = 0;

  // ---- batch normalisation over dims (N, H, W) of a dense [N, C, H, W] (or contiguous [N, C]) ----
  // training: normalises with the batch mean and biased variance, writes them to save_mean and
  // save_invstd = 1/sqrt(var + eps), and, when running_mean/var are defined, updates them in place
  // with momentum (running_var with the unbiased variance). eval: uses the running statistics
  // (save_mean/save_invstd receive them). weight/bias [C] may be undefined (1 and 0).
  virtual void batch_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var,
                                  const Tensor& out, const Tensor& save_mean,
                                  const Tensor& save_invstd, const BatchNormArgs& args) = 0;
  // Gradients for input, weight and bias; an undefined output tensor is not computed. In eval
  // mode the statistics are constants (grad_input = grad_out * weight * invstd). relu_output,
  // when defined, is the output of a forward with BatchNormArgs::relu: grad_out counts only where
  // it is positive (ReLU's gradient, applied in the same pass).
  virtual void batch_norm_backward(const Tensor& grad_out, const Tensor& input, const Tensor& weight,
                                   const Tensor& save_mean, const Tensor& save_invstd,
                                   const Tensor& grad_input, const Tensor& grad_weight,
                                   const Tensor& grad_bias, bool training, const Tensor& relu_output) = 0;

  // ---- pooling (dense NCHW or channels-last, as takes_channels_last says) ----
  // indices (int64, out's shape): position h * W + w of each maximum within its input plane.
  // Requires padding <= kernel / 2 and every window to cover at least one input element (the op
  // checks both); padded positions never win, NaN propagates.
  virtual void max_pool2d_forward(const Tensor& input, const Tensor& out, const Tensor& indices,
                                  const Pool2dArgs& args) = 0;
  // grad_input (overwritten) accumulates grad_out at the recorded positions.
  virtual void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices,
                                   const Tensor& grad_input) = 0;
  // PyTorch's adaptive windows: output cell i covers [floor(i*H/P), ceil((i+1)*H/P)).
  virtual void adaptive_avg_pool2d_forward(const Tensor& input, const Tensor& out) = 0;
  virtual void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_input) = 0;

  // ---- fused optimizer updates (tensor/fused_optim.h; optim/fused.cpp validates) ----
  // One Adam/AdamW step of every set in `sets`, in place: param, exp_avg, exp_avg_sq (and
  // max_exp_avg_sq with amsgrad) are updated as tensor/kernels/optim_ops.h says. Requires: every
  // tensor contiguous, floating, of one dtype, on this device; the tensors of a set have one
  // shape and do not overlap. Ensures: the result equals the per-tensor update bit for bit.
  virtual void adam_step(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args) = 0;
};

// The backend for a device; throws DeviceError when the device is unavailable.
Backend& backend_for(Device device);

}  // namespace sepal
