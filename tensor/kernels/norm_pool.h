// norm_pool.h: the per-element math of batch normalisation and 2-D pooling, written once and
// compiled into both the CPU (tensor/cpu/norm.cpp, pool.cpp) and the CUDA backend
// (tensor/cuda/norm.cu, pool.cu). Layout: NCHW, each (n, c) plane [H, W] row-major; a plane
// index h * W + w is what max pooling records as the position of a maximum.
#pragma once
#include <cstdint>

#include "tensor/kernels/hostdevice.h"

namespace sepal::kernels {

// ---- batch normalisation ----

// 1 / sqrt(var + eps), the saved inverse standard deviation.
template <typename T>
SEPAL_HD T bn_invstd(double var, double eps) {
  return static_cast<T>(1.0 / math_sqrt(var + eps));
}

// Running statistics after one training step (PyTorch): r = (1 - momentum) r + momentum batch,
// where running_var receives the unbiased batch variance var * n / (n - 1) (n > 1).
template <typename T>
SEPAL_HD T bn_running_update(T running, double batch, double momentum) {
  return static_cast<T>((1.0 - momentum) * static_cast<double>(running) + momentum * batch);
}
SEPAL_HD double bn_unbiased_var(double biased_var, int64_t n) {
  return biased_var * static_cast<double>(n) / static_cast<double>(n - 1);
}

// y = (x - mean) * invstd * w + b.
template <typename T>
SEPAL_HD T bn_normalize(T x, T mean, T invstd, T w, T b) {
  return (x - mean) * invstd * w + b;
}

// Per-channel terms of the backward pass, from the channel sums over its M = N*H*W elements:
// sum_dy = sum(dy), sum_dy_xhat = sum(dy * xhat) with xhat = (x - mean) * invstd.
// grad_weight = sum_dy_xhat, grad_bias = sum_dy, and for the input
//   training: dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
//   eval:     dx = dy * w * invstd (the statistics are constants)
template <typename T>
struct BnBackwardTerms {
  T mean;          // the saved mean
  T scale;         // w * invstd
  T invstd;
  T mean_dy;       // sum_dy / M (0 in eval)
  T mean_dy_xhat;  // sum_dy_xhat / M (0 in eval)
};

template <typename T>
SEPAL_HD BnBackwardTerms<T> bn_backward_terms(T mean, T invstd, T w, double sum_dy, double sum_dy_xhat,
                                              int64_t m, bool training) {
  BnBackwardTerms<T> t;
  t.mean = mean;
  t.invstd = invstd;
  t.scale = w * invstd;
  t.mean_dy = training ? static_cast<T>(sum_dy / static_cast<double>(m)) : T(0);
  t.mean_dy_xhat = training ? static_cast<T>(sum_dy_xhat / static_cast<double>(m)) : T(0);
  return t;
}

// BatchNorm and ReLU in one pass (BatchNormArgs::relu): ReLU as kernels::Relu, and the gradient
// that reaches the normalisation, dy where the fused output is positive (Relu's derivative; the
// output is positive exactly where its input is). A multiplied mask rather than a select, which
// keeps the CPU's reduction loops vectorised; so a NaN dy where the output was clamped stays NaN.
template <typename T>
SEPAL_HD T bn_relu(T y) {
  return y > T(0) ? y : T(0);
}
template <typename T>
SEPAL_HD T bn_relu_grad(T dy, T relu_out) {
  return dy * static_cast<T>(relu_out > T(0));
}

template <typename T>
SEPAL_HD T bn_grad_input(T dy, T x, const BnBackwardTerms<T>& t) {
  const T xhat = (x - t.mean) * t.invstd;
  return t.scale * (dy - t.mean_dy - xhat * t.mean_dy_xhat);
}

// ---- pooling windows ----

// Output length of a pooling window sliding over `in` (PyTorch's pooling_output_shape): with
// ceil_mode the last window must still start inside the input or the left padding.
SEPAL_HD int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                  int64_t dilation, bool ceil_mode) {
  const int64_t num = in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  int64_t out = num / stride - (num % stride != 0 && num < 0 ? 1 : 0) + 1;  // floor division
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// The input positions of output cell `o` of a max-pooling window along one dim: first, first +
// step, ... < end (empty when first >= end). Padded positions are excluded (never chosen).
struct Taps {
  int64_t first, end, step;
};
SEPAL_HD Taps max_pool_taps(int64_t o, int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                            int64_t dilation) {
  const int64_t start = o * stride - pad;
  int64_t j_lo = start < 0 ? (-start + dilation - 1) / dilation : 0;  // first tap >= 0
  int64_t j_hi = in > start ? (in - start + dilation - 1) / dilation : 0;  // taps < in
  if (j_hi > kernel) j_hi = kernel;
  if (j_lo > j_hi) j_lo = j_hi;
  return Taps{start + j_lo * dilation, start + j_hi * dilation, dilation};
}

// Adaptive pooling window of output cell i (of `out`) over `in`: [floor(i*in/out), ceil((i+1)*in/out)).
SEPAL_HD int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
SEPAL_HD int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }
// The output cells whose windows contain input position h: [floor(h*out/in), ceil((h+1)*out/in)).
SEPAL_HD int64_t adaptive_first_cell(int64_t h, int64_t in, int64_t out) { return (h * out) / in; }
SEPAL_HD int64_t adaptive_end_cell(int64_t h, int64_t in, int64_t out) {
  const int64_t e = ((h + 1) * out + in - 1) / in;
  return e < out ? e : out;
}

