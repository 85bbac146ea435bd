// profiling_backend.cpp: the Backend that backend_for() hands out while a profile::Session records
// on the calling thread: each call times itself (profile::OpTimer, named after the call, with the
// elementwise op's name for unary/binary/compare/reduce, "_bf16" for bfloat16 convolutions and
// matmuls) and forwards to the device's backend.
// Allocation and release are timed too ("allocate", "free") but never synchronise the device.
#include "tensor/profiling_backend.h"

#include <memory>
#include <mutex>
#include <unordered_map>

#include "tensor/profiler.h"

namespace sepal::profile {

namespace {

// bfloat16 convolutions and matmuls (autocast) are their own op kinds: "conv2d_forward_bf16".
const char* suffix(Precision precision) { return precision == Precision::BFloat16 ? "_bf16" : ""; }

class ProfilingBackend final : public Backend {
 public:
  explicit ProfilingBackend(Backend& inner) : in_(inner) {}

  void* allocate(size_t nbytes) override {
    OpTimer t(in_, "allocate", "", /*sync=*/false);
    return in_.allocate(nbytes);
  }
  void deallocate(void* ptr, size_t nbytes) override {
    OpTimer t(in_, "free", "", /*sync=*/false);
    in_.deallocate(ptr, nbytes);
  }
  void copy_from_host(void* dst, const void* src, size_t nbytes) override {
    OpTimer t(in_, "copy_from_host");
    in_.copy_from_host(dst, src, nbytes);
  }
  void copy_to_host(void* dst, const void* src, size_t nbytes) override {
    OpTimer t(in_, "copy_to_host");
    in_.copy_to_host(dst, src, nbytes);
  }
  void synchronize() override { in_.synchronize(); }
  bool takes_channels_last(DType dtype) const override { return in_.takes_channels_last(dtype); }

  void fill(const Tensor& out, double value) override {
    OpTimer t(in_, "fill");
    in_.fill(out, value);
  }
  void arange(const Tensor& out, double start, double step) override {
    OpTimer t(in_, "arange");
    in_.arange(out, start, step);
  }
  void random(const Tensor& out, const RandomArgs& args) override {
    OpTimer t(in_, "random");
    in_.random(out, args);
  }
  void copy(const Tensor& src, const Tensor& dst) override {
    OpTimer t(in_, "copy");
    in_.copy(src, dst);
  }
  void unary(UnaryOp op, const UnaryArgs& args, const Tensor& in, const Tensor& out) override {
    OpTimer t(in_, op_name(op));
    in_.unary(op, args, in, out);
  }
  void unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& grad, const Tensor& in, const Tensor& result,
                      const Tensor& grad_in) override {
    OpTimer t(in_, op_name(op), "_backward");
    in_.unary_backward(op, args, grad, in, result, grad_in);
  }
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override {
    OpTimer t(in_, op_name(op));
    in_.binary(op, a, b, out);
  }
  void binary_backward(BinaryOp op, int input, const Tensor& grad, const Tensor& a, const Tensor& b,
                       const Tensor& grad_in) override {
    OpTimer t(in_, op_name(op), "_backward");
    in_.binary_backward(op, input, grad, a, b, grad_in);
  }
  void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out) override {
    OpTimer t(in_, op_name(op));
    in_.compare(op, a, b, out);
  }
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override {
    OpTimer t(in_, "where");
    in_.where(cond, a, b, out);
  }
  void reduce_rows(ReduceOp op, const Tensor& in, const Tensor& out) override {
    OpTimer t(in_, op_name(op));
    in_.reduce_rows(op, in, out);
  }
  void matmul(const Tensor& a, const Tensor& bm, const Tensor& out, Precision precision) override {
    OpTimer t(in_, "matmul", suffix(precision));
    in_.matmul(a, bm, out, precision);
  }
  void conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args) override {
    OpTimer t(in_, "conv2d_forward", suffix(args.precision));
    in_.conv2d_forward(input, weight, out, args);
  }
  void conv2d_forward_fused(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args,
                           const ConvEpilogue& epilogue) override {
    OpTimer t(in_, "conv2d_forward_fused", suffix(args.precision));
    in_.conv2d_forward_fused(input, weight, out, args, epilogue);
  }
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_input,
                             const Conv2dArgs& args) override {
    OpTimer t(in_, "conv2d_backward_input", suffix(args.precision));
    in_.conv2d_backward_input(grad_out, weight, grad_input, args);
  }
  void conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Tensor& grad_weight,
                              const Conv2dArgs& args) override {
    OpTimer t(in_, "conv2d_backward_weight", suffix(args.precision));
    in_.conv2d_backward_weight(grad_out, input, grad_weight, args);
  }
  void batch_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                          const Tensor& running_var, const Tensor& out, const Tensor& save_mean,
                          const Tensor& save_invstd, const BatchNormArgs& args) override {
    OpTimer t(in_, "batch_norm_forward");
    in_.batch_norm_forward(input, weight, bias, running_mean, running_var, out, save_mean, save_invstd, args);
  }
  void batch_norm_backward(const Tensor& grad_out, const Tensor& input, const Tensor& weight, const Tensor& save_mean,
                           const Tensor& save_invstd, const Tensor& grad_input, const Tensor& grad_weight,
                           const Tensor& grad_bias, bool training, const Tensor& relu_output) override {
    OpTimer t(in_, "batch_norm_backward");
    in_.batch_norm_backward(grad_out, input, weight, save_mean, save_invstd, grad_input, grad_weight, grad_bias,
                            training, relu_output);
  }
  void max_pool2d_forward(const Tensor& input, const Tensor& out, const Tensor& indices,
                          const Pool2dArgs& args) override {
    OpTimer t(in_, "max_pool2d_forward");
    in_.max_pool2d_forward(input, out, indices, args);
  }
  void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_input) override {
    OpTimer t(in_, "max_pool2d_backward");
    in_.max_pool2d_backward(grad_out, indices, grad_input);
  }
  void adaptive_avg_pool2d_forward(const Tensor& input, const Tensor& out) override {
    OpTimer t(in_, "adaptive_avg_pool2d_forward");
    in_.adaptive_avg_pool2d_forward(input, out);
  }
  void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_input) override {
    OpTimer t(in_, "adaptive_avg_pool2d_backward");
    in_.adaptive_avg_pool2d_backward(grad_out, grad_input);
  }
  void adam_step(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args) override {
    OpTimer t(in_, "adam_step");
    in_.adam_step(sets, args);
  }

 private:
  Backend& in_;
};

}  // namespace

Backend& profiling_backend(Backend& device) {
  thread_local Backend* last_device = nullptr;
  thread_local Backend* last_wrapper = nullptr;
  if (&device == last_device) return *last_wrapper;
  // one wrapper per device backend for the life of the process (backends are never destroyed)
  static std::mutex mutex;
  static auto* wrappers = new std::unordered_map<Backend*, std::unique_ptr<ProfilingBackend>>;
  std::lock_guard<std::mutex> lock(mutex);
  auto& w = (*wrappers)[&device];
  if (!w) w = std::make_unique<ProfilingBackend>(device);
  last_device = &device;
  last_wrapper = w.get();
  return *w;
}

}  // namespace sepal::profile
