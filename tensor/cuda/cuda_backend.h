// cuda_backend.h: the CUDA backend class, one instance per device. Its methods are split by
// purpose across tensor/cuda/*.cu: cuda_backend.cu (registry, memory, creation), copy.cu,
// unary.cu, binary.cu (elementwise), reduce.cu (row reductions), blas.cu (cuBLAS matmul),
// norm.cu (batch normalisation), pool.cu (pooling), conv.cu (cuDNN convolution).
// Every method makes its device current (DeviceGuard) and runs on the legacy default stream
// (handles.h: compute_stream()), so work on one device is ordered and a synchronous cudaMemcpy
// sees every earlier kernel. cuBLAS and cuDNN handles are per thread (handles.h).
#pragma once
#include "tensor/backend.h"
#include "tensor/caching_allocator.h"

namespace sepal {
// The entry points tensor/device.cpp calls (defined in cuda_backend.cu).
Backend& cuda_backend(int index);
int cuda_backend_device_count();  // 0 when there is no driver or no device
}  // namespace sepal

namespace sepal::cuda {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index);
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  int index() const { return index_; }
  Device device() const { return Device::cuda(index_); }

  // ---- memory (cuda_backend.cu) ----
  void* allocate(size_t nbytes) override;  // throws CudaError when out of memory
  // As allocate, but null when the device is out of memory even after emptying the cache (for
  // workspaces that have a fallback, such as a cuDNN algorithm needing less).
  void* try_allocate(size_t nbytes);
  void deallocate(void* ptr, size_t nbytes) override;
  void copy_from_host(void* dst, const void* host_src, size_t nbytes) override;
  void copy_to_host(void* host_dst, const void* src, size_t nbytes) override;
  void synchronize() override;
  // cuDNN reads NHWC, but the CUDA kernels here have not run on channels-last tensors yet
  // (no GPU lent so far): the ops hand CUDA row-major copies.
  bool takes_channels_last(DType) const override { return false; }
  AllocatorStats allocator_stats();
  void empty_cache();
  void set_max_cached_bytes(size_t bytes);

  // ---- creation (cuda_backend.cu) ----
  void fill(const Tensor& out, double value) override;
  void arange(const Tensor& out, double start, double step) override;
  void random(const Tensor& out, const RandomArgs& args) override;

  // ---- elementwise (copy.cu, unary.cu, binary.cu) ----
  void copy(const Tensor& src, const Tensor& dst) override;
  void unary(UnaryOp op, const UnaryArgs& args, const Tensor& in, const Tensor& out) override;
  void unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& grad, const Tensor& in,
                      const Tensor& result, const Tensor& grad_in) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void binary_backward(BinaryOp op, int input, const Tensor& grad, const Tensor& a,
                       const Tensor& b, const Tensor& grad_in) override;
  void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;

  // ---- reductions (reduce.cu) ----
  void reduce_rows(ReduceOp op, const Tensor& in, const Tensor& out) override;

  // ---- linear algebra (blas.cu) ----
  void matmul(const Tensor& a, const Tensor& bm, const Tensor& out, Precision precision) override;

  // ---- convolution (conv.cu: cuDNN, or a CudaError in a build without it) ----
  void conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args) override;
  // conv2d_forward, then the epilogue kernel (conv.cu)
  void conv2d_forward_fused(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args,
                            const ConvEpilogue& epilogue) override;
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_input,
                             const Conv2dArgs& args) override;
  void conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Tensor& grad_weight,
                              const Conv2dArgs& args) override;

  // ---- batch normalisation (norm.cu) ----
  void batch_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                          const Tensor& running_mean, const Tensor& running_var, const Tensor& out,
                          const Tensor& save_mean, const Tensor& save_invstd,
                          const BatchNormArgs& args) override;
  void batch_norm_backward(const Tensor& grad_out, const Tensor& input, const Tensor& weight,
                           const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_input,
                           const Tensor& grad_weight, const Tensor& grad_bias, bool training,
                           const Tensor& relu_output) override;

  // ---- pooling (pool.cu) ----
  void max_pool2d_forward(const Tensor& input, const Tensor& out, const Tensor& indices,
                          const Pool2dArgs& args) override;
  void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_input) override;
  void adaptive_avg_pool2d_forward(const Tensor& input, const Tensor& out) override;
  void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_input) override;

  // ---- fused optimizer updates (optim.cu: multi-tensor launches) ----
  void adam_step(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args) override;

 private:
  int index_;
  CachingAllocator allocator_;
  bool caching_;  // false with SEPAL_CUDA_NO_CACHING=1: straight cudaMalloc/cudaFree
};

// The backend of device `index` (created on first use, never destroyed, so tensors released
// during static destruction still find it); throws DeviceError when the device is absent.
CudaBackend& cuda_backend_at(int index);

}  // namespace sepal::cuda
