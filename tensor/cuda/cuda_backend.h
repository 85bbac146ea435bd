// cuda_backend.h: the CUDA backend class, one instance per device. Its methods are split by
// purpose across tensor/cuda/*.cu: cuda_backend.cu (registry, memory, creation), copy.cu,
// unary.cu, binary.cu (elementwise), reduce.cu (row reductions), blas.cu (cuBLAS matmul),
// norm.cu (batch normalisation), pool.cu (pooling), conv.cu (cuDNN convolution).
// Every method makes its device current (DeviceGuard) and runs on the legacy default stream,
// so work on one device is ordered and a synchronous cudaMemcpy sees every earlier kernel.
#pragma once
#include <mutex>

#include "tensor/backend.h"
#include "tensor/caching_allocator.h"

struct cublasContext;  // cublasHandle_t is cublasContext*
struct cudnnContext;   // cudnnHandle_t is cudnnContext*

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
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) override;
  void copy_from_host(void* dst, const void* host_src, size_t nbytes) override;
  void copy_to_host(void* host_dst, const void* src, size_t nbytes) override;
  void synchronize() override;
  AllocatorStats allocator_stats();
  void empty_cache();

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
  void matmul(const Tensor& a, const Tensor& bm, const Tensor& out) override;

  // ---- convolution (conv.cu: cuDNN, or a CudaError in a build without it) ----
  void conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args) override;
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
                           const Tensor& grad_weight, const Tensor& grad_bias, bool training) override;

  // ---- pooling (pool.cu) ----
  void max_pool2d_forward(const Tensor& input, const Tensor& out, const Tensor& indices,
                          const Pool2dArgs& args) override;
  void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_input) override;
  void adaptive_avg_pool2d_forward(const Tensor& input, const Tensor& out) override;
  void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_input) override;

  // ---- fused optimizer updates (optim.cu: multi-tensor launches) ----
  void adam_step(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args) override;

 private:
  cublasContext* cublas();  // this device's handle, created on first use (blas.cu)
  cudnnContext* cudnn();    // this device's cuDNN handle, created on first use (conv.cu)

  int index_;
  CachingAllocator allocator_;
  std::once_flag cublas_once_;
  cublasContext* cublas_ = nullptr;
  std::once_flag cudnn_once_;
  cudnnContext* cudnn_ = nullptr;
};

// The backend of device `index` (created on first use, never destroyed, so tensors released
// during static destruction still find it); throws DeviceError when the device is absent.
CudaBackend& cuda_backend_at(int index);

}  // namespace sepal::cuda
