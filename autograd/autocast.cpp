// autocast.cpp: the thread-local autocast precision (autograd/autocast.h).
#include "autograd/autocast.h"

namespace sepal {

namespace {
thread_local Precision autocast_precision = Precision::Float32;
}

Precision Autocast::precision() { return autocast_precision; }
void Autocast::set_precision(Precision p) { autocast_precision = p; }
Precision Autocast::for_tensor(const Tensor& t) {
  return t.dtype() == DType::Float32 ? autocast_precision : Precision::Float32;
}

}  // namespace sepal
