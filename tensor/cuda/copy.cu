// copy.cu: the CUDA copy kernel: dst[i] = cast<Dst>(src[i]) for every pair of dtypes and any
// strides on either side (contiguous(), to(dtype), copy_, the scatter step of cross-device copies).
#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/elementwise.cuh"

namespace sepal::cuda {

void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  DeviceGuard guard(index_);
  dispatch_all(dst.dtype(), "copy", [&]<typename D>() {
    dispatch_all(src.dtype(), "copy", [&]<typename S>() {
      cuda_map<D, S>(kernels::CastForward<D, S>{}, dst, {&src});
    });
  });
}

}  // namespace sepal::cuda
