// pool.cpp: CPU 2-D pooling over contiguous NCHW, one (n, c) plane per OpenMP iteration
// (channels-last tensors go to tensor/cpu/pool_channels_last.cpp). The
// window math (bounds, padding, NaN rule, adaptive windows) is shared with CUDA through
// tensor/kernels/norm_pool.h. Max-pool forward copies each plane's rows into a -inf padded
// buffer split by column phase and computes blocks of output cells in registers (see
// max_pool_plane); max-pool backward scatters into its plane, which no other thread touches, so
// it needs no atomics.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/loops.h"
#include "tensor/cpu/pool_channels_last.h"
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

// Max-pool forward plan: the window taps of every output row and column, computed once per call,
// and the shape of the row buffer the kernel reads from.
struct MaxPoolPlan {
  kernels::MaxPoolGeometry g;
  std::vector<kernels::Taps> th;      // taps of output row p
  std::vector<int64_t> first_col;     // first input column of output column q's window, for the Q
                                      // columns rounded up to whole blocks
  std::vector<int64_t> empty_cols;    // columns whose window has no input column (rare: dilation)
  int64_t phase_width;                // length of one phase of a buffered row (see max_pool_plane)
};

// Output cells computed together, in registers: 16, or 8 for rows of at most 8 cells.
MaxPoolPlan max_pool_plan(const PlaneLayout& L, const Pool2dArgs& args, int64_t block) {
  MaxPoolPlan plan;
  plan.g = kernels::max_pool_geometry(L.H, L.W, L.P, L.Q, args);
  const kernels::MaxPoolGeometry& g = plan.g;
  const int64_t blocks = (L.Q + block - 1) / block;
  for (int64_t p = 0; p < L.P; ++p)
    plan.th.push_back(kernels::max_pool_taps(p, L.H, g.kernel[0], g.stride[0], g.padding[0], g.dilation[0]));
  for (int64_t q = 0; q < blocks * block; ++q) {
    const kernels::Taps t = kernels::max_pool_taps(std::min(q, L.Q - 1), L.W, g.kernel[1], g.stride[1],
                                                   g.padding[1], g.dilation[1]);
    if (q < L.Q && t.first >= t.end) plan.empty_cols.push_back(q);
    plan.first_col.push_back(t.first);
  }
  // A buffered row spans the left padding, the input row and whatever the last block reads past it.
  const int64_t last = (blocks * block - 1) * g.stride[1] + (g.kernel[1] - 1) * g.dilation[1];
  const int64_t width = std::max(g.padding[1] + L.W, last + 1);
  plan.phase_width = (width + g.stride[1] - 1) / g.stride[1];
  return plan;
}

