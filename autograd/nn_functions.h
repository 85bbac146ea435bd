// nn_functions.h: the differentiable neural-network ops the layers are built from (the
// torch.nn.functional of sepal). Structured ops (conv2d, batch_norm, pooling) validate their
// arguments once, call the backend and record their backward next to the forward, each in its
// own file in autograd/; the rest are composites of existing differentiable ops.
#pragma once
#include <array>
#include <cstdint>
#include <utility>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace sepal {

// ---- structured ops (autograd/conv.cpp, autograd/batch_norm.cpp, autograd/pooling.cpp) ----
struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
};
// input [N, C, H, W], weight [K, C/groups, R, S], bias [K] or undefined -> [N, K, P, Q].
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dOptions& options = {});

// relu?(conv2d(input, weight, bias) + residual) (residual of the output's shape, or undefined):
// one fused backend pass when no gradient is needed (Backend::conv2d_forward_fused), else the
// composition of the differentiable ops, so gradients flow to every input as usual.
Tensor conv2d_fused(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& residual,
                    bool relu, const Conv2dOptions& options = {});

// input [N, C, H, W] or [N, C]; running statistics [C] (may be undefined); weight/bias [C] (may
// be undefined). training: batch statistics, and running statistics updated in place (running_var
// with the unbiased variance), as torch.nn.functional.batch_norm.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5);
// relu(batch_norm(...)) in the passes of batch_norm alone, forward and backward (the ReLU is
// applied as the output is written, its gradient as dy is read): equal to the composition.
Tensor batch_norm_relu(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                       double eps = 1e-5);

struct MaxPool2dOptions {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{0, 0};  // 0 = the kernel size, as PyTorch's default
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  bool ceil_mode = false;
};
// input [N, C, H, W] (or [C, H, W]); padding at most half the kernel; padded positions never win
// and NaN propagates. out = floor_or_ceil((H + 2 pad - dilation (kernel - 1) - 1) / stride) + 1,
// with ceil_mode's last window starting inside the input or the left padding (PyTorch's rule).
Tensor max_pool2d(const Tensor& input, const MaxPool2dOptions& options);
// The pooled values and the int64 position h * W + w of each maximum within its input plane.
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, const MaxPool2dOptions& options);
// Output cell i covers input [floor(i*H/P), ceil((i+1)*H/P)) (windows may overlap); [1, 1] is
// global average pooling.
Tensor adaptive_avg_pool2d(const Tensor& input, std::array<int64_t, 2> output_size);

// ---- composites (autograd/nn_composites.cpp) ----
// input [..., in] @ weight [out, in]^T + bias [out].
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());
Tensor log_softmax(const Tensor& input, int64_t dim);
Tensor softmax(const Tensor& input, int64_t dim);

enum class Reduction { Mean, Sum, None };
// log_probs [N, C], target int64 [N] with values in [0, C) -> the mean/sum of -log_probs[i, target[i]].
// A CPU target is range-checked on the host (IndexError naming the bad value). A CUDA target is
// not: reading it back would synchronise the device on every batch. There an out-of-range target
// makes its row's loss NaN (the mean or sum too), which a caller that reads the loss sees; the
// DataLoader already checks every label against the dataset's classes on its host copy.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::Mean);
// Zeroes each element with probability p and scales the rest by 1/(1-p) when training.
Tensor dropout(const Tensor& input, double p, bool training, Generator* gen = nullptr);

}  // namespace sepal