// ---- pooling cells (one output element; `plane` is one contiguous [H, W] input plane) ----

struct MaxPoolGeometry {
  int64_t H, W, P, Q;  // input and output plane sizes
  int64_t kernel[2], stride[2], padding[2], dilation[2];
};

template <typename T>
struct MaxCell {
  T value;
  int64_t index;  // h * W + w of the maximum; -1 for a window holding only padding
};

// Geometry from any argument struct with kernel/stride/padding/dilation pairs (Pool2dArgs).
template <typename Args>
SEPAL_HD MaxPoolGeometry max_pool_geometry(int64_t H, int64_t W, int64_t P, int64_t Q, const Args& a) {
  return MaxPoolGeometry{H, W, P, Q, {a.kernel[0], a.kernel[1]}, {a.stride[0], a.stride[1]},
                         {a.padding[0], a.padding[1]}, {a.dilation[0], a.dilation[1]}};
}

// Maximum over the window with row taps th and column taps tw of an input plane W wide, padded
// positions excluded. NaN propagates (the last NaN of the window wins, as in PyTorch); among equal
// values the first position wins. Branch-free selects, so the CPU loop pipelines.
template <typename T>
SEPAL_HD MaxCell<T> max_pool_window(const T* plane, int64_t W, const Taps& th, const Taps& tw) {
  MaxCell<T> best{-static_cast<T>(INFINITY), -1};
  if (th.first >= th.end || tw.first >= tw.end) return best;
  best.index = th.first * W + tw.first;
  for (int64_t h = th.first; h < th.end; h += th.step) {
    const T* row = plane + h * W;
    for (int64_t w = tw.first; w < tw.end; w += tw.step) {
      const T v = row[w];
      const bool take = v > best.value || v != v;
      best.value = take ? v : best.value;
      best.index = take ? h * W + w : best.index;
    }
  }
  return best;
}

// Maximum over the window of output (p, q) (max_pool_window with the taps computed here).
template <typename T>
SEPAL_HD MaxCell<T> max_pool_cell(const T* plane, const MaxPoolGeometry& g, int64_t p, int64_t q) {
  const Taps th = max_pool_taps(p, g.H, g.kernel[0], g.stride[0], g.padding[0], g.dilation[0]);
  const Taps tw = max_pool_taps(q, g.W, g.kernel[1], g.stride[1], g.padding[1], g.dilation[1]);
  return max_pool_window(plane, g.W, th, tw);
}

// Mean over the adaptive window of output (p, q) of an [H, W] plane pooled to [P, Q].
template <typename T>
SEPAL_HD T adaptive_avg_cell(const T* plane, int64_t H, int64_t W, int64_t P, int64_t Q, int64_t p, int64_t q) {
  const int64_t h0 = adaptive_start(p, H, P), h1 = adaptive_end(p, H, P);
  const int64_t w0 = adaptive_start(q, W, Q), w1 = adaptive_end(q, W, Q);
  T sum = 0;
  for (int64_t h = h0; h < h1; ++h) {
    const T* row = plane + h * W;
    for (int64_t w = w0; w < w1; ++w) sum += row[w];
  }
  return sum / static_cast<T>((h1 - h0) * (w1 - w0));
}

// Gradient of input (h, w) of adaptive average pooling: the sum over the output cells whose
// windows contain it of grad / window size (`gplane` is one contiguous [P, Q] gradient plane).
template <typename T>
SEPAL_HD T adaptive_avg_grad_cell(const T* gplane, int64_t H, int64_t W, int64_t P, int64_t Q, int64_t h, int64_t w) {
  const int64_t p0 = adaptive_first_cell(h, H, P), p1 = adaptive_end_cell(h, H, P);
  const int64_t q0 = adaptive_first_cell(w, W, Q), q1 = adaptive_end_cell(w, W, Q);
  T sum = 0;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t rows = adaptive_end(p, H, P) - adaptive_start(p, H, P);
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t cols = adaptive_end(q, W, Q) - adaptive_start(q, W, Q);
      sum += gplane[p * Q + q] / static_cast<T>(rows * cols);
    }
  }
  return sum;
}

}  // namespace sepal::kernels
