// info.cpp: cuda_info() (tensor/cuda_info.h) of the CUDA build. Queries that need no device
// (library versions) work on a machine without a GPU; device lines say why none is usable.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <string>

#include "tensor/cuda_info.h"

#ifdef SEPAL_WITH_CUDNN
#include <cudnn.h>
#endif

namespace sepal {

namespace {

// 13000 -> "13.0" (CUDA's encoding: 1000 * major + 10 * minor)
std::string cuda_version_text(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string triple(int major, int minor, int patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace

std::string cuda_info() {
  std::string out;
  int runtime = 0, driver = 0;
  if (cudaRuntimeGetVersion(&runtime) != cudaSuccess) (void)cudaGetLastError();
  if (cudaDriverGetVersion(&driver) != cudaSuccess) (void)cudaGetLastError();
  out += "CUDA runtime " + cuda_version_text(runtime) + " (compiled against " + cuda_version_text(CUDART_VERSION) +
         "), " + (driver > 0 ? "driver supports CUDA " + cuda_version_text(driver) : std::string("no CUDA driver")) +
         "\n";
  int major = 0, minor = 0, patch = 0;
  const bool cublas_ok = cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
                         cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
                         cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS;
  out += "cuBLAS " + (cublas_ok ? triple(major, minor, patch) : std::string("unknown")) + " (compiled against " +
         triple(CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR, CUBLAS_VER_PATCH) + ")\n";
#ifdef SEPAL_WITH_CUDNN
  const size_t cudnn = cudnnGetVersion();  // 9.12.0 is 91200
  out += "cuDNN " + triple(static_cast<int>(cudnn / 10000), static_cast<int>(cudnn / 100 % 100),
                           static_cast<int>(cudnn % 100)) +
         " (compiled against " + triple(CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL) + ")\n";
#else
  out += "cuDNN: not built (convolutions cannot run on CUDA)\n";
#endif
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return out + "no usable CUDA device: " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")\n";
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
      (void)cudaGetLastError();
      continue;
    }
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.1f GiB", static_cast<double>(p.totalGlobalMem) / (1u << 30));
    out += "cuda:" + std::to_string(i) + " " + p.name + ", sm_" + std::to_string(p.major) + std::to_string(p.minor) +
           ", " + mem + "\n";
  }
  return out;
}

}  // namespace sepal
