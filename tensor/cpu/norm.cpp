// norm.cpp: CPU batch normalisation over contiguous [N, C, HW] (HW = H*W, or 1 for [N, C]).
// Statistics and backward reductions run one channel per OpenMP thread and accumulate in double;
// the normalisation and grad_input passes run over the N*C planes with a vectorised inner loop
// over HW. The per-element math is shared with CUDA (tensor/kernels/norm_pool.h).
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/loops.h"
#include "tensor/kernels/norm_pool.h"

namespace sepal::cpu {

namespace {

struct BnLayout {
  int64_t N, C, HW;
};
BnLayout bn_layout(const Tensor& x) {
  const int64_t N = x.size(0), C = x.size(1);
  return {N, C, N * C == 0 ? 0 : x.numel() / (N * C)};
}

template <typename T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

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
  if (args.training) {
#pragma omp parallel for if (M * L.C >= kParallelGrain)
    for (int64_t c = 0; c < L.C; ++c) {
      const double mu = channel_sum(L, c, [x](int64_t k) { return static_cast<double>(x[k]); }) / static_cast<double>(M);
      const double var = channel_sum(L, c, [x, mu](int64_t k) {
                           const double d = static_cast<double>(x[k]) - mu;
                           return d * d;
                         }) / static_cast<double>(M);
      mean[c] = static_cast<T>(mu);
      invstd[c] = kernels::bn_invstd<T>(var, args.eps);
      if (rm) rm[c] = kernels::bn_running_update(rm[c], mu, args.momentum);
      if (rv) rv[c] = kernels::bn_running_update(rv[c], kernels::bn_unbiased_var(var, M), args.momentum);
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
  for_each_plane(L, [&](int64_t base, int64_t c) {
    const T mu = mean[c], is = invstd[c], wc = w ? w[c] : T(1), bc = b ? b[c] : T(0);
    const T* p = x + base;
    T* o = y + base;
#pragma omp simd
    for (int64_t j = 0; j < L.HW; ++j) o[j] = kernels::bn_normalize(p[j], mu, is, wc, bc);
  });
}

template <typename T>
void bn_backward(const Tensor& grad_out, const Tensor& input, const Tensor& weight, const Tensor& save_mean,
                 const Tensor& save_invstd, const Tensor& grad_input, const Tensor& grad_weight,
                 const Tensor& grad_bias, bool training) {
  const BnLayout L = bn_layout(input);
  const int64_t M = L.N * L.HW;
  const T* x = input.data_ptr<T>();
  const T* dy = grad_out.data_ptr<T>();
  const T* mean = save_mean.data_ptr<T>();
  const T* invstd = save_invstd.data_ptr<T>();
  const T* w = ptr_or_null<T>(weight);
  T* gw = ptr_or_null<T>(grad_weight);
  T* gb = ptr_or_null<T>(grad_bias);
  const bool sums = (training && grad_input.defined()) || gw || gb;
  std::vector<kernels::BnBackwardTerms<T>> terms(static_cast<size_t>(L.C));
#pragma omp parallel for if (sums && M * L.C >= kParallelGrain)
  for (int64_t c = 0; c < L.C; ++c) {
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    if (sums) {
      const double mu = static_cast<double>(mean[c]);
      for (int64_t n = 0; n < L.N; ++n) {  // one pass over the channel for both sums
        const int64_t base = (n * L.C + c) * L.HW;
        double s_dy = 0.0, s_dyx = 0.0;
#pragma omp simd reduction(+ : s_dy, s_dyx)
        for (int64_t j = 0; j < L.HW; ++j) {
          const double g = static_cast<double>(dy[base + j]);
          s_dy += g;
          s_dyx += g * (static_cast<double>(x[base + j]) - mu);
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
    for (int64_t j = 0; j < L.HW; ++j) dx[base + j] = kernels::bn_grad_input(dy[base + j], x[base + j], t);
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
                                     const Tensor& grad_weight, const Tensor& grad_bias, bool training) {
  dispatch_floating(input.dtype(), "batch_norm_backward", [&]<typename T>() {
    bn_backward<T>(grad_out, input, weight, save_mean, save_invstd, grad_input, grad_weight, grad_bias, training);
  });
}

}  // namespace sepal::cpu
