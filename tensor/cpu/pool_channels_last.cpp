// pool_channels_last.cpp: CPU max and adaptive average pooling over channels-last [N, C, H, W]
// tensors (memory order N, H, W, C). One OpenMP iteration per output row (forward) or image
// (backward, whose scatters stay inside the image); every window position is a run of C
// contiguous channels, which the inner loops vectorise. The window math is shared with the NCHW
// and CUDA kernels (tensor/kernels/norm_pool.h).
#include "tensor/cpu/pool_channels_last.h"

#include <cmath>
#include <vector>

#include "tensor/cpu/loops.h"
#include "tensor/kernels/norm_pool.h"

namespace sepal::cpu {

namespace {

// Sizes of an [N, C, H, W] input pooled to [N, C, P, Q].
struct Nhwc {
  int64_t N, C, H, W, P, Q;
};
Nhwc nhwc(const Tensor& input, const Tensor& out) {
  return {input.size(0), input.size(1), input.size(2), input.size(3), out.size(2), out.size(3)};
}

}  // namespace

void max_pool2d_forward_channels_last(const Tensor& input, const Tensor& out, const Tensor& indices,
                                      const Pool2dArgs& a) {
  dispatch_floating(input.dtype(), "max_pool2d", [&]<typename T>() {
    const Nhwc L = nhwc(input, out);
    const T* x = input.data_ptr<T>();
    T* y = out.data_ptr<T>();
    int64_t* idx = indices.data_ptr<int64_t>();
    const int64_t rows = L.N * L.P, C = L.C;
#pragma omp parallel for if (out.numel() * a.kernel[0] * a.kernel[1] >= kParallelGrain)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t n = row / L.P, p = row % L.P;
      const kernels::Taps th = kernels::max_pool_taps(p, L.H, a.kernel[0], a.stride[0], a.padding[0], a.dilation[0]);
      for (int64_t q = 0; q < L.Q; ++q) {
        const kernels::Taps tw = kernels::max_pool_taps(q, L.W, a.kernel[1], a.stride[1], a.padding[1], a.dilation[1]);
        T* best = y + (row * L.Q + q) * C;
        int64_t* where = idx + (row * L.Q + q) * C;
        const bool empty_window = th.first >= th.end || tw.first >= tw.end;
        const int64_t first = empty_window ? -1 : th.first * L.W + tw.first;  // as kernels::max_pool_window
        for (int64_t c = 0; c < C; ++c) best[c] = -static_cast<T>(INFINITY), where[c] = first;
        if (empty_window) continue;
        for (int64_t h = th.first; h < th.end; h += th.step)
          for (int64_t w = tw.first; w < tw.end; w += tw.step) {
            const T* v = x + ((n * L.H + h) * L.W + w) * C;
            const int64_t pos = h * L.W + w;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) {
              const bool take = v[c] > best[c] || v[c] != v[c];  // NaN propagates, the first maximum wins
              best[c] = take ? v[c] : best[c];
              where[c] = take ? pos : where[c];
            }
          }
      }
    }
  });
}

void max_pool2d_backward_channels_last(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_input) {
  dispatch_floating(grad_out.dtype(), "max_pool2d_backward", [&]<typename T>() {
    const Nhwc L = nhwc(grad_input, grad_out);
    const T* g = grad_out.data_ptr<T>();
    const int64_t* idx = indices.data_ptr<int64_t>();
    T* gi = grad_input.data_ptr<T>();
    const int64_t C = L.C, image_in = L.H * L.W * C, image_out = L.P * L.Q * C;
#pragma omp parallel for if (grad_input.numel() + grad_out.numel() >= kParallelGrain)
    for (int64_t n = 0; n < L.N; ++n) {
      T* dst = gi + n * image_in;
#pragma omp simd
      for (int64_t i = 0; i < image_in; ++i) dst[i] = T(0);
      for (int64_t cell = 0; cell < L.P * L.Q; ++cell) {
        const T* gc = g + n * image_out + cell * C;
        const int64_t* ic = idx + n * image_out + cell * C;
        for (int64_t c = 0; c < C; ++c)
          if (ic[c] >= 0) dst[ic[c] * C + c] += gc[c];
      }
    }
  });
}

void adaptive_avg_pool2d_forward_channels_last(const Tensor& input, const Tensor& out) {
  dispatch_floating(input.dtype(), "adaptive_avg_pool2d", [&]<typename T>() {
    const Nhwc L = nhwc(input, out);
    const T* x = input.data_ptr<T>();
    T* y = out.data_ptr<T>();
    const int64_t rows = L.N * L.P, C = L.C;
#pragma omp parallel for if (input.numel() >= kParallelGrain)
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t n = row / L.P, p = row % L.P;
      const int64_t h0 = kernels::adaptive_start(p, L.H, L.P), h1 = kernels::adaptive_end(p, L.H, L.P);
      for (int64_t q = 0; q < L.Q; ++q) {
        const int64_t w0 = kernels::adaptive_start(q, L.W, L.Q), w1 = kernels::adaptive_end(q, L.W, L.Q);
        T* sum = y + (row * L.Q + q) * C;
        for (int64_t c = 0; c < C; ++c) sum[c] = T(0);
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) {
            const T* v = x + ((n * L.H + h) * L.W + w) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) sum[c] += v[c];
          }
        const T count = static_cast<T>((h1 - h0) * (w1 - w0));
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) sum[c] /= count;
      }
    }
  });
}

void adaptive_avg_pool2d_backward_channels_last(const Tensor& grad_out, const Tensor& grad_input) {
  dispatch_floating(grad_out.dtype(), "adaptive_avg_pool2d_backward", [&]<typename T>() {
    const Nhwc L = nhwc(grad_input, grad_out);
    const T* g = grad_out.data_ptr<T>();
    T* gi = grad_input.data_ptr<T>();
    const int64_t C = L.C, image_in = L.H * L.W * C, image_out = L.P * L.Q * C;
#pragma omp parallel for if (grad_input.numel() >= kParallelGrain)
    for (int64_t n = 0; n < L.N; ++n) {
      T* dst = gi + n * image_in;
#pragma omp simd
      for (int64_t i = 0; i < image_in; ++i) dst[i] = T(0);
      std::vector<T> share(static_cast<size_t>(C));
      for (int64_t p = 0; p < L.P; ++p) {
        const int64_t h0 = kernels::adaptive_start(p, L.H, L.P), h1 = kernels::adaptive_end(p, L.H, L.P);
        for (int64_t q = 0; q < L.Q; ++q) {
          const int64_t w0 = kernels::adaptive_start(q, L.W, L.Q), w1 = kernels::adaptive_end(q, L.W, L.Q);
          const T count = static_cast<T>((h1 - h0) * (w1 - w0));
          const T* gc = g + n * image_out + (p * L.Q + q) * C;
          for (int64_t c = 0; c < C; ++c) share[c] = gc[c] / count;
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) {
              T* d = dst + (h * L.W + w) * C;
#pragma omp simd
              for (int64_t c = 0; c < C; ++c) d[c] += share[c];
            }
        }
      }
    }
  });
}

}  // namespace sepal::cpu
