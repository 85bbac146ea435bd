// elementwise_geometry.h: the operand geometry shared by the CPU and CUDA elementwise engines.
// For tensors of one shape with any strides, coalesce() visits the dims in the output's memory
// order (outermost stride first, so a channels-last output is walked N, H, W, C), drops size-1
// dims and merges neighbours that every operand traverses contiguously: an op over dense tensors
// of one layout becomes one flat dim and a broadcast stays a short loop nest. Host-only; strides
// are in elements.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "tensor/error.h"
#include "tensor/tensor.h"

namespace sepal {

constexpr int kMaxElementwiseDims = 16;

template <int N>
struct Geometry {
  int ndim = 0;
  int64_t sizes[kMaxElementwiseDims];
  int64_t strides[N][kMaxElementwiseDims];  // operand k's element stride in dim d

  bool contiguous() const {
    if (ndim != 1) return false;
    for (int k = 0; k < N; ++k)
      if (strides[k][0] != 1) return false;
    return true;
  }
};

// ops[0] is the output; every operand has its shape.
template <int N>
Geometry<N> coalesce(const std::array<const Tensor*, N>& ops) {
  Geometry<N> g{};
  const Shape& shape = ops[0]->shape();
  const Strides& out_strides = ops[0]->strides();
  std::array<int, kMaxElementwiseDims + 1> order{};
  const int rank = static_cast<int>(shape.size());
  for (int d = 0; d < rank && d <= kMaxElementwiseDims; ++d) order[d] = d;
  if (rank <= kMaxElementwiseDims)  // insertion sort, stable: larger output strides first
    for (int i = 1; i < rank; ++i)
      for (int j = i; j > 0 && out_strides[order[j]] > out_strides[order[j - 1]]; --j) std::swap(order[j], order[j - 1]);
  for (int pos = 0; pos < rank; ++pos) {
    const int d = rank <= kMaxElementwiseDims ? order[pos] : pos;
    if (shape[d] == 1) continue;  // size-1 dims never move the index
    const int i = g.ndim;
    if (i > 0) {
      bool merge = true;
      for (int k = 0; k < N; ++k) merge = merge && g.strides[k][i - 1] == ops[k]->strides()[d] * shape[d];
      if (merge) {
        g.sizes[i - 1] *= shape[d];
        for (int k = 0; k < N; ++k) g.strides[k][i - 1] = ops[k]->strides()[d];
        continue;
      }
    }
    if (i == kMaxElementwiseDims)
      throw Error("elementwise: more than " + std::to_string(kMaxElementwiseDims) +
                  " dims that cannot be merged (shape " + shape_str(shape) + ")");
    g.sizes[i] = shape[d];
    for (int k = 0; k < N; ++k) g.strides[k][i] = ops[k]->strides()[d];
    ++g.ndim;
  }
  if (g.ndim == 0) {  // a scalar or an all-ones shape: one element at offset 0
    g.ndim = 1;
    g.sizes[0] = 1;
    for (int k = 0; k < N; ++k) g.strides[k][0] = 1;
  }
  return g;
}

}  // namespace sepal
