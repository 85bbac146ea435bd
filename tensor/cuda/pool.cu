// pool.cu: CUDA 2-D pooling over contiguous NCHW. Forward passes run one thread per output
// element; max-pool backward zeroes grad_input and scatters each output gradient to its recorded
// position with atomicAdd (overlapping windows may share a position); adaptive average backward
// gathers, one thread per input element. The window math is shared with the CPU backend
// (tensor/kernels/norm_pool.h).
#include <cstdint>

#include "tensor/cuda/check.h"
#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/elementwise.cuh"
#include "tensor/kernels/layouts.h"
#include "tensor/kernels/norm_pool.h"

namespace sepal::cuda {

namespace {

using kernels::plane_layout;
using kernels::PlaneLayout;

template <typename T>
__global__ void __launch_bounds__(kBlockSize)
    max_pool_forward_kernel(const T* x, T* y, int64_t* indices, PlaneLayout L, kernels::MaxPoolGeometry g) {
  const int64_t total = L.planes * L.P * L.Q;
  for (int64_t o = global_thread_index(); o < total; o += grid_stride()) {
    const int64_t q = o % L.Q, p = (o / L.Q) % L.P, plane = o / (L.P * L.Q);
    const kernels::MaxCell<T> m = kernels::max_pool_cell(x + plane * L.H * L.W, g, p, q);
    y[o] = m.value;
    indices[o] = m.index;
  }
}

template <typename T>
__global__ void __launch_bounds__(kBlockSize)
    max_pool_backward_kernel(const T* grad_out, const int64_t* indices, T* grad_input, PlaneLayout L) {
  const int64_t total = L.planes * L.P * L.Q;
  for (int64_t o = global_thread_index(); o < total; o += grid_stride()) {
    const int64_t index = indices[o];
    if (index >= 0) atomicAdd(grad_input + (o / (L.P * L.Q)) * L.H * L.W + index, grad_out[o]);
  }
}

template <typename T>
__global__ void __launch_bounds__(kBlockSize)
    adaptive_avg_forward_kernel(const T* x, T* y, PlaneLayout L) {
  const int64_t total = L.planes * L.P * L.Q;
  for (int64_t o = global_thread_index(); o < total; o += grid_stride()) {
    const int64_t q = o % L.Q, p = (o / L.Q) % L.P, plane = o / (L.P * L.Q);
    y[o] = kernels::adaptive_avg_cell(x + plane * L.H * L.W, L.H, L.W, L.P, L.Q, p, q);
  }
}

template <typename T>
__global__ void __launch_bounds__(kBlockSize)
    adaptive_avg_backward_kernel(const T* grad_out, T* grad_input, PlaneLayout L) {
  const int64_t total = L.planes * L.H * L.W;
  for (int64_t i = global_thread_index(); i < total; i += grid_stride()) {
    const int64_t w = i % L.W, h = (i / L.W) % L.H, plane = i / (L.H * L.W);
    grad_input[i] = kernels::adaptive_avg_grad_cell(grad_out + plane * L.P * L.Q, L.H, L.W, L.P, L.Q, h, w);
  }
}

}  // namespace

void CudaBackend::max_pool2d_forward(const Tensor& input, const Tensor& out, const Tensor& indices,
                                     const Pool2dArgs& args) {
  DeviceGuard guard(index_);
  dispatch_floating(input.dtype(), "max_pool2d", [&]<typename T>() {
    const PlaneLayout L = plane_layout(input, out);
    const int64_t total = out.numel();
    if (total == 0) return;
    max_pool_forward_kernel<T><<<grid_for(total), kBlockSize>>>(
        input.data_ptr<T>(), out.data_ptr<T>(), indices.data_ptr<int64_t>(), L,
        kernels::max_pool_geometry(L.H, L.W, L.P, L.Q, args));
    SEPAL_CUDA_CHECK_LAUNCH();
  });
}

void CudaBackend::max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_input) {
  DeviceGuard guard(index_);
  dispatch_floating(grad_out.dtype(), "max_pool2d_backward", [&]<typename T>() {
    const PlaneLayout L = plane_layout(grad_input, grad_out);
    if (grad_input.numel() == 0) return;
    // all-zero bytes are +0.0 in IEEE floats; the legacy default stream orders it before the scatter
    SEPAL_CUDA_CHECK(cudaMemsetAsync(grad_input.data_ptr<T>(), 0, grad_input.numel() * sizeof(T), 0));
    const int64_t total = grad_out.numel();
    if (total == 0) return;
    max_pool_backward_kernel<T><<<grid_for(total), kBlockSize>>>(grad_out.data_ptr<T>(), indices.data_ptr<int64_t>(),
                                                                 grad_input.data_ptr<T>(), L);
    SEPAL_CUDA_CHECK_LAUNCH();
  });
}

void CudaBackend::adaptive_avg_pool2d_forward(const Tensor& input, const Tensor& out) {
  DeviceGuard guard(index_);
  dispatch_floating(input.dtype(), "adaptive_avg_pool2d", [&]<typename T>() {
    const int64_t total = out.numel();
    if (total == 0) return;
    adaptive_avg_forward_kernel<T><<<grid_for(total), kBlockSize>>>(input.data_ptr<T>(), out.data_ptr<T>(),
                                                                    plane_layout(input, out));
    SEPAL_CUDA_CHECK_LAUNCH();
  });
}

void CudaBackend::adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_input) {
  DeviceGuard guard(index_);
  dispatch_floating(grad_out.dtype(), "adaptive_avg_pool2d_backward", [&]<typename T>() {
    const int64_t total = grad_input.numel();
    if (total == 0) return;
    adaptive_avg_backward_kernel<T><<<grid_for(total), kBlockSize>>>(grad_out.data_ptr<T>(), grad_input.data_ptr<T>(),
                                                                     plane_layout(grad_input, grad_out));
    SEPAL_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace sepal::cuda
