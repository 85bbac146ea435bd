// loops.h: the CPU elementwise engine. cpu_map(f, out, in...) computes out[i] = f(in[i]...)
// for tensors of one shape with any strides: dims are coalesced, the index space is split
// across OpenMP threads, and the innermost run is a plain loop that the compiler vectorises
// when every operand is contiguous in it. Outputs too large to stay in the cache are written
// with non-temporal (streaming) stores, which skip reading each output line before writing it.
#pragma once
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <utility>

#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
#define SEPAL_CPU_STREAMING 1
#else
#define SEPAL_CPU_STREAMING 0
#endif

#include "tensor/elementwise_geometry.h"
#include "tensor/tensor.h"

namespace sepal::cpu {

constexpr int kMaxDims = kMaxElementwiseDims;
constexpr int64_t kParallelGrain = 32768;  // elements below which a loop stays serial
// Outputs of at least this many bytes are written with streaming stores. An ordinary store
// first reads the line it writes (read-for-ownership), so c = a + b moves 4 lines per 3 useful
// ones; a streaming store does not, but leaves the result out of the cache. 16 MiB is past any
// core's L2 and half a typical L3 slice: an output that large, plus its inputs, is evicted
// before the next op could reuse it anyway.
constexpr int64_t kStreamingBytes = int64_t(16) << 20;
constexpr int64_t kStreamingMinRun = 1024;  // shorter runs use ordinary stores

// Writes 64 bytes from `src` to the 64-byte-aligned `dst` without reading dst's line first.
// The caller ends a sequence of these with stream_fence() before other threads read the data.
inline void stream_store_64(void* dst, const void* src) {
#if SEPAL_CPU_STREAMING && defined(__AVX512F__)
  _mm512_stream_si512(static_cast<__m512i*>(dst), _mm512_loadu_si512(src));
#elif SEPAL_CPU_STREAMING && defined(__AVX__)
  auto* d = static_cast<__m256i*>(dst);
  auto* s = static_cast<const __m256i*>(src);
  _mm256_stream_si256(d, _mm256_loadu_si256(s));
  _mm256_stream_si256(d + 1, _mm256_loadu_si256(s + 1));
#elif SEPAL_CPU_STREAMING
  auto* d = static_cast<__m128i*>(dst);
  auto* s = static_cast<const __m128i*>(src);
  for (int i = 0; i < 4; ++i) _mm_stream_si128(d + i, _mm_loadu_si128(s + i));
#else
  std::memcpy(dst, src, 64);
#endif
}
inline void stream_fence() {
#if SEPAL_CPU_STREAMING
  _mm_sfence();
#endif
}

// Geometry with byte strides (the CPU loops step char pointers).
template <int N>
Geometry<N> byte_geometry(const std::array<const Tensor*, N>& ops) {
  Geometry<N> g = coalesce<N>(ops);
  for (int k = 0; k < N; ++k)
    for (int d = 0; d < g.ndim; ++d) g.strides[k][d] *= static_cast<int64_t>(ops[k]->element_size());
  return g;
}

// Calls inner(ptrs, inner_strides, count) over runs of the innermost dim covering [begin, end).
template <int N, typename Inner>
void for_range(const Geometry<N>& g, char* const* base, int64_t begin, int64_t end, Inner& inner) {
  const int last = g.ndim - 1;
  int64_t index[kMaxDims];
  int64_t rem = begin;
  for (int d = last; d >= 0; --d) {
    index[d] = rem % g.sizes[d];
    rem /= g.sizes[d];
  }
  int64_t inner_strides[N];
  for (int k = 0; k < N; ++k) inner_strides[k] = g.strides[k][last];
  int64_t pos = begin;
  while (pos < end) {
    char* ptrs[N];
    for (int k = 0; k < N; ++k) {
      int64_t off = 0;
      for (int d = 0; d < g.ndim; ++d) off += index[d] * g.strides[k][d];
      ptrs[k] = base[k] + off;
    }
    int64_t count = std::min(g.sizes[last] - index[last], end - pos);
    inner(ptrs, inner_strides, count);
    pos += count;
    index[last] += count;
    for (int d = last; d > 0 && index[d] == g.sizes[d]; --d) {
      index[d] = 0;
      ++index[d - 1];
    }
  }
}

template <int N, typename Inner>
void for_each_run(const std::array<const Tensor*, N>& ops, Inner inner) {
  Geometry<N> g = byte_geometry<N>(ops);
  char* base[N];
  for (int k = 0; k < N; ++k) base[k] = static_cast<char*>(ops[k]->raw_data());
  const int64_t total = ops[0]->numel();
  if (total < kParallelGrain || omp_get_max_threads() == 1) {
    for_range<N>(g, base, 0, total, inner);
    return;
  }
#pragma omp parallel
  {
    int threads = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (total + threads - 1) / threads;
    int64_t begin = std::min(total, chunk * t), end = std::min(total, begin + chunk);
    if (begin < end) for_range<N>(g, base, begin, end, inner);
  }
}

// out[i] = f(in[i]...) where Out and In... are the element types.
template <typename Out, typename... In, typename F, size_t... I>
void cpu_map_impl(F f, std::index_sequence<I...>, const Tensor& out, const std::array<const Tensor*, sizeof...(In)>& in) {
  constexpr int N = 1 + sizeof...(In);
  constexpr int64_t W = 64 / static_cast<int64_t>(sizeof(Out));  // elements per cache line
  constexpr bool can_stream = SEPAL_CPU_STREAMING && 64 % sizeof(Out) == 0;
  const bool stream = can_stream && out.numel() * static_cast<int64_t>(sizeof(Out)) >= kStreamingBytes;
  std::array<const Tensor*, N> ops{&out, in[I]...};
  for_each_run<N>(ops, [f, stream](char* const* p, const int64_t* s, int64_t count) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    bool contiguous = s[0] == static_cast<int64_t>(sizeof(Out)) &&
                      ((s[1 + I] == static_cast<int64_t>(sizeof(In))) && ...);
    if (contiguous) {
      std::tuple<const In*...> ip{reinterpret_cast<const In*>(p[1 + I])...};
      int64_t j = 0;
      if constexpr (can_stream) {
        const auto addr = reinterpret_cast<uintptr_t>(o);
        if (stream && count >= kStreamingMinRun && addr % sizeof(Out) == 0) {
          // ordinary stores up to the first 64-byte boundary, then whole lines streamed
          const int64_t head = static_cast<int64_t>((64 - addr % 64) % 64 / sizeof(Out));
          for (; j < head; ++j) o[j] = f(std::get<I>(ip)[j]...);
          for (; j + W <= count; j += W) {
            alignas(64) Out line[W];
#pragma omp simd
            for (int64_t w = 0; w < W; ++w) line[w] = f(std::get<I>(ip)[j + w]...);
            stream_store_64(o + j, line);
          }
          stream_fence();
        }
      }
#pragma omp simd
      for (int64_t k = j; k < count; ++k) o[k] = f(std::get<I>(ip)[k]...);
    } else {
      for (int64_t j = 0; j < count; ++j)
        *reinterpret_cast<Out*>(p[0] + j * s[0]) = f(*reinterpret_cast<const In*>(p[1 + I] + j * s[1 + I])...);
    }
  });
}

template <typename Out, typename... In, typename F>
void cpu_map(F f, const Tensor& out, const std::array<const Tensor*, sizeof...(In)>& in) {
  cpu_map_impl<Out, In...>(f, std::index_sequence_for<In...>{}, out, in);
}

}  // namespace sepal::cpu
