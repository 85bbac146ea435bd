// hooks.h: post-accumulate-grad hooks, PyTorch's Tensor.register_post_accumulate_grad_hook: a
// function the backward pass calls with a leaf right after it accumulated a gradient into the
// leaf's .grad (once per contribution, in the pass's thread). dist's GradientReducer uses them to
// start a bucket's all-reduce while the rest of backward still runs.
#pragma once
#include <cstdint>
#include <functional>

#include "tensor/tensor.h"

namespace sepal::autograd {

using PostAccumulateGradHook = std::function<void(const Tensor& leaf)>;

// Removes its hook when destroyed (or on remove()); movable, not copyable.
class HookHandle {
 public:
  HookHandle() = default;
  HookHandle(const void* key, uint64_t id) : key_(key), id_(id) {}
  HookHandle(HookHandle&& o) noexcept : key_(o.key_), id_(o.id_) { o.id_ = 0; }
  HookHandle& operator=(HookHandle&& o) noexcept {
    if (this != &o) {
      remove();
      key_ = o.key_;
      id_ = o.id_;
      o.id_ = 0;
    }
    return *this;
  }
  HookHandle(const HookHandle&) = delete;
  HookHandle& operator=(const HookHandle&) = delete;
  ~HookHandle() { remove(); }
  void remove();

 private:
  const void* key_ = nullptr;
  uint64_t id_ = 0;
};

// Throws AutogradError unless `leaf` is a leaf tensor that requires grad.
HookHandle register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook);

}  // namespace sepal::autograd
