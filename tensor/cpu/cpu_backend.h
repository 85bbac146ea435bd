// cpu_backend.h: the CPU backend class. Its kernels are defined by family across tensor/cpu/*.cpp
// (cpu_backend.cpp: memory, creation and elementwise; reduce.cpp; blas.cpp; conv_onednn.cpp and
// conv_im2col.cpp; norm.cpp; pool.cpp).
#pragma once
#include "tensor/backend.h"
#include "tensor/caching_allocator.h"

namespace sepal::cpu {

class CpuBackend final : public Backend {
 public:
  CpuBackend();
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t) override;
  void copy_from_host(void* dst, const void* src, size_t n) override;
  void copy_to_host(void* dst, const void* src, size_t n) override;
  void synchronize() override;
  bool takes_channels_last(DType) const override { return true; }  // every floating dtype
  void fill(const Tensor& out, double value) override;
  void arange(const Tensor& out, double start, double step) override;
  void random(const Tensor& out, const RandomArgs& a) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void unary(UnaryOp op, const UnaryArgs& args, const Tensor& in, const Tensor& out) override;
  void unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& grad, const Tensor& in, const Tensor& result, const Tensor& grad_in) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void binary_backward(BinaryOp op, int input, const Tensor& grad, const Tensor& a, const Tensor& b, const Tensor& grad_in) override;
  void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void reduce_rows(ReduceOp op, const Tensor& in, const Tensor& out) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out, Precision precision) override;
  // conv_onednn.cpp (float32 on oneDNN, float64 on conv_im2col.cpp)
  void conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args) override;
  void conv2d_forward_fused(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args,
                           const ConvEpilogue& epilogue) override;
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_input,
                             const Conv2dArgs& args) override;
  void conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Tensor& grad_weight,
                              const Conv2dArgs& args) override;
  // norm.cpp
  void batch_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                          const Tensor& running_var, const Tensor& out, const Tensor& save_mean,
                          const Tensor& save_invstd, const BatchNormArgs& args) override;
  void batch_norm_backward(const Tensor& grad_out, const Tensor& input, const Tensor& weight, const Tensor& save_mean,
                           const Tensor& save_invstd, const Tensor& grad_input, const Tensor& grad_weight,
                           const Tensor& grad_bias, bool training, const Tensor& relu_output) override;
  // pool.cpp
  void max_pool2d_forward(const Tensor& input, const Tensor& out, const Tensor& indices, const Pool2dArgs& args) override;
  void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_input) override;
  void adaptive_avg_pool2d_forward(const Tensor& input, const Tensor& out) override;
  void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_input) override;
  // optim.cpp
  void adam_step(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args) override;

 private:
  CachingAllocator allocator_;
};

}  // namespace sepal::cpu
