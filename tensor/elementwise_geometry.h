// elementwise_geometry.h: the operand geometry shared by the CPU and CUDA elementwise engines.
// For tensors of one shape with any strides, coalesce() drops size-1 dims and merges neighbours
// that every operand traverses contiguously, so a contiguous op becomes one flat dim and a
// broadcast stays a short loop nest. Host-only; strides are in elements.
#pragma once
#include <array>
#include <cstdint>
#include <string>

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
  for (size_t d = 0; d < shape.size(); ++d) {
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
