// handles.h: the streams and library handles every CUDA kernel call goes through.
//  - compute_stream(): the stream every backend kernel, cuBLAS and cuDNN call runs on: the legacy
//    default stream, so work on one device runs in the order it was issued and a synchronous
//    cudaMemcpy sees every earlier kernel. Library handles are bound to it explicitly.
//  - copy_stream(device): a second, non-blocking stream per device for host-to-device copies that
//    overlap compute (tensor/pinned.h); ordering with compute_stream() is by events only.
//  - cublas_handle(device) / cudnn_handle(device): the calling thread's own handle for the device
//    (cuBLAS and cuDNN handles must not be used by two threads at once). A thread's handles are
//    created on its first call, or taken over from a thread that has ended, and are never
//    destroyed (they may be needed during static destruction). Each call rebinds the handle to
//    compute_stream(), and for cuBLAS re-attaches its 32 MiB workspace (taken from the device's
//    caching allocator, so it counts in the memory statistics and an out-of-memory empties the
//    cache first) and sets the math mode of sepal::cuda::allow_tf32().
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#ifdef SEPAL_WITH_CUDNN
#include <cudnn.h>
#endif

namespace sepal::cuda {

inline cudaStream_t compute_stream() { return nullptr; }  // the legacy default stream (stream 0)
cudaStream_t copy_stream(int device);

cublasHandle_t cublas_handle(int device);
#ifdef SEPAL_WITH_CUDNN
cudnnHandle_t cudnn_handle(int device);
#endif

}  // namespace sepal::cuda
