// loops.h: the CPU elementwise engine. cpu_map(f, out, in...) computes out[i] = f(in[i]...)
// for tensors of one shape with any strides: dims are coalesced, the index space is split
// across OpenMP threads, and the innermost run is a plain loop that the compiler vectorises
// when every operand is contiguous in it.
#pragma once
#include <omp.h>

#include <array>
#include <cstdint>
#include <utility>

#include "tensor/tensor.h"

namespace sepal::cpu {

constexpr int kMaxDims = 16;
constexpr int64_t kParallelGrain = 32768;  // elements below which a loop stays serial

// Operand geometry after coalescing: sizes of each dim (outermost first) and byte strides.
template <int N>
struct Geometry {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[N][kMaxDims];
};

template <int N>
Geometry<N> make_geometry(const std::array<const Tensor*, N>& ops) {
  Geometry<N> g;
  const Shape& shape = ops[0]->shape();
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // size-1 dims never move the index
    int i = g.ndim;
    // merge with the previous dim when every operand is contiguous across the two
    if (i > 0) {
      bool merge = true;
      for (int k = 0; k < N; ++k)
        merge = merge && g.strides[k][i - 1] ==
                             ops[k]->strides()[d] * static_cast<int64_t>(ops[k]->element_size()) * shape[d];
      if (merge) {
        g.sizes[i - 1] *= shape[d];
        for (int k = 0; k < N; ++k)
          g.strides[k][i - 1] = ops[k]->strides()[d] * static_cast<int64_t>(ops[k]->element_size());
        continue;
      }
    }
    g.sizes[i] = shape[d];
    for (int k = 0; k < N; ++k)
      g.strides[k][i] = ops[k]->strides()[d] * static_cast<int64_t>(ops[k]->element_size());
    ++g.ndim;
  }
  if (g.ndim == 0) {  // a scalar or all-ones shape
    g.ndim = 1;
    g.sizes[0] = 1;
    for (int k = 0; k < N; ++k) g.strides[k][0] = 0;
  }
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
  Geometry<N> g = make_geometry<N>(ops);
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
  std::array<const Tensor*, N> ops{&out, in[I]...};
  for_each_run<N>(ops, [f](char* const* p, const int64_t* s, int64_t count) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    bool contiguous = s[0] == static_cast<int64_t>(sizeof(Out)) &&
                      ((s[1 + I] == static_cast<int64_t>(sizeof(In))) && ...);
    if (contiguous) {
      std::tuple<const In*...> ip{reinterpret_cast<const In*>(p[1 + I])...};
#pragma omp simd
      for (int64_t j = 0; j < count; ++j) o[j] = f(std::get<I>(ip)[j]...);
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
