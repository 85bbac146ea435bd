// unary.cu: CUDA unary ops and their backward, instantiated from the SEPAL_UNARY_OPS list with
// the shared functors of kernels/elementwise_ops.h (the same ones the CPU backend runs).
#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/elementwise.cuh"

namespace sepal::cuda {

void CudaBackend::unary(UnaryOp op, const UnaryArgs& args, const Tensor& in, const Tensor& out) {
  DeviceGuard guard(index_);
  dispatch_floating(in.dtype(), op_name(op), [&]<typename T>() {
    kernels::ScalarArgs<T> p{static_cast<T>(args.a), static_cast<T>(args.b)};
    switch (op) {
#define SEPAL_CASE(Name, ...) \
  case UnaryOp::Name: cuda_map<T, T>(kernels::UnaryForward<kernels::Name, T>{p}, out, {&in}); break;
      SEPAL_UNARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
    }
  });
}

void CudaBackend::unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& grad,
                                 const Tensor& in, const Tensor& result, const Tensor& grad_in) {
  DeviceGuard guard(index_);
  dispatch_floating(in.dtype(), op_name(op), [&]<typename T>() {
    kernels::ScalarArgs<T> p{static_cast<T>(args.a), static_cast<T>(args.b)};
    switch (op) {
#define SEPAL_CASE(Name, ...)                                                                          \
  case UnaryOp::Name:                                                                                  \
    cuda_map<T, T, T, T>(kernels::UnaryBackward<kernels::Name, T>{p}, grad_in, {&grad, &in, &result}); \
    break;
      SEPAL_UNARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
    }
  });
}

}  // namespace sepal::cuda
