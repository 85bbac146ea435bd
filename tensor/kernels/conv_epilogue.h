// conv_epilogue.h: the per-element math of a fused convolution's epilogue (ConvEpilogue in
// tensor/backend.h), shared by the kernels that apply it after a plain convolution: the CPU
// float64 path (tensor/cpu/conv_im2col.cpp) and CUDA (tensor/cuda/conv.cu). oneDNN applies the same
// epilogue as post-ops inside its convolution (tensor/cpu/conv_onednn.cpp).
// NCHW: out [N, K, P, Q] contiguous, so element i belongs to channel (i / (P*Q)) % K.
#pragma once
#include <cstdint>

#include "tensor/kernels/elementwise_ops.h"
#include "tensor/kernels/hostdevice.h"

namespace sepal::kernels {

template <typename T>
struct ConvEpilogueOp {
  const T* bias;      // [K] or nullptr
  const T* residual;  // out's shape or nullptr
  bool relu;
  int64_t K, plane;  // channels and P*Q

  // The final value of element i, whose convolution sum is v: relu(v + bias[k] + residual[i]).
  SEPAL_HD T operator()(int64_t i, T v) const {
    if (bias) v += bias[(i / plane) % K];
    if (residual) v += residual[i];
    return relu ? Relu::f(v, ScalarArgs<T>{}) : v;
  }
};

}  // namespace sepal::kernels
