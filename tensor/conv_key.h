// conv_key.h: the key of a backend's convolution plan cache (tensor/cpu/conv_onednn.cpp,
// tensor/cuda/conv.cu): the 14 numbers that fix a 2-D convolution (input [N, C, H, W], weight
// [K, ., R, S], stride, padding, dilation, groups) followed by the backend's own extras (the CPU
// its thread count; CUDA its device, dtype and algorithm switches), and its hash. Host code only.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "tensor/backend.h"

namespace sepal {

template <size_t Extras>
using ConvPlanKey = std::array<int64_t, 14 + Extras>;

// conv_plan_key(image, weight, args, extras...): every size and argument, then the extras.
template <typename... Extra>
ConvPlanKey<sizeof...(Extra)> conv_plan_key(const Tensor& image, const Tensor& weight, const Conv2dArgs& a,
                                            Extra... extras) {
  return {image.size(0), image.size(1), image.size(2), image.size(3), weight.size(0), weight.size(2),
          weight.size(3), a.stride[0], a.stride[1], a.padding[0], a.padding[1], a.dilation[0],
          a.dilation[1], a.groups, static_cast<int64_t>(extras)...};
}

struct ConvPlanKeyHash {
  template <size_t N>
  size_t operator()(const std::array<int64_t, N>& k) const {
    size_t h = 0;
    for (int64_t v : k) h = h * 1000003u ^ std::hash<int64_t>()(v);
    return h;
  }
};

// A backend's plans by key (the caller holds the lock that guards it).
template <typename Plan, size_t Extras>
using ConvPlanCache = std::unordered_map<ConvPlanKey<Extras>, std::unique_ptr<Plan>, ConvPlanKeyHash>;

}  // namespace sepal
