// elementwise.cuh: the CUDA elementwise engine. cuda_map<Out, In...>(f, out, {&in...}) computes
// out[i] = f(in[i]...) for tensors of one shape with any element strides (0 for broadcast), the
// counterpart of cpu::cpu_map. Dims are coalesced on the host, then a grid-stride kernel runs
// either the contiguous fast path (plain indexing) or a strided path that turns each linear
// index into per-operand offsets (32-bit index math when the tensor has < 2^31 elements).
// cuda_generate(f, out) fills a contiguous tensor with out[i] = f(i) (arange, random).
#pragma once
#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <string>
#include <utility>

#include "tensor/cuda/check.h"
#include "tensor/elementwise_geometry.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

namespace sepal::cuda {

constexpr int kBlockSize = 256;
// Grid cap: kernels loop (grid-stride), so any size runs; 65536 blocks of 256 threads already
// oversubscribe every current GPU many times and stay far below the 2^31 - 1 grid limit.
constexpr int64_t kMaxBlocks = int64_t(1) << 16;

inline unsigned grid_for(int64_t n, int block = kBlockSize) {
  int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, kMaxBlocks));
}

// Coalesced operand geometry (tensor/elementwise_geometry.h, shared with the CPU engine) plus the
// device-side index math. Passed to kernels by value.
template <int N>
struct OffsetCalculator : Geometry<N> {
  // Element offsets of linear index `linear` (row-major over `sizes`) in every operand. Host
  // callable too, so the index math can be checked without a GPU. (The k loops have a constant
  // trip count and are unrolled by nvcc.)
  template <typename IndexT>
  __host__ __device__ __forceinline__ void offsets(int64_t linear, int64_t (&off)[N]) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    IndexT rem = static_cast<IndexT>(linear);
    for (int d = this->ndim - 1; d >= 0; --d) {
      const IndexT size = static_cast<IndexT>(this->sizes[d]);
      const IndexT idx = rem % size;
      rem /= size;
      for (int k = 0; k < N; ++k) off[k] += static_cast<int64_t>(idx) * this->strides[k][d];
    }
  }
};

template <int N>
OffsetCalculator<N> make_offset_calculator(const std::array<const Tensor*, N>& ops) {
  return OffsetCalculator<N>{coalesce<N>(ops)};
}

// ---- kernels ----
__device__ __forceinline__ int64_t global_thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

template <typename F, typename Out, typename... In>
__global__ void __launch_bounds__(kBlockSize)
    map_contiguous_kernel(F f, int64_t n, Out* out, const In*... in) {
  for (int64_t i = global_thread_index(); i < n; i += grid_stride()) out[i] = f(in[i]...);
}

template <typename F, typename Out, typename... In, size_t... I>
__device__ __forceinline__ void store_at(const F& f, Out* out, const int64_t* off,
                                         std::index_sequence<I...>, const In*... in) {
  out[off[0]] = f(in[off[1 + I]]...);
}

template <typename IndexT, typename F, typename Out, typename... In>
__global__ void __launch_bounds__(kBlockSize)
    map_strided_kernel(F f, int64_t n, OffsetCalculator<1 + sizeof...(In)> calc, Out* out,
                       const In*... in) {
  constexpr int N = 1 + sizeof...(In);
  for (int64_t i = global_thread_index(); i < n; i += grid_stride()) {
    int64_t off[N];
    calc.template offsets<IndexT>(i, off);
    store_at(f, out, off, std::index_sequence_for<In...>{}, in...);
  }
}

template <typename F, typename Out>
__global__ void __launch_bounds__(kBlockSize) generate_kernel(F f, int64_t n, Out* out) {
  for (int64_t i = global_thread_index(); i < n; i += grid_stride()) out[i] = f(i);
}

// ---- launchers (host) ----
template <typename Out, typename... In, typename F, size_t... I>
void cuda_map_impl(F f, std::index_sequence<I...>, const Tensor& out,
                   const std::array<const Tensor*, sizeof...(In)>& in) {
  constexpr int N = 1 + sizeof...(In);
  const int64_t n = out.numel();
  if (n == 0) return;
  std::array<const Tensor*, N> ops{&out, in[I]...};
  const OffsetCalculator<N> calc = make_offset_calculator<N>(ops);
  Out* o = out.data_ptr<Out>();  // data_ptr checks each operand's dtype against its C++ type
  const unsigned grid = grid_for(n);
  if (n == 1 || calc.contiguous()) {
    map_contiguous_kernel<F, Out, In...><<<grid, kBlockSize>>>(f, n, o, in[I]->template data_ptr<In>()...);
  } else if (n <= INT32_MAX) {
    map_strided_kernel<uint32_t, F, Out, In...>
        <<<grid, kBlockSize>>>(f, n, calc, o, in[I]->template data_ptr<In>()...);
  } else {
    map_strided_kernel<uint64_t, F, Out, In...>
        <<<grid, kBlockSize>>>(f, n, calc, o, in[I]->template data_ptr<In>()...);
  }
  SEPAL_CUDA_CHECK_LAUNCH();
}

// out[i] = f(in[i]...) where Out and In... are the element types; all tensors have out's shape
// and live on the current device.
template <typename Out, typename... In, typename F>
void cuda_map(F f, const Tensor& out, const std::array<const Tensor*, sizeof...(In)>& in) {
  cuda_map_impl<Out, In...>(f, std::index_sequence_for<In...>{}, out, in);
}

// out[i] = f(i) for a contiguous `out` (f takes the int64 linear index).
template <typename Out, typename F>
void cuda_generate(F f, const Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  if (!out.is_contiguous()) throw Error("cuda_generate: output must be contiguous");
  generate_kernel<F, Out><<<grid_for(n), kBlockSize>>>(f, n, out.data_ptr<Out>());
  SEPAL_CUDA_CHECK_LAUNCH();
}

}  // namespace sepal::cuda
