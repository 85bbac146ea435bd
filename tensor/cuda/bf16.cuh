// bf16.cuh: bfloat16 staging for cuDNN and cuBLAS under bf16 autocast (tensor/precision.h). sepal's
// tensors stay float32; a pass's inputs are rounded into bfloat16 scratch buffers (the rounding of
// tensor/kernels/bf16.h, the same as the CPU's), the library runs in bfloat16 with float32
// accumulation, and a bfloat16 result is widened back into the float32 tensor. Scratch buffers
// come from the backend's caching allocator and are returned when the Bf16Buffer dies; the
// kernels run in order on compute_stream(), so only later work can reuse them.
#pragma once
#include <cstdint>

#include "tensor/cuda/cuda_backend.h"

namespace sepal::cuda {

class Bf16Buffer {
 public:
  Bf16Buffer(CudaBackend& backend, int64_t count);
  ~Bf16Buffer();
  Bf16Buffer(const Bf16Buffer&) = delete;
  Bf16Buffer& operator=(const Bf16Buffer&) = delete;
  uint16_t* data() const { return data_; }

 private:
  CudaBackend& backend_;
  size_t bytes_;
  uint16_t* data_;
};

// out[i] = bf16(in[i]) and out[i] = float(in[i]) for i < count, on compute_stream().
void round_to_bf16(const float* in, uint16_t* out, int64_t count);
void widen_bf16(const uint16_t* in, float* out, int64_t count);

// The number of elements from t's first to its last (t's strides are non-negative): a strided
// view is staged whole, so the bfloat16 copy keeps t's strides.
int64_t storage_span(const Tensor& t);

}  // namespace sepal::cuda
