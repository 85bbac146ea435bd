// optim.cu: the CUDA fused Adam/AdamW step, multi-tensor style (PyTorch's multi_tensor_apply,
// Apex's FusedAdam): up to kAdamMaxTensors tensors travel in one fixed-size kernel argument, so
// ResNet-18's 62 parameters take 2 launches instead of 62 x 14 elementwise kernels. Every
// tensor is cut into chunks of kAdamChunk elements; a grid sized to fill the GPU once walks all
// chunks of the launch (grid-stride), each block finding its tensor by a binary search over the
// chunk prefix sums. Threads load kAdamIlp elements of every operand before computing, to keep
// enough bytes in flight for HBM. The per-element math is kernels::adam_element (shared with the
// CPU) in single-rounding intrinsics, so the result equals the CPU bit for bit.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/elementwise.cuh"

namespace sepal::cuda {
namespace {

constexpr int kAdamMaxTensors = 48;
constexpr int64_t kAdamChunk = 8192;
constexpr int kAdamBlock = 256;
constexpr int kAdamIlp = 4;

// One launch's tensors (structure of arrays), passed by value as the kernel argument.
template <typename T>
struct AdamLaunch {
  T* param[kAdamMaxTensors];
  const T* grad[kAdamMaxTensors];
  T* exp_avg[kAdamMaxTensors];
  T* exp_avg_sq[kAdamMaxTensors];
  T* max_exp_avg_sq[kAdamMaxTensors];
  int64_t numel[kAdamMaxTensors];
  int64_t first_chunk[kAdamMaxTensors + 1];  // prefix sums of the tensors' chunk counts
  kernels::AdamTensorScalars<T> scalars[kAdamMaxTensors];
  int count;
};
// The classic 4 KiB kernel-argument limit (every GPU and driver), with the group scalars.
static_assert(sizeof(AdamLaunch<double>) + sizeof(kernels::AdamGroupScalars<double>) <= 4096,
              "AdamLaunch must fit the 4 KiB kernel argument limit");

template <typename T, bool kAmsgrad, kernels::AdamDecay kDecay, bool kMaximize>
__global__ void __launch_bounds__(kAdamBlock)
    adam_multi_tensor_kernel(const AdamLaunch<T> a, const kernels::AdamGroupScalars<T> s) {
  const int64_t total_chunks = a.first_chunk[a.count];
  for (int64_t chunk = blockIdx.x; chunk < total_chunks; chunk += gridDim.x) {
    int lo = 0, hi = a.count - 1;  // the last tensor whose first chunk is <= chunk
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (a.first_chunk[mid] <= chunk) lo = mid;
      else hi = mid - 1;
    }
    const int k = lo;
    const int64_t begin = (chunk - a.first_chunk[k]) * kAdamChunk;
    const int64_t end = a.numel[k] < begin + kAdamChunk ? a.numel[k] : begin + kAdamChunk;
    T* __restrict__ p = a.param[k];
    const T* __restrict__ g = a.grad[k];
    T* __restrict__ m = a.exp_avg[k];
    T* __restrict__ v = a.exp_avg_sq[k];
    T* __restrict__ vmax = a.max_exp_avg_sq[k];
    const kernels::AdamTensorScalars<T> t = a.scalars[k];
    for (int64_t base = begin + threadIdx.x; base < end; base += int64_t(kAdamBlock) * kAdamIlp) {
      T rp[kAdamIlp], rg[kAdamIlp], rm[kAdamIlp], rv[kAdamIlp], rx[kAdamIlp];
#pragma unroll
      for (int j = 0; j < kAdamIlp; ++j) {
        const int64_t i = base + int64_t(j) * kAdamBlock;
        if (i < end) {
          rp[j] = p[i];
          rg[j] = g[i];
          rm[j] = m[i];
          rv[j] = v[i];
          rx[j] = kAmsgrad ? vmax[i] : T(0);
        }
      }
#pragma unroll
      for (int j = 0; j < kAdamIlp; ++j) {
        const int64_t i = base + int64_t(j) * kAdamBlock;
        if (i < end) {
          kernels::adam_element<T, kAmsgrad, kDecay, kMaximize>(rp[j], rg[j], rm[j], rv[j], rx[j], s, t);
          p[i] = rp[j];
          m[i] = rm[j];
          v[i] = rv[j];
          if (kAmsgrad) vmax[i] = rx[j];
        }
      }
    }
  }
}

// Blocks that fill the device once: SMs x resident blocks of this kernel per SM.
template <typename Kernel>
int64_t full_grid(Kernel kernel, int device) {
  int sms = 0, per_sm = 0;
  SEPAL_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  SEPAL_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kAdamBlock, 0));
  return int64_t(std::max(sms, 1)) * std::max(per_sm, 1);
}

template <typename T, bool kAmsgrad, kernels::AdamDecay kDecay, bool kMaximize>
void adam_all(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args, int device) {
  const kernels::AdamGroupScalars<T> s = adam_group_scalars<T>(args);
  const int64_t max_grid = full_grid(adam_multi_tensor_kernel<T, kAmsgrad, kDecay, kMaximize>, device);
  AdamLaunch<T> a{};
  auto launch = [&] {
    const int64_t chunks = a.first_chunk[a.count];
    if (chunks > 0) {
      const unsigned grid = static_cast<unsigned>(std::min(chunks, max_grid));
      adam_multi_tensor_kernel<T, kAmsgrad, kDecay, kMaximize><<<grid, kAdamBlock>>>(a, s);
      SEPAL_CUDA_CHECK_LAUNCH();
    }
    a = AdamLaunch<T>{};
  };
  for (const AdamTensorSet& set : sets) {
    const int64_t n = set.param.numel();
    if (n == 0) continue;
    const int k = a.count;
    a.param[k] = set.param.data_ptr<T>();
    a.grad[k] = set.grad.data_ptr<T>();
    a.exp_avg[k] = set.exp_avg.data_ptr<T>();
    a.exp_avg_sq[k] = set.exp_avg_sq.data_ptr<T>();
    a.max_exp_avg_sq[k] = kAmsgrad ? set.max_exp_avg_sq.data_ptr<T>() : nullptr;
    a.numel[k] = n;
    a.scalars[k] = adam_tensor_scalars<T>(set);
    a.first_chunk[k + 1] = a.first_chunk[k] + (n + kAdamChunk - 1) / kAdamChunk;
    a.count = k + 1;
    if (a.count == kAdamMaxTensors) launch();
  }
  launch();
}

}  // namespace

void CudaBackend::adam_step(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args) {
  if (sets.empty()) return;
  DeviceGuard guard(index_);
  dispatch_floating(sets.front().param.dtype(), "adam_step", [&]<typename T>() {
    kernels::dispatch_adam_flags(args.amsgrad, args.decay, args.maximize,
                                 [&]<bool kAmsgrad, kernels::AdamDecay kDecay, bool kMaximize>() {
                                   adam_all<T, kAmsgrad, kDecay, kMaximize>(sets, args, index_);
                                 });
  });
}

}  // namespace sepal::cuda
