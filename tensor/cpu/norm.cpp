// norm.cpp: CPU batch normalisation over contiguous [N, C, HW] (HW = H*W, or 1 for [N, C]; a
// channels-last [N, C, H, W] is [N*H*W, C, 1], kernels::bn_layout, and takes the small-plane path).
// Statistics and backward reductions accumulate in double. Planes of at least kSmallPlane
// elements: the reductions run one channel per OpenMP iteration and the normalisation and
// grad_input passes over the N*C planes, each with a vectorised inner loop over HW. Smaller
// planes (ResNet's last stages at 32 px: HW = 1, 4, 16) would make those loops 1-16 long, so
// there each thread takes a range of channels and walks image by image over their contiguous
// span (N rows of C*HW). With BatchNormArgs::relu the normalisation applies ReLU on its way out and
// the backward masks dy by that output where it reads it, so a BatchNorm+ReLU pair costs no extra
// pass. The per-element math is shared with CUDA (tensor/kernels/norm_pool.h).
#include <omp.h>

#include <algorithm>
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/loops.h"
#include "tensor/kernels/layouts.h"
#include "tensor/kernels/norm_pool.h"

namespace sepal::cpu {

namespace {

using kernels::bn_layout;
using kernels::BnLayout;
using kernels::ptr_or_null;

// Sum over channel c of f(k) (double) for the flat indices k of its elements, plane by plane,
// the inner loop vectorised.
template <typename F>
double channel_sum(const BnLayout& L, int64_t c, F f) {
  double total = 0.0;
  for (int64_t n = 0; n < L.N; ++n) {
    const int64_t base = (n * L.C + c) * L.HW;
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < L.HW; ++j) s += f(base + j);
    total += s;
  }
  return total;
}

// Planes smaller than this take the small-plane path (see the top of the file).
constexpr int64_t kSmallPlane = 32;

// Small planes: calls f(c0, c1) on each thread with its range of channels [c0, c1).
template <typename F>
void for_each_channel_range(const BnLayout& L, F f) {
#pragma omp parallel if (L.N * L.C * L.HW >= kParallelGrain)
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t c0 = L.C * t / threads, c1 = L.C * (t + 1) / threads;
    if (c0 < c1) f(c0, c1);
  }
}

// Small planes: calls f(n) for every image n, in parallel for large tensors.
template <typename F>
void for_each_image(const BnLayout& L, F f) {
#pragma omp parallel for if (L.N * L.C * L.HW >= kParallelGrain)
  for (int64_t n = 0; n < L.N; ++n) f(n);
}

// Small planes: per-element copies of per-channel values over the span of channels [c0, c1)
// (element i of the span belongs to channel c0 + i / HW), so inner loops need no division.
template <typename V, typename F>
std::vector<V> expand_channels(const BnLayout& L, int64_t c0, int64_t c1, F value_of) {
  std::vector<V> e(static_cast<size_t>((c1 - c0) * L.HW));
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t j = 0; j < L.HW; ++j) e[(c - c0) * L.HW + j] = value_of(c);
  return e;
}

// Small planes: out[c - c0] = the sum over the planes of channel c of acc's per-element totals.
inline void fold_planes(const BnLayout& L, int64_t c0, int64_t c1, const std::vector<double>& acc, double* out) {
  for (int64_t c = c0; c < c1; ++c) {
    double s = 0.0;
    for (int64_t j = 0; j < L.HW; ++j) s += acc[(c - c0) * L.HW + j];
    out[c - c0] = s;
  }
}

// Calls f(plane base offset, c) for every (n, c) plane, in parallel for large tensors.
template <typename F>
void for_each_plane(const BnLayout& L, F f) {
  const int64_t planes = L.N * L.C;
#pragma omp parallel for if (planes * L.HW >= kParallelGrain)
  for (int64_t plane = 0; plane < planes; ++plane) f(plane * L.HW, plane % L.C);
}

