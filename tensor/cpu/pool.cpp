// pool.cpp: CPU 2-D pooling over contiguous NCHW, one (n, c) plane per OpenMP iteration. The
// window math (bounds, padding, NaN rule, adaptive windows) is shared with CUDA through
// tensor/kernels/norm_pool.h; max-pool backward scatters into its plane, which no other thread
// touches, so it needs no atomics.
#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/loops.h"
#include "tensor/kernels/norm_pool.h"

namespace sepal::cpu {

namespace {

// Plane counts and sizes of an [N, C, H, W] input pooled to [N, C, P, Q].
struct PlaneLayout {
  int64_t planes, H, W, P, Q;
};
PlaneLayout plane_layout(const Tensor& input, const Tensor& out) {
  return {input.size(0) * input.size(1), input.size(2), input.size(3), out.size(2), out.size(3)};
}

// Calls f(plane) for every plane, in parallel when the work is large enough.
template <typename F>
void for_each_plane(int64_t planes, int64_t work_per_plane, F f) {
#pragma omp parallel for if (planes * work_per_plane >= kParallelGrain)
  for (int64_t plane = 0; plane < planes; ++plane) f(plane);
}

}  // namespace

void CpuBackend::max_pool2d_forward(const Tensor& input, const Tensor& out, const Tensor& indices,
                                    const Pool2dArgs& args) {
  dispatch_floating(input.dtype(), "max_pool2d", [&]<typename T>() {
    const PlaneLayout L = plane_layout(input, out);
    const kernels::MaxPoolGeometry g = kernels::max_pool_geometry(L.H, L.W, L.P, L.Q, args);
    const T* x = input.data_ptr<T>();
    T* y = out.data_ptr<T>();
    int64_t* idx = indices.data_ptr<int64_t>();
    for_each_plane(L.planes, L.P * L.Q * args.kernel[0] * args.kernel[1], [&](int64_t plane) {
      const T* src = x + plane * L.H * L.W;
      for (int64_t p = 0; p < L.P; ++p)
        for (int64_t q = 0; q < L.Q; ++q) {
          const kernels::MaxCell<T> m = kernels::max_pool_cell(src, g, p, q);
          const int64_t o = (plane * L.P + p) * L.Q + q;
          y[o] = m.value;
          idx[o] = m.index;
        }
    });
  });
}

void CpuBackend::max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_input) {
  dispatch_floating(grad_out.dtype(), "max_pool2d_backward", [&]<typename T>() {
    const PlaneLayout L = plane_layout(grad_input, grad_out);
    const T* g = grad_out.data_ptr<T>();
    const int64_t* idx = indices.data_ptr<int64_t>();
    T* gi = grad_input.data_ptr<T>();
    for_each_plane(L.planes, L.H * L.W + L.P * L.Q, [&](int64_t plane) {
      T* dst = gi + plane * L.H * L.W;
#pragma omp simd
      for (int64_t i = 0; i < L.H * L.W; ++i) dst[i] = T(0);
      const int64_t base = plane * L.P * L.Q;
      for (int64_t k = 0; k < L.P * L.Q; ++k)
        if (idx[base + k] >= 0) dst[idx[base + k]] += g[base + k];
    });
  });
}

void CpuBackend::adaptive_avg_pool2d_forward(const Tensor& input, const Tensor& out) {
  dispatch_floating(input.dtype(), "adaptive_avg_pool2d", [&]<typename T>() {
    const PlaneLayout L = plane_layout(input, out);
    const T* x = input.data_ptr<T>();
    T* y = out.data_ptr<T>();
    for_each_plane(L.planes, L.H * L.W, [&](int64_t plane) {
      const T* src = x + plane * L.H * L.W;
      T* dst = y + plane * L.P * L.Q;
      for (int64_t p = 0; p < L.P; ++p)
        for (int64_t q = 0; q < L.Q; ++q) dst[p * L.Q + q] = kernels::adaptive_avg_cell(src, L.H, L.W, L.P, L.Q, p, q);
    });
  });
}

void CpuBackend::adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_input) {
  dispatch_floating(grad_out.dtype(), "adaptive_avg_pool2d_backward", [&]<typename T>() {
    const PlaneLayout L = plane_layout(grad_input, grad_out);
    const T* g = grad_out.data_ptr<T>();
    T* gi = grad_input.data_ptr<T>();
    for_each_plane(L.planes, L.H * L.W, [&](int64_t plane) {
      const T* src = g + plane * L.P * L.Q;
      T* dst = gi + plane * L.H * L.W;
      for (int64_t h = 0; h < L.H; ++h)
        for (int64_t w = 0; w < L.W; ++w)
          dst[h * L.W + w] = kernels::adaptive_avg_grad_cell(src, L.H, L.W, L.P, L.Q, h, w);
    });
  });
}

}  // namespace sepal::cpu
