// bf16.cu: the bfloat16 staging kernels and buffers of bf16.cuh.
#include "tensor/cuda/bf16.cuh"
#include "tensor/cuda/check.h"
#include "tensor/cuda/elementwise.cuh"
#include "tensor/cuda/handles.h"
#include "tensor/kernels/bf16.h"

namespace sepal::cuda {

namespace {
struct RoundToBf16 {
  __device__ uint16_t operator()(float x) const { return kernels::bf16_bits(x); }
};
struct WidenBf16 {
  __device__ float operator()(uint16_t b) const { return kernels::bf16_to_float(b); }
};
}  // namespace

Bf16Buffer::Bf16Buffer(CudaBackend& backend, int64_t count)
    : backend_(backend), bytes_(static_cast<size_t>(count > 0 ? count : 1) * sizeof(uint16_t)),
      data_(static_cast<uint16_t*>(backend.allocate(bytes_))) {}

Bf16Buffer::~Bf16Buffer() { backend_.deallocate(data_, bytes_); }

void round_to_bf16(const float* in, uint16_t* out, int64_t count) {
  if (count <= 0) return;
  map_contiguous_kernel<<<grid_for(count), kBlockSize, 0, compute_stream()>>>(RoundToBf16{}, count, out, in);
  SEPAL_CUDA_CHECK_LAUNCH();
}

void widen_bf16(const uint16_t* in, float* out, int64_t count) {
  if (count <= 0) return;
  map_contiguous_kernel<<<grid_for(count), kBlockSize, 0, compute_stream()>>>(WidenBf16{}, count, out, in);
  SEPAL_CUDA_CHECK_LAUNCH();
}

int64_t storage_span(const Tensor& t) {
  if (t.numel() == 0) return 0;
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  return last + 1;
}

}  // namespace sepal::cuda