template <typename T>
void bn_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                const Tensor& running_var, const Tensor& out, const Tensor& save_mean,
                const Tensor& save_invstd, const BatchNormArgs& args) {
  const BnLayout L = bn_layout(input);
  const int64_t M = L.N * L.HW;
  const T* x = input.data_ptr<T>();
  T* mean = save_mean.data_ptr<T>();
  T* invstd = save_invstd.data_ptr<T>();
  T* rm = ptr_or_null<T>(running_mean);
  T* rv = ptr_or_null<T>(running_var);
  auto finish_channel = [&](int64_t c, double mu, double var) {
    mean[c] = static_cast<T>(mu);
    invstd[c] = kernels::bn_invstd<T>(var, args.eps);
    if (rm) rm[c] = kernels::bn_running_update(rm[c], mu, args.momentum);
    if (rv) rv[c] = kernels::bn_running_update(rv[c], kernels::bn_unbiased_var(var, M), args.momentum);
  };
  const bool small = L.HW < kSmallPlane;
  if (args.training && small) {
    for_each_channel_range(L, [&](int64_t c0, int64_t c1) {
      const int64_t span = (c1 - c0) * L.HW;
      std::vector<double> acc(static_cast<size_t>(span), 0.0), mu(static_cast<size_t>(c1 - c0)),
          var(static_cast<size_t>(c1 - c0));
      for (int64_t n = 0; n < L.N; ++n) {
        const T* row = x + (n * L.C + c0) * L.HW;
#pragma omp simd
        for (int64_t i = 0; i < span; ++i) acc[i] += static_cast<double>(row[i]);
      }
      fold_planes(L, c0, c1, acc, mu.data());
      for (double& m : mu) m /= static_cast<double>(M);
      const std::vector<double> mu_e = expand_channels<double>(L, c0, c1, [&](int64_t c) { return mu[c - c0]; });
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t n = 0; n < L.N; ++n) {
        const T* row = x + (n * L.C + c0) * L.HW;
#pragma omp simd
        for (int64_t i = 0; i < span; ++i) {
          const double d = static_cast<double>(row[i]) - mu_e[i];
          acc[i] += d * d;
        }
      }
      fold_planes(L, c0, c1, acc, var.data());
      for (int64_t c = c0; c < c1; ++c) finish_channel(c, mu[c - c0], var[c - c0] / static_cast<double>(M));
    });
  } else if (args.training) {
#pragma omp parallel for if (M * L.C >= kParallelGrain)
    for (int64_t c = 0; c < L.C; ++c) {
      const double mu = channel_sum(L, c, [x](int64_t k) { return static_cast<double>(x[k]); }) / static_cast<double>(M);
      const double var = channel_sum(L, c, [x, mu](int64_t k) {
                           const double d = static_cast<double>(x[k]) - mu;
                           return d * d;
                         }) / static_cast<double>(M);
      finish_channel(c, mu, var);
    }
  } else {
    for (int64_t c = 0; c < L.C; ++c) {
      mean[c] = rm[c];
      invstd[c] = kernels::bn_invstd<T>(static_cast<double>(rv[c]), args.eps);
    }
  }
  const T* w = ptr_or_null<T>(weight);
  const T* b = ptr_or_null<T>(bias);
  T* y = out.data_ptr<T>();
  const bool relu = args.relu;
  if (small) {
    // the per-channel values copied per element of an image's C*HW span (same math as below)
    const std::vector<T> mu = expand_channels<T>(L, 0, L.C, [&](int64_t c) { return mean[c]; });
    const std::vector<T> is = expand_channels<T>(L, 0, L.C, [&](int64_t c) { return invstd[c]; });
    const std::vector<T> wc = expand_channels<T>(L, 0, L.C, [&](int64_t c) { return w ? w[c] : T(1); });
    const std::vector<T> bc = expand_channels<T>(L, 0, L.C, [&](int64_t c) { return b ? b[c] : T(0); });
    const int64_t span = L.C * L.HW;
    for_each_image(L, [&](int64_t n) {
      const T* p = x + n * span;
      T* o = y + n * span;
#pragma omp simd
      for (int64_t i = 0; i < span; ++i) {
        const T v = kernels::bn_normalize(p[i], mu[i], is[i], wc[i], bc[i]);
        o[i] = relu ? kernels::bn_relu(v) : v;
      }
    });
    return;
  }
  for_each_plane(L, [&](int64_t base, int64_t c) {
    const T mu = mean[c], is = invstd[c], wc = w ? w[c] : T(1), bc = b ? b[c] : T(0);
    const T* p = x + base;
    T* o = y + base;
#pragma omp simd
    for (int64_t j = 0; j < L.HW; ++j) {
      const T v = kernels::bn_normalize(p[j], mu, is, wc, bc);
      o[j] = relu ? kernels::bn_relu(v) : v;
    }
  });
}

