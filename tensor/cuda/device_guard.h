// device_guard.h: makes a CUDA device current for a scope and restores the previous one, so
// every backend call works on its own device whatever the calling thread had selected.
#pragma once
#include <cuda_runtime_api.h>

#include <new>

#include "tensor/cuda/check.h"

namespace sepal::cuda {

class DeviceGuard {
 public:
  // Throws CudaError when the device cannot be selected.
  explicit DeviceGuard(int index) : index_(index) {
    SEPAL_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != index_) SEPAL_CUDA_CHECK(cudaSetDevice(index_));
  }
  // Never throws (for deallocation paths that run in destructors); failures are ignored.
  DeviceGuard(int index, std::nothrow_t) : index_(index) {
    if (cudaGetDevice(&previous_) != cudaSuccess) {
      (void)cudaGetLastError();
      previous_ = index_;
    }
    if (previous_ != index_ && cudaSetDevice(index_) != cudaSuccess) (void)cudaGetLastError();
  }
  ~DeviceGuard() {
    if (previous_ != index_ && cudaSetDevice(previous_) != cudaSuccess) (void)cudaGetLastError();
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int index_;
  int previous_ = 0;
};

}  // namespace sepal::cuda
