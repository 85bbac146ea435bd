// pool.cpp: CPU 2-D pooling over contiguous NCHW, one (n, c) plane per OpenMP iteration. The
// window math (bounds, padding, NaN rule, adaptive windows) is shared with CUDA through
// tensor/kernels/norm_pool.h; max-pool backward scatters into its plane, which no other thread
// touches, so it needs no atomics.
#include <cmath>
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/loops.h"
#include "tensor/kernels/layouts.h"
#include "tensor/kernels/norm_pool.h"

namespace sepal::cpu {

namespace {

using kernels::plane_layout;
using kernels::PlaneLayout;

// Calls f(plane) for every plane, in parallel when the work is large enough.
template <typename F>
void for_each_plane(int64_t planes, int64_t work_per_plane, F f) {
#pragma omp parallel for if (planes * work_per_plane >= kParallelGrain)
  for (int64_t plane = 0; plane < planes; ++plane) f(plane);
}

}  // namespace

// One output row p of one plane: cells [q_lo, q_hi) have every column tap inside the input
// (interior), the rest go through the shared scalar window. The interior is computed tap by tap
// in the scalar window's order (rows, then columns) for a whole row of cells at once, so the
// select (value > best, or NaN) vectorises instead of branching on random data; the result is the
// same, first maximum and last NaN included.
template <typename T>
void max_pool_row(const T* src, const kernels::MaxPoolGeometry& g, const kernels::Taps& th,
                  const std::vector<kernels::Taps>& tw, int64_t q_lo, int64_t q_hi, T* y, int64_t* idx,
                  std::vector<T>& best, std::vector<int64_t>& at) {
  const int64_t W = g.W, s = g.stride[1], d = g.dilation[1], pad = g.padding[1], kw = g.kernel[1];
  for (int64_t q = 0; q < g.Q; ++q)
    if (q < q_lo || q >= q_hi) {
      const kernels::MaxCell<T> m = kernels::max_pool_window(src, W, th, tw[q]);
      y[q] = m.value;
      idx[q] = m.index;
    }
  if (q_lo >= q_hi) return;
  const int64_t n = q_hi - q_lo;
  T* b = best.data();
  int64_t* a = at.data();
  const int64_t first_row = th.first < th.end ? th.first : 0;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    b[i] = -static_cast<T>(INFINITY);
    a[i] = first_row * W + (q_lo + i) * s - pad;
  }
  for (int64_t h = th.first; h < th.end; h += th.step) {
    const T* row = src + h * W;
    for (int64_t j = 0; j < kw; ++j) {
      const int64_t col0 = q_lo * s - pad + j * d;  // the column of tap j for cell q_lo
      const T* v0 = row + col0;
      const int64_t pos0 = h * W + col0;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) {
        const T v = v0[i * s];
        const bool take = v > b[i] || v != v;
        b[i] = take ? v : b[i];
        a[i] = take ? pos0 + i * s : a[i];
      }
    }
  }
  if (th.first >= th.end)  // a window of padding rows only
    for (int64_t i = 0; i < n; ++i) a[i] = -1;
  for (int64_t i = 0; i < n; ++i) {
    y[q_lo + i] = b[i];
    idx[q_lo + i] = a[i];
  }
}

void CpuBackend::max_pool2d_forward(const Tensor& input, const Tensor& out, const Tensor& indices,
                                    const Pool2dArgs& args) {
  dispatch_floating(input.dtype(), "max_pool2d", [&]<typename T>() {
    const PlaneLayout L = plane_layout(input, out);
    const kernels::MaxPoolGeometry g = kernels::max_pool_geometry(L.H, L.W, L.P, L.Q, args);
    // The window taps depend only on p (rows) and q (columns): computed once here, not per cell.
    std::vector<kernels::Taps> th(static_cast<size_t>(L.P)), tw(static_cast<size_t>(L.Q));
    for (int64_t p = 0; p < L.P; ++p) th[p] = kernels::max_pool_taps(p, L.H, g.kernel[0], g.stride[0], g.padding[0], g.dilation[0]);
    for (int64_t q = 0; q < L.Q; ++q) tw[q] = kernels::max_pool_taps(q, L.W, g.kernel[1], g.stride[1], g.padding[1], g.dilation[1]);
    // interior columns: every one of the kernel's column taps inside [0, W)
    int64_t q_lo = 0, q_hi = L.Q;
    auto full = [&](int64_t q) {
      const int64_t c = q * g.stride[1] - g.padding[1];
      return c >= 0 && c + (g.kernel[1] - 1) * g.dilation[1] < L.W;
    };
    while (q_lo < L.Q && !full(q_lo)) ++q_lo;
    q_hi = q_lo;
    while (q_hi < L.Q && full(q_hi)) ++q_hi;
    if (q_hi - q_lo < 32) q_hi = q_lo;  // short rows: the per-cell scalar window is faster
    const T* x = input.data_ptr<T>();
    T* y = out.data_ptr<T>();
    int64_t* idx = indices.data_ptr<int64_t>();
#pragma omp parallel if (L.planes * L.P * L.Q * args.kernel[0] * args.kernel[1] >= kParallelGrain)
    {
      std::vector<T> best(static_cast<size_t>(L.Q));
      std::vector<int64_t> at(static_cast<size_t>(L.Q));
#pragma omp for
      for (int64_t plane = 0; plane < L.planes; ++plane) {
        const T* src = x + plane * L.H * L.W;
        for (int64_t p = 0; p < L.P; ++p) {
          const int64_t o = (plane * L.P + p) * L.Q;
          max_pool_row(src, g, th[p], tw, q_lo, q_hi, y + o, idx + o, best, at);
        }
      }
    }
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
