// norm.cu: CUDA batch normalisation over contiguous [N, C, HW] (HW = H*W, or 1 for [N, C]). The
// statistics and the backward reductions run one block per channel (double accumulators, a
// warp-shuffle block reduction); normalisation and grad_input are elementwise grid-stride passes.
// The per-element math is shared with the CPU backend (tensor/kernels/norm_pool.h).
#include <cstdint>

#include "tensor/cuda/check.h"
#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/elementwise.cuh"
#include "tensor/kernels/layouts.h"
#include "tensor/kernels/norm_pool.h"

namespace sepal::cuda {

namespace {

constexpr int kChannelThreads = 512;  // threads of a per-channel block

using kernels::bn_layout;
using kernels::BnLayout;
using kernels::ptr_or_null;

__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// The sum of v over the block, returned to every thread. scratch: kThreads / 32 + 1 doubles.
template <int kThreads>
__device__ double block_sum(double v, double* scratch) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "whole warps, at most 32 of them");
  constexpr int kWarps = kThreads / 32;
  const int lane = static_cast<int>(threadIdx.x) & 31, warp = static_cast<int>(threadIdx.x) >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    double t = warp_sum(lane < kWarps ? scratch[lane] : 0.0);
    if (lane == 0) scratch[kWarps] = t;
  }
  __syncthreads();
  const double total = scratch[kWarps];
  __syncthreads();  // scratch is reused by the next call
  return total;
}

// Flat index of element i (0 <= i < N*HW) of channel c.
__device__ __forceinline__ int64_t channel_element(int64_t i, int64_t c, int64_t C, int64_t HW) {
  const int64_t n = i / HW;
  return (n * C + c) * HW + (i - n * HW);
}

// One block per channel: batch mean and biased variance (two passes), saved statistics and the
// running-statistics update.
template <typename T>
__global__ void __launch_bounds__(kChannelThreads)
    bn_stats_kernel(const T* x, BnLayout L, T* save_mean, T* save_invstd, T* running_mean, T* running_var,
                    BatchNormArgs args) {
  __shared__ double scratch[kChannelThreads / 32 + 1];
  const int64_t c = blockIdx.x, M = L.N * L.HW;
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < M; i += kChannelThreads) s += static_cast<double>(x[channel_element(i, c, L.C, L.HW)]);
  const double mean = block_sum<kChannelThreads>(s, scratch) / static_cast<double>(M);
  double sq = 0.0;
  for (int64_t i = threadIdx.x; i < M; i += kChannelThreads) {
    const double d = static_cast<double>(x[channel_element(i, c, L.C, L.HW)]) - mean;
    sq += d * d;
  }
  const double var = block_sum<kChannelThreads>(sq, scratch) / static_cast<double>(M);
  if (threadIdx.x == 0) {
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = kernels::bn_invstd<T>(var, args.eps);
    if (running_mean) running_mean[c] = kernels::bn_running_update(running_mean[c], mean, args.momentum);
    if (running_var)
      running_var[c] = kernels::bn_running_update(running_var[c], kernels::bn_unbiased_var(var, M), args.momentum);
  }
}

// Eval: the saved statistics are the running ones.
template <typename T>
__global__ void __launch_bounds__(kBlockSize)
    bn_eval_stats_kernel(const T* running_mean, const T* running_var, int64_t C, double eps, T* save_mean,
                         T* save_invstd) {
  for (int64_t c = global_thread_index(); c < C; c += grid_stride()) {
    save_mean[c] = running_mean[c];
    save_invstd[c] = kernels::bn_invstd<T>(static_cast<double>(running_var[c]), eps);
  }
}

template <typename T>
__global__ void __launch_bounds__(kBlockSize)
    bn_normalize_kernel(const T* x, T* y, int64_t total, BnLayout L, const T* mean, const T* invstd, const T* w,
                        const T* b, bool relu) {
  for (int64_t i = global_thread_index(); i < total; i += grid_stride()) {
    const int64_t c = (i / L.HW) % L.C;
    const T v = kernels::bn_normalize(x[i], mean[c], invstd[c], w ? w[c] : T(1), b ? b[c] : T(0));
    y[i] = relu ? kernels::bn_relu(v) : v;
  }
}

// One block per channel: sum(dy) and sum(dy * xhat), grad_weight/grad_bias, and the channel's
// terms for the grad_input pass.
template <typename T>
__global__ void __launch_bounds__(kChannelThreads)
    bn_backward_reduce_kernel(const T* dy, const T* x, const T* relu_out, BnLayout L, const T* mean, const T* invstd,
                              const T* w, bool training, T* grad_weight, T* grad_bias,
                              kernels::BnBackwardTerms<T>* terms) {
  __shared__ double scratch[kChannelThreads / 32 + 1];
  const int64_t c = blockIdx.x, M = L.N * L.HW;
  const double mu = static_cast<double>(mean[c]);
  double s_dy = 0.0, s_dyx = 0.0;
  for (int64_t i = threadIdx.x; i < M; i += kChannelThreads) {
    const int64_t k = channel_element(i, c, L.C, L.HW);
    const double g = static_cast<double>((relu_out ? kernels::bn_relu_grad(dy[k], relu_out[k]) : dy[k]));
    s_dy += g;
    s_dyx += g * (static_cast<double>(x[k]) - mu);
  }
  const double sum_dy = block_sum<kChannelThreads>(s_dy, scratch);
  const double sum_dy_xhat = block_sum<kChannelThreads>(s_dyx, scratch) * static_cast<double>(invstd[c]);
  if (threadIdx.x == 0) {
    if (grad_weight) grad_weight[c] = static_cast<T>(sum_dy_xhat);
    if (grad_bias) grad_bias[c] = static_cast<T>(sum_dy);
    terms[c] = kernels::bn_backward_terms<T>(mean[c], invstd[c], w ? w[c] : T(1), sum_dy, sum_dy_xhat, M, training);
  }
}

