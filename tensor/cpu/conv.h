// conv.h: the CPU convolution kernels behind CpuBackend::conv2d_* (tensor/backend.h states their
// contract: contiguous NCHW input [N, C, H, W], weight [K, C/groups, R, S], out [N, K, P, Q]).
// float32 runs on oneDNN (conv_onednn.cpp); float64, which oneDNN lacks, runs on im2col + GEMM
// (conv_im2col.cpp). The im2col kernels take either floating dtype, so the tests also use them in
// float32 as an independent reference for the oneDNN path.
#pragma once
#include "tensor/backend.h"

namespace sepal::cpu {

// im2col + cblas GEMM, one image and group at a time; float32 or float64.
void im2col_conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args);
// The plain forward, then the epilogue (bias, residual, ReLU) in one pass over out.
void im2col_conv2d_forward_fused(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args,
                                 const ConvEpilogue& epilogue);
void im2col_conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_input,
                                  const Conv2dArgs& args);
void im2col_conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Tensor& grad_weight,
                                   const Conv2dArgs& args);

// oneDNN primitives (cached per shape); float32 only.
void onednn_conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args);
// forward_inference with the epilogue as oneDNN post-ops.
void onednn_conv2d_forward_fused(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args,
                                 const ConvEpilogue& epilogue);
void onednn_conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_input,
                                  const Conv2dArgs& args);
void onednn_conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Tensor& grad_weight,
                                   const Conv2dArgs& args);

}  // namespace sepal::cpu
