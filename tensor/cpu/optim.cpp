// optim.cpp: the CPU fused Adam/AdamW step. Every tensor of the call is cut into chunks of
// kAdamChunk elements and one OpenMP loop runs over all chunks of all tensors (so 62 ResNet
// tensors, from 64 to 2.4M elements, split evenly over the threads); each chunk is one
// vectorised pass that reads param, grad, exp_avg, exp_avg_sq (and max_exp_avg_sq) once and
// writes them back once. The per-element math is kernels::adam_element, shared with CUDA.
// This file is compiled with -ffp-contract=off -fno-math-errno (CMakeLists.txt): no FMA
// contraction, so the result equals the per-tensor raw ops bit for bit, and sqrt vectorises.
#include <omp.h>

#include <cstdint>
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/loops.h"

namespace sepal::cpu {
namespace {

constexpr int64_t kAdamChunk = 16384;  // 64 KiB of float32 per operand: stays in L2 per pass

struct AdamChunk {
  int64_t set;
  int64_t begin, end;
};

template <typename T, bool kAmsgrad, kernels::AdamDecay kDecay, bool kMaximize>
void adam_range(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                T* __restrict vmax, int64_t n, const kernels::AdamGroupScalars<T> s,
                const kernels::AdamTensorScalars<T> t) {
  if constexpr (kAmsgrad) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i)
      kernels::adam_element<T, kAmsgrad, kDecay, kMaximize>(p[i], g[i], m[i], v[i], vmax[i], s, t);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      T unused = T(0);
      kernels::adam_element<T, kAmsgrad, kDecay, kMaximize>(p[i], g[i], m[i], v[i], unused, s, t);
    }
  }
}

// Raw pointers of one set, taken before the parallel loop (data_ptr may throw; a loop body may not).
template <typename T>
struct AdamPointers {
  T *p, *g, *m, *v, *vmax;
  kernels::AdamTensorScalars<T> scalars;
};

template <typename T, bool kAmsgrad, kernels::AdamDecay kDecay, bool kMaximize>
void adam_all(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args) {
  std::vector<AdamPointers<T>> ptrs;
  std::vector<AdamChunk> chunks;
  int64_t total = 0;
  for (size_t k = 0; k < sets.size(); ++k) {
    const AdamTensorSet& set = sets[k];
    ptrs.push_back({set.param.data_ptr<T>(), set.grad.data_ptr<T>(), set.exp_avg.data_ptr<T>(),
                    set.exp_avg_sq.data_ptr<T>(), kAmsgrad ? set.max_exp_avg_sq.data_ptr<T>() : nullptr,
                    adam_tensor_scalars<T>(set)});
    const int64_t n = set.param.numel();
    total += n;
    for (int64_t b = 0; b < n; b += kAdamChunk)
      chunks.push_back({static_cast<int64_t>(k), b, std::min(n, b + kAdamChunk)});
  }
  const kernels::AdamGroupScalars<T> s = adam_group_scalars<T>(args);
  const int64_t count = static_cast<int64_t>(chunks.size());
  const bool parallel = total >= kParallelGrain && omp_get_max_threads() > 1;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t c = 0; c < count; ++c) {
    const AdamChunk ch = chunks[c];
    const AdamPointers<T>& q = ptrs[ch.set];
    adam_range<T, kAmsgrad, kDecay, kMaximize>(q.p + ch.begin, q.g + ch.begin, q.m + ch.begin,
                                               q.v + ch.begin, kAmsgrad ? q.vmax + ch.begin : nullptr,
                                               ch.end - ch.begin, s, q.scalars);
  }
}

}  // namespace

void CpuBackend::adam_step(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args) {
  if (sets.empty()) return;
  dispatch_floating(sets.front().param.dtype(), "adam_step", [&]<typename T>() {
    kernels::dispatch_adam_flags(args.amsgrad, args.decay, args.maximize,
                                 [&]<bool kAmsgrad, kernels::AdamDecay kDecay, bool kMaximize>() {
                                   adam_all<T, kAmsgrad, kDecay, kMaximize>(sets, args);
                                 });
  });
}

}  // namespace sepal::cpu