// One plane of max pooling. Each input row is copied, when the first output row needs it, into
// `buffer` with the left padding in front and -inf in the padding on both sides, so windows read
// without bounds checks; -inf never wins (a take needs v > best or NaN) and the index starts at
// the window's first real position, as in the scalar window (kernels::max_pool_window). The copy
// is split into s phases by column modulo the stride s (buffered column c at phase c % s, offset
// c / s), so the cells of a block read each tap from consecutive addresses: stride 2 costs no
// gathers. Blocks of kBlock cells go through the taps in the scalar window's order (rows,
// then columns), maxima and positions in registers: same values, same first maximum, same last
// NaN. S is the column stride when fixed at compile time (0: g.stride[1]); Index is int32_t when
// every position fits; KW > 0 fixes the kernel width (and dilation 1) so the column taps unroll.
template <typename T, int S, typename Index, int64_t kBlock, int KW = 0>
void max_pool_plane(const T* src, const MaxPoolPlan& plan, T* buffer, T* y, int64_t* idx) {
  const kernels::MaxPoolGeometry& g = plan.g;
  const int64_t W = g.W, Q = g.Q, pad = g.padding[1];
  const int64_t s = S ? S : g.stride[1], d = KW ? 1 : g.dilation[1], kw = KW ? KW : g.kernel[1];
  const int64_t Lp = plan.phase_width, row_stride = s * Lp;
  int64_t copied = 0;  // input rows already in the buffer
  auto copy_rows_through = [&](int64_t last_row) {
    for (; copied <= last_row; ++copied) {
      const T* in = src + copied * W;
      T* row = buffer + copied * row_stride;
      if constexpr (S == 2) {  // both phases in one pass: the compiler turns it into shuffles
        const int64_t half = W / 2, even = (pad % 2) * Lp + pad / 2, odd = ((1 + pad) % 2) * Lp + (1 + pad) / 2;
#pragma omp simd
        for (int64_t k = 0; k < half; ++k) {
          row[even + k] = in[2 * k];
          row[odd + k] = in[2 * k + 1];
        }
        if (W % 2) row[even + half] = in[W - 1];
      } else {
        for (int64_t r = 0; r < s; ++r) {  // input columns w = w0, w0 + s, ... land in phase r
          const int64_t w0 = ((r - pad) % s + s) % s;
          T* out = row + r * Lp + (w0 + pad) / s;
          const int64_t n = w0 < W ? (W - w0 + s - 1) / s : 0;
#pragma omp simd
          for (int64_t k = 0; k < n; ++k) out[k] = in[w0 + k * s];
        }
      }
    }
  };
  // Cells q0 .. q0 + kBlock of output rows p .. p + R (R rows whose windows have as many rows,
  // computed side by side so their dependency chains overlap).
  auto block = [&]<int R>(int64_t p, int64_t q0) {
    T best[R][kBlock];
    Index at[R][kBlock];
    const int64_t* first_col = plan.first_col.data() + q0;
    for (int r = 0; r < R; ++r) {
#pragma omp simd
      for (int64_t i = 0; i < kBlock; ++i) {
        best[r][i] = -static_cast<T>(INFINITY);
        at[r][i] = static_cast<Index>(plan.th[p + r].first * W + first_col[i]);
      }
    }
    // Each row's maximum is found on its own (rows do not wait on one another), then merged into
    // the window's in row order with the same test: a later row wins when strictly greater or
    // NaN, which is what the tap-by-tap scan would have done.
    const kernels::Taps& t0 = plan.th[p];
    for (int64_t t = 0; t < (t0.end - t0.first + t0.step - 1) / t0.step; ++t)
      for (int r = 0; r < R; ++r) {
        const int64_t h = plan.th[p + r].first + t * plan.th[p + r].step;
        const T* row = buffer + h * row_stride + q0;
        const Index row_pos = static_cast<Index>(h * W + q0 * s - pad);
        T row_best[kBlock];
        Index row_at[kBlock];
#pragma omp simd
        for (int64_t i = 0; i < kBlock; ++i) {  // tap 0 (a padded -inf there is never merged)
          row_best[i] = row[i];
          row_at[i] = row_pos + static_cast<Index>(i * s);
        }
        for (int64_t j = 1; j < kw; ++j) {
          const T* v0 = row + (j * d) % s * Lp + (j * d) / s;  // tap j of cell q0
          const Index pos0 = row_pos + static_cast<Index>(j * d);
#pragma omp simd
          for (int64_t i = 0; i < kBlock; ++i) {
            const T v = v0[i];
            const bool take = (v > row_best[i]) | (v != v);
            row_best[i] = take ? v : row_best[i];
            row_at[i] = take ? pos0 + static_cast<Index>(i * s) : row_at[i];
          }
        }
#pragma omp simd
        for (int64_t i = 0; i < kBlock; ++i) {
          const T v = row_best[i];
          const bool take = (v > best[r][i]) | (v != v);
          best[r][i] = take ? v : best[r][i];
          at[r][i] = take ? row_at[i] : at[r][i];
        }
      }
    const int64_t n = std::min(kBlock, Q - q0);
    for (int r = 0; r < R; ++r)
      for (int64_t i = 0; i < n; ++i) {
        y[(p + r) * Q + q0 + i] = best[r][i];
        idx[(p + r) * Q + q0 + i] = at[r][i];
      }
  };
  auto tap_rows = [](const kernels::Taps& t) { return (t.end - t.first + t.step - 1) / t.step; };
  for (int64_t p = 0; p < g.P; ++p) {
    const kernels::Taps& th = plan.th[p];
    if (th.first >= th.end) {  // a window of padding rows only
      for (int64_t q = 0; q < Q; ++q) y[p * Q + q] = -static_cast<T>(INFINITY), idx[p * Q + q] = -1;
      continue;
    }
    // rows of one block: two at a time when they are that short and their windows alike
    if (Q <= kBlock && p + 1 < g.P && tap_rows(plan.th[p + 1]) == tap_rows(th) && plan.th[p + 1].step == th.step) {
      const kernels::Taps& next = plan.th[p + 1];
      copy_rows_through(std::max(th.end - th.step, next.end - next.step));  // dilated rows may cross
      block.template operator()<2>(p, 0);
      ++p;
    } else {
      copy_rows_through(th.end - th.step);
      for (int64_t q0 = 0; q0 < Q; q0 += kBlock) block.template operator()<1>(p, q0);
    }
  }
  for (int64_t p = 0; p < g.P; ++p)
    for (int64_t q : plan.empty_cols) y[p * Q + q] = -static_cast<T>(INFINITY), idx[p * Q + q] = -1;
}

}  // namespace