// Eval mode needs no sums for grad_input: the terms come straight from the saved statistics.
template <typename T>
__global__ void __launch_bounds__(kBlockSize)
    bn_eval_terms_kernel(const T* mean, const T* invstd, const T* w, int64_t C, kernels::BnBackwardTerms<T>* terms) {
  for (int64_t c = global_thread_index(); c < C; c += grid_stride())
    terms[c] = kernels::bn_backward_terms<T>(mean[c], invstd[c], w ? w[c] : T(1), 0.0, 0.0, 1, false);
}

template <typename T>
__global__ void __launch_bounds__(kBlockSize)
    bn_grad_input_kernel(const T* dy, const T* x, const T* relu_out, T* dx, int64_t total, BnLayout L,
                         const kernels::BnBackwardTerms<T>* terms) {
  for (int64_t i = global_thread_index(); i < total; i += grid_stride())
    dx[i] = kernels::bn_grad_input((relu_out ? kernels::bn_relu_grad(dy[i], relu_out[i]) : dy[i]), x[i], terms[(i / L.HW) % L.C]);
}

}  // namespace

void CudaBackend::batch_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                     const Tensor& running_mean, const Tensor& running_var, const Tensor& out,
                                     const Tensor& save_mean, const Tensor& save_invstd, const BatchNormArgs& args) {
  DeviceGuard guard(index_);
  dispatch_floating(input.dtype(), "batch_norm", [&]<typename T>() {
    const BnLayout L = bn_layout(input);
    if (L.C == 0) return;
    if (args.training) {
      if (L.N * L.HW == 0) return;
      bn_stats_kernel<T><<<static_cast<unsigned>(L.C), kChannelThreads>>>(
          input.data_ptr<T>(), L, save_mean.data_ptr<T>(), save_invstd.data_ptr<T>(), ptr_or_null<T>(running_mean),
          ptr_or_null<T>(running_var), args);
    } else {
      bn_eval_stats_kernel<T><<<grid_for(L.C), kBlockSize>>>(running_mean.data_ptr<T>(), running_var.data_ptr<T>(),
                                                             L.C, args.eps, save_mean.data_ptr<T>(),
                                                             save_invstd.data_ptr<T>());
    }
    SEPAL_CUDA_CHECK_LAUNCH();
    const int64_t total = input.numel();
    if (total == 0) return;
    bn_normalize_kernel<T><<<grid_for(total), kBlockSize>>>(input.data_ptr<T>(), out.data_ptr<T>(), total, L,
                                                            save_mean.data_ptr<T>(), save_invstd.data_ptr<T>(),
                                                            ptr_or_null<T>(weight), ptr_or_null<T>(bias), args.relu);
    SEPAL_CUDA_CHECK_LAUNCH();
  });
}

void CudaBackend::batch_norm_backward(const Tensor& grad_out, const Tensor& input, const Tensor& weight,
                                      const Tensor& save_mean, const Tensor& save_invstd, const Tensor& grad_input,
                                      const Tensor& grad_weight, const Tensor& grad_bias, bool training,
                                      const Tensor& relu_output) {
  DeviceGuard guard(index_);
  dispatch_floating(input.dtype(), "batch_norm_backward", [&]<typename T>() {
    using Terms = kernels::BnBackwardTerms<T>;
    static_assert(sizeof(Terms) == 5 * sizeof(T), "BnBackwardTerms is five packed scalars");
    const BnLayout L = bn_layout(input);
    if (L.C == 0) return;
    // per-channel terms of the grad_input pass, in a scratch tensor of this device
    Tensor scratch = empty({L.C, 5}, TensorOptions().dtype(input.dtype()).device(device()));
    Terms* terms = reinterpret_cast<Terms*>(scratch.data_ptr<T>());
    const T* mean = save_mean.data_ptr<T>();
    const T* invstd = save_invstd.data_ptr<T>();
    const T* w = ptr_or_null<T>(weight);
    const T* relu_out = ptr_or_null<T>(relu_output);
    const bool sums = (training && grad_input.defined()) || grad_weight.defined() || grad_bias.defined();
    if (sums) {
      bn_backward_reduce_kernel<T><<<static_cast<unsigned>(L.C), kChannelThreads>>>(
          grad_out.data_ptr<T>(), input.data_ptr<T>(), relu_out, L, mean, invstd, w, training, ptr_or_null<T>(grad_weight),
          ptr_or_null<T>(grad_bias), terms);
    } else {
      bn_eval_terms_kernel<T><<<grid_for(L.C), kBlockSize>>>(mean, invstd, w, L.C, terms);
    }
    SEPAL_CUDA_CHECK_LAUNCH();
    const int64_t total = input.numel();
    if (!grad_input.defined() || total == 0) return;
    bn_grad_input_kernel<T><<<grid_for(total), kBlockSize>>>(grad_out.data_ptr<T>(), input.data_ptr<T>(), relu_out,
                                                             grad_input.data_ptr<T>(), total, L, terms);
    SEPAL_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace sepal::cuda