// kRelu: the fused ReLU's mask, a compile-time switch so the loops stay vectorised.
template <typename T, bool kRelu>
void bn_backward(const Tensor& grad_out, const Tensor& input, const Tensor& weight, const Tensor& save_mean,
                 const Tensor& save_invstd, const Tensor& grad_input, const Tensor& grad_weight,
                 const Tensor& grad_bias, bool training, const Tensor& relu_output) {
  const BnLayout L = bn_layout(input);
  const int64_t M = L.N * L.HW;
  const T* x = input.data_ptr<T>();
  const T* dy = grad_out.data_ptr<T>();
  const T* relu_out = ptr_or_null<T>(relu_output);  // fused ReLU: dy counts where it is positive
  auto dy_at = [dy, relu_out](int64_t k) -> T {
    if constexpr (kRelu) return kernels::bn_relu_grad(dy[k], relu_out[k]);
    else return dy[k];
  };
  const T* mean = save_mean.data_ptr<T>();
  const T* invstd = save_invstd.data_ptr<T>();
  const T* w = ptr_or_null<T>(weight);
  T* gw = ptr_or_null<T>(grad_weight);
  T* gb = ptr_or_null<T>(grad_bias);
  const bool sums = (training && grad_input.defined()) || gw || gb;
  std::vector<kernels::BnBackwardTerms<T>> terms(static_cast<size_t>(L.C));
  const bool small = L.HW < kSmallPlane;
  if (small) {
    std::vector<double> sum_dy(static_cast<size_t>(L.C), 0.0), sum_dy_xhat(static_cast<size_t>(L.C), 0.0);
    if (sums)
      for_each_channel_range(L, [&](int64_t c0, int64_t c1) {
        const int64_t span = (c1 - c0) * L.HW;
        std::vector<double> a_dy(static_cast<size_t>(span), 0.0), a_dyx(static_cast<size_t>(span), 0.0);
        const std::vector<double> mu = expand_channels<double>(L, c0, c1, [&](int64_t c) { return static_cast<double>(mean[c]); });
        for (int64_t n = 0; n < L.N; ++n) {
          const int64_t base = (n * L.C + c0) * L.HW;
#pragma omp simd
          for (int64_t i = 0; i < span; ++i) {
            const double g = static_cast<double>(dy_at(base + i));
            a_dy[i] += g;
            a_dyx[i] += g * (static_cast<double>(x[base + i]) - mu[i]);
          }
        }
        fold_planes(L, c0, c1, a_dy, sum_dy.data() + c0);
        fold_planes(L, c0, c1, a_dyx, sum_dy_xhat.data() + c0);
      });
    for (int64_t c = 0; c < L.C; ++c) {
      const double s_dyx = sum_dy_xhat[c] * static_cast<double>(invstd[c]);
      if (gw) gw[c] = static_cast<T>(s_dyx);
      if (gb) gb[c] = static_cast<T>(sum_dy[c]);
      terms[c] = kernels::bn_backward_terms<T>(mean[c], invstd[c], w ? w[c] : T(1), sum_dy[c], s_dyx, M, training);
    }
    if (!grad_input.defined()) return;
    T* dx = grad_input.data_ptr<T>();
    // the terms per element, one array per field, so the loop below vectorises
    const std::vector<T> t_mean = expand_channels<T>(L, 0, L.C, [&](int64_t c) { return terms[c].mean; });
    const std::vector<T> t_scale = expand_channels<T>(L, 0, L.C, [&](int64_t c) { return terms[c].scale; });
    const std::vector<T> t_invstd = expand_channels<T>(L, 0, L.C, [&](int64_t c) { return terms[c].invstd; });
    const std::vector<T> t_dy = expand_channels<T>(L, 0, L.C, [&](int64_t c) { return terms[c].mean_dy; });
    const std::vector<T> t_dyx = expand_channels<T>(L, 0, L.C, [&](int64_t c) { return terms[c].mean_dy_xhat; });
    const int64_t span = L.C * L.HW;
    for_each_image(L, [&](int64_t n) {
      const int64_t base = n * span;
#pragma omp simd
      for (int64_t i = 0; i < span; ++i) {
        const kernels::BnBackwardTerms<T> t{t_mean[i], t_scale[i], t_invstd[i], t_dy[i], t_dyx[i]};
        dx[base + i] = kernels::bn_grad_input(dy_at(base + i), x[base + i], t);
      }
    });
    return;
  }
#pragma omp parallel for if (sums && M * L.C >= kParallelGrain)
  for (int64_t c = 0; c < L.C; ++c) {
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    if (sums) {
      const double mu = static_cast<double>(mean[c]);
      for (int64_t n = 0; n < L.N; ++n) {  // one pass over the channel for both sums
        const int64_t base = (n * L.C + c) * L.HW;
        const T* __restrict pd = dy + base;
        const T* __restrict px = x + base;
        // restrict and a multiplied mask (not a select) keep this loop vectorised: 22 -> 1.4 ms for
        // [8, 64, 112, 112] with the mask, 5.1 -> 1.0 without. A clamped position's dy counts as
        // dy * 0 (NaN stays NaN there, where the unfused ReLU backward gives 0).
        const T* __restrict po = kRelu ? relu_out + base : dy + base;  // the mask (unused without ReLU)
        double s_dy = 0.0, s_dyx = 0.0;
#pragma omp simd reduction(+ : s_dy, s_dyx)
        for (int64_t j = 0; j < L.HW; ++j) {
          T d = pd[j];
          if constexpr (kRelu) d = kernels::bn_relu_grad(d, po[j]);
          const double g = static_cast<double>(d);
          s_dy += g;
          s_dyx += g * (static_cast<double>(px[j]) - mu);
        }
        sum_dy += s_dy;
        sum_dy_xhat += s_dyx;
      }
      sum_dy_xhat *= static_cast<double>(invstd[c]);
    }
    if (gw) gw[c] = static_cast<T>(sum_dy_xhat);
    if (gb) gb[c] = static_cast<T>(sum_dy);
    terms[c] = kernels::bn_backward_terms<T>(mean[c], invstd[c], w ? w[c] : T(1), sum_dy, sum_dy_xhat, M, training);
  }
  if (!grad_input.defined()) return;
  T* dx = grad_input.data_ptr<T>();
  for_each_plane(L, [&](int64_t base, int64_t c) {
    const kernels::BnBackwardTerms<T> t = terms[c];
#pragma omp simd
    for (int64_t j = 0; j < L.HW; ++j)
      dx[base + j] = kernels::bn_grad_input(dy_at(base + j), x[base + j], t);
  });
}

}  // namespace

void CpuBackend::batch_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                    const Tensor& running_mean, const Tensor& running_var, const Tensor& out,
                                    const Tensor& save_mean, const Tensor& save_invstd, const BatchNormArgs& args) {
  dispatch_floating(input.dtype(), "batch_norm", [&]<typename T>() {
    bn_forward<T>(input, weight, bias, running_mean, running_var, out, save_mean, save_invstd, args);
  });
}

void CpuBackend::batch_norm_backward(const Tensor& grad_out, const Tensor& input, const Tensor& weight,
                                     const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_input,
                                     const Tensor& grad_weight, const Tensor& grad_bias, bool training,
                                     const Tensor& relu_output) {
  dispatch_floating(input.dtype(), "batch_norm_backward", [&]<typename T>() {
    if (relu_output.defined())
      bn_backward<T, true>(grad_out, input, weight, save_mean, save_invstd, grad_input, grad_weight, grad_bias,
                           training, relu_output);
    else
      bn_backward<T, false>(grad_out, input, weight, save_mean, save_invstd, grad_input, grad_weight, grad_bias,
                            training, relu_output);
  });
}

}  // namespace sepal::cpu
