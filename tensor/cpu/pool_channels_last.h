// pool_channels_last.h: CPU pooling over channels-last (NHWC) tensors, called by the CpuBackend
// pooling methods (tensor/cpu/pool.cpp) when their tensors are channels-last. Same semantics as
// the NCHW kernels (window bounds, first maximum, NaN rule, indices h * W + w, adaptive windows),
// each window computed for all C channels at once, so the inner loops run over contiguous
// channels.
#pragma once
#include "tensor/backend.h"

namespace sepal::cpu {

void max_pool2d_forward_channels_last(const Tensor& input, const Tensor& out, const Tensor& indices,
                                      const Pool2dArgs& args);
void max_pool2d_backward_channels_last(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_input);
void adaptive_avg_pool2d_forward_channels_last(const Tensor& input, const Tensor& out);
void adaptive_avg_pool2d_backward_channels_last(const Tensor& grad_out, const Tensor& grad_input);

}  // namespace sepal::cpu
