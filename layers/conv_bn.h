// conv_bn.h: Conv2d -> BatchNorm2d -> (residual add) -> activation, the unit the ResNet family is
// built from, in one place: the stem, BasicBlock, Bottleneck and the downsample call conv_bn_act.
//
// In eval mode, when no gradient is needed through the convolution's or BatchNorm's parameters
// (grad mode off, or none of them requires grad), BatchNorm is folded into the convolution,
//   s = gamma / sqrt(running_var + eps),  w' = w * s (per output channel),
//   b' = beta + (b - running_mean) * s   (b: the convolution's bias, 0 when it has none),
// and the folded convolution runs with its bias, the residual add and ReLU fused into one backend
// pass (conv2d_fused: oneDNN post-ops on the CPU). The input may require grad: the folded
// convolution is then an ordinary differentiable conv2d of the input. Training mode never folds;
// there a BatchNorm followed directly by ReLU (no residual in between) runs as batch_norm_relu,
// one pass forward and one backward for the pair.
//
// The folded tensors are cached per (conv, bn) pair in a ConvBnFold and recomputed when any
// source changes: the key holds the version (tensor/storage.h) and address of conv.weight,
// conv.bias, bn.weight, bn.bias, running_mean and running_var, and bn.eps. Every library write
// gives a new version (optimizer steps, load_state_dict, copy_, fill_, add_, BatchNorm's
// running-statistics update) and to(device)/to(dtype) or a replaced parameter give new storage,
// whose versions are new too.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "layers/layers.h"

namespace sepal::nn {

// The process-wide switch of folding and fusion (on by default). Off, conv_bn_act runs the
// modules one after another; tests and benchmarks compare the two.
void set_conv_bn_folding(bool enabled);
bool conv_bn_folding();

// The folded weight and bias of one Conv2d + BatchNorm2d pair, computed on first use and again
// whenever a source tensor changed. Thread-safe.
class ConvBnFold {
 public:
  struct Folded {
    Tensor weight, bias;
  };
  Folded get(const Conv2d& conv, const BatchNorm2d& bn);
  // How many times any ConvBnFold has computed its tensors (tests count cache misses with it).
  static uint64_t computations();

 private:
  std::mutex mutex_;
  std::vector<uint64_t> key_;
  Folded folded_;
};

// act(bn(conv(x)) + residual): residual may be undefined (no add), act null (no activation). An
// nn::ReLU act is fused into the convolution; another module is applied after it. conv and bn
// that are not a Conv2d and a BatchNorm2d (replaced by the user) run unfused.
Tensor conv_bn_act(const ModulePtr& conv, const ModulePtr& bn, ConvBnFold& fold, const Tensor& x,
                   const ModulePtr& act, const Tensor& residual = Tensor());

}  // namespace sepal::nn
