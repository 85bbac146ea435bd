// autocast.h: mixed precision for a scope, like torch.autocast: inside an AutocastGuard with
// Precision::BFloat16, conv2d, linear and matmul on float32 tensors compute in bfloat16 with
// float32 accumulation (tensor/precision.h) and return float32; every other op (BatchNorm and its
// statistics, softmax, losses, the optimizer) stays float32, as do parameters, optimizer state
// and checkpoints. Gradients of an op use the precision its forward ran in, whatever the scope
// of backward(). float64 tensors are never affected. Thread-local, like GradMode.
#pragma once
#include "tensor/precision.h"
#include "tensor/tensor.h"

namespace sepal {

struct Autocast {
  static Precision precision();
  static void set_precision(Precision p);
  // The precision an op on `t` computes in now: the autocast precision for float32, else Float32.
  static Precision for_tensor(const Tensor& t);
};

class AutocastGuard {
 public:
  explicit AutocastGuard(Precision p) : previous_(Autocast::precision()) { Autocast::set_precision(p); }
  ~AutocastGuard() { Autocast::set_precision(previous_); }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  Precision previous_;
};

}  // namespace sepal
