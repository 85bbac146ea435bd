// binary.cu: CUDA binary ops (forward and backward), comparisons and where, instantiated from
// the SEPAL_BINARY_OPS / SEPAL_COMPARE_OPS lists with the shared functors, dtype dispatch as in
// the CPU backend. binary() may run in place (out aliases a): each element is read, then written,
// by the same thread.
#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/elementwise.cuh"

namespace sepal::cuda {

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  DeviceGuard guard(index_);
  dispatch_arithmetic(a.dtype(), op_name(op), [&]<typename T>() {
    switch (op) {
#define SEPAL_CASE(Name, ...) \
  case BinaryOp::Name: cuda_map<T, T, T>(kernels::BinaryForward<kernels::Name, T>{}, out, {&a, &b}); break;
      SEPAL_BINARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
    }
  });
}

void CudaBackend::binary_backward(BinaryOp op, int input, const Tensor& grad, const Tensor& a,
                                  const Tensor& b, const Tensor& grad_in) {
  DeviceGuard guard(index_);
  dispatch_floating(a.dtype(), op_name(op), [&]<typename T>() {
    switch (op) {
#define SEPAL_CASE(Name, ...)                                                                       \
  case BinaryOp::Name:                                                                              \
    if (input == 0)                                                                                 \
      cuda_map<T, T, T, T>(kernels::BinaryBackwardA<kernels::Name, T>{}, grad_in, {&grad, &a, &b}); \
    else                                                                                            \
      cuda_map<T, T, T, T>(kernels::BinaryBackwardB<kernels::Name, T>{}, grad_in, {&grad, &a, &b}); \
    break;
      SEPAL_BINARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
    }
  });
}

void CudaBackend::compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  DeviceGuard guard(index_);
  dispatch_all(a.dtype(), op_name(op), [&]<typename T>() {
    switch (op) {
#define SEPAL_CASE(Name, ...)                                                            \
  case CompareOp::Name:                                                                  \
    cuda_map<bool, T, T>(kernels::CompareForward<kernels::Name, T>{}, out, {&a, &b}); \
    break;
      SEPAL_COMPARE_OPS(SEPAL_CASE)
#undef SEPAL_CASE
    }
  });
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  DeviceGuard guard(index_);
  dispatch_all(a.dtype(), "where", [&]<typename T>() {
    cuda_map<T, bool, T, T>(kernels::WhereForward<T>{}, out, {&cond, &a, &b});
  });
}

}  // namespace sepal::cuda