void CpuBackend::max_pool2d_forward(const Tensor& input, const Tensor& out, const Tensor& indices,
                                    const Pool2dArgs& args) {
  if (!input.is_contiguous()) return max_pool2d_forward_channels_last(input, out, indices, args);
  dispatch_floating(input.dtype(), "max_pool2d", [&]<typename T>() {
    const PlaneLayout L = plane_layout(input, out);
    if (L.planes * L.P * L.Q == 0) return;
    const int64_t s = args.stride[1], block = s == 2 && L.Q <= 8 ? 8 : 16;
    const MaxPoolPlan plan = max_pool_plan(L, args, block);
    const int64_t buffer_size = L.H * s * plan.phase_width;
    // positions (and the last block's overhang) fit int32 on all but giant planes
    const bool small = buffer_size + L.W < (int64_t(1) << 31);
    const bool stem = args.kernel[1] == 3 && args.dilation[1] == 1;  // ResNet's 3x3 stride-2 window
    auto kernel = !small                         ? max_pool_plane<T, 0, int64_t, 16>
                  : s == 2 && block == 8 && stem ? max_pool_plane<T, 2, int32_t, 8, 3>
                  : s == 2 && block == 8         ? max_pool_plane<T, 2, int32_t, 8>
                  : s == 2 && stem               ? max_pool_plane<T, 2, int32_t, 16, 3>
                  : s == 2                       ? max_pool_plane<T, 2, int32_t, 16>
                  : s == 1                       ? max_pool_plane<T, 1, int32_t, 16>
                                                 : max_pool_plane<T, 0, int32_t, 16>;
    const T* x = input.data_ptr<T>();
    T* y = out.data_ptr<T>();
    int64_t* idx = indices.data_ptr<int64_t>();
#pragma omp parallel if (L.planes * L.P * L.Q * args.kernel[0] * args.kernel[1] >= kParallelGrain)
    {
      std::vector<T> buffer(static_cast<size_t>(buffer_size), -static_cast<T>(INFINITY));
#pragma omp for schedule(static)
      for (int64_t plane = 0; plane < L.planes; ++plane)
        kernel(x + plane * L.H * L.W, plan, buffer.data(), y + plane * L.P * L.Q, idx + plane * L.P * L.Q);
    }
  });
}

void CpuBackend::max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_input) {
  if (!grad_input.is_contiguous()) return max_pool2d_backward_channels_last(grad_out, indices, grad_input);
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
  if (!input.is_contiguous()) return adaptive_avg_pool2d_forward_channels_last(input, out);
  dispatch_floating(input.dtype(), "adaptive_avg_pool2d", [&]<typename T>() {
    const PlaneLayout L = plane_layout(input, out);
    const T* x = input.data_ptr<T>();
    T* y = out.data_ptr<T>();
    if (L.H == L.P && L.W == L.Q) {  // every window one element (the 32 px ResNet's 1x1 head)
      std::copy(x, x + input.numel(), y);
      return;
    }
    for_each_plane(L.planes, L.H * L.W, [&](int64_t plane) {
      const T* src = x + plane * L.H * L.W;
      T* dst = y + plane * L.P * L.Q;
      if (L.P == 1 && L.Q == 1) {  // global pooling (the ResNet head): one vectorised plane sum
        T sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < L.H * L.W; ++i) sum += src[i];
        dst[0] = sum / static_cast<T>(L.H * L.W);
        return;
      }
      for (int64_t p = 0; p < L.P; ++p)
        for (int64_t q = 0; q < L.Q; ++q) dst[p * L.Q + q] = kernels::adaptive_avg_cell(src, L.H, L.W, L.P, L.Q, p, q);
    });
  });
}

// Scatters each output cell's gradient / window size over its window, cells in row-major order:
// every input element receives the same terms in the same order as
// kernels::adaptive_avg_grad_cell's sum (the CUDA kernel's gather), without its per-element
// window searches.
void CpuBackend::adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_input) {
  if (!grad_input.is_contiguous()) return adaptive_avg_pool2d_backward_channels_last(grad_out, grad_input);
  dispatch_floating(grad_out.dtype(), "adaptive_avg_pool2d_backward", [&]<typename T>() {
    const PlaneLayout L = plane_layout(grad_input, grad_out);
    const T* g = grad_out.data_ptr<T>();
    T* gi = grad_input.data_ptr<T>();
    if (L.H == L.P && L.W == L.Q) {  // every window one element
      std::copy(g, g + grad_out.numel(), gi);
      return;
    }
    for_each_plane(L.planes, L.H * L.W, [&](int64_t plane) {
      const T* src = g + plane * L.P * L.Q;
      T* dst = gi + plane * L.H * L.W;
#pragma omp simd
      for (int64_t i = 0; i < L.H * L.W; ++i) dst[i] = T(0);
      for (int64_t p = 0; p < L.P; ++p) {
        const int64_t h0 = kernels::adaptive_start(p, L.H, L.P), h1 = kernels::adaptive_end(p, L.H, L.P);
        for (int64_t q = 0; q < L.Q; ++q) {
          const int64_t w0 = kernels::adaptive_start(q, L.W, L.Q), w1 = kernels::adaptive_end(q, L.W, L.Q);
          const T share = src[p * L.Q + q] / static_cast<T>((h1 - h0) * (w1 - w0));
          for (int64_t h = h0; h < h1; ++h) {
            T* row = dst + h * L.W;
#pragma omp simd
            for (int64_t w = w0; w < w1; ++w) row[w] += share;
          }
        }
      }
    });
  });
}

}  // namespace sepal::cpu
