// layouts.h: the launch-side views of a contiguous NCHW tensor shared by the CPU and CUDA batch
// normalisation (tensor/cpu/norm.cpp, tensor/cuda/norm.cu) and pooling (pool.cpp, pool.cu)
// kernels. The structs are plain data, passed by value into CUDA kernels; the functions that
// build them from a Tensor run on the host only (this header compiles as host C++ and under nvcc).
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace sepal::kernels {

// Batch normalisation over [N, C, HW]: HW = H*W for [N, C, H, W], 1 for [N, C]. A channels-last
// [N, C, H, W] (a dense tensor that is not row-major) is [N*H*W, C, 1]: rows of C channels.
struct BnLayout {
  int64_t N, C, HW;
};
inline BnLayout bn_layout(const Tensor& x) {
  const int64_t N = x.size(0), C = x.size(1);
  const int64_t HW = N * C == 0 ? 0 : x.numel() / (N * C);
  if (x.dim() == 4 && !x.is_contiguous()) return {N * HW, C, 1};
  return {N, C, HW};
}

// Plane count and sizes of an [N, C, H, W] input pooled to [N, C, P, Q].
struct PlaneLayout {
  int64_t planes, H, W, P, Q;
};
inline PlaneLayout plane_layout(const Tensor& input, const Tensor& out) {
  return {input.size(0) * input.size(1), input.size(2), input.size(3), out.size(2), out.size(3)};
}

// The data pointer of an optional tensor (weight, bias, running statistics), or nullptr.
template <typename T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

}  // namespace sepal::kernels
