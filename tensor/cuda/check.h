// check.h: status checks for CUDA runtime, cuBLAS and cuDNN calls. Each macro throws
// sepal::CudaError naming the call, the file and line, and the library's own error string.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "tensor/error.h"

#ifdef SEPAL_WITH_CUDNN
#include <cudnn.h>
#endif

namespace sepal::cuda {

[[noreturn]] inline void throw_cuda_error(const char* library, const char* call, const char* file,
                                          int line, const std::string& what) {
  throw CudaError(std::string(library) + " error: " + call + " failed at " + file + ":" +
                  std::to_string(line) + ": " + what);
}

inline std::string cuda_error_text(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + " (" + cudaGetErrorString(err) + ")";
}

}  // namespace sepal::cuda

// A failed runtime call also clears the error so the next SEPAL_CUDA_CHECK_LAUNCH does not
// report it again (sticky errors such as an illegal address stay, as CUDA keeps them).
#define SEPAL_CUDA_CHECK(call)                                                                   \
  do {                                                                                           \
    cudaError_t sepal_status_ = (call);                                                          \
    if (sepal_status_ != cudaSuccess) {                                                          \
      (void)cudaGetLastError();                                                                  \
      ::sepal::cuda::throw_cuda_error("CUDA", #call, __FILE__, __LINE__,                         \
                                      ::sepal::cuda::cuda_error_text(sepal_status_));            \
    }                                                                                            \
  } while (0)

// After every kernel launch: catches bad launch configurations (and earlier asynchronous faults).
#define SEPAL_CUDA_CHECK_LAUNCH()                                                                \
  do {                                                                                           \
    cudaError_t sepal_status_ = cudaGetLastError();                                              \
    if (sepal_status_ != cudaSuccess)                                                            \
      ::sepal::cuda::throw_cuda_error("CUDA", "kernel launch", __FILE__, __LINE__,               \
                                      ::sepal::cuda::cuda_error_text(sepal_status_));            \
  } while (0)

#define SEPAL_CUBLAS_CHECK(call)                                                                 \
  do {                                                                                           \
    cublasStatus_t sepal_status_ = (call);                                                       \
    if (sepal_status_ != CUBLAS_STATUS_SUCCESS)                                                  \
      ::sepal::cuda::throw_cuda_error("cuBLAS", #call, __FILE__, __LINE__,                       \
                                      cublasGetStatusString(sepal_status_));                     \
  } while (0)

#ifdef SEPAL_WITH_CUDNN
#define SEPAL_CUDNN_CHECK(call)                                                                  \
  do {                                                                                           \
    cudnnStatus_t sepal_status_ = (call);                                                        \
    if (sepal_status_ != CUDNN_STATUS_SUCCESS)                                                   \
      ::sepal::cuda::throw_cuda_error("cuDNN", #call, __FILE__, __LINE__,                        \
                                      cudnnGetErrorString(sepal_status_));                       \
  } while (0)
#endif
