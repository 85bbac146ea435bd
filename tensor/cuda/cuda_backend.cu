// cuda_backend.cu: the CUDA backend's registry (one backend per device, device count), memory
// (a CachingAllocator over cudaMalloc/cudaFree, bounded by SEPAL_CUDA_CACHE_LIMIT_MB; synchronous
// host copies) and creation kernels
// (fill, arange, random). The other kernels live in copy.cu, unary.cu, binary.cu, reduce.cu
// and blas.cu.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "tensor/cuda/check.h"
#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/elementwise.cuh"
#include "tensor/cuda/memory_stats.h"
#include "tensor/cuda_settings.h"
#include "tensor/error.h"
#include "tensor/kernels/philox.h"

namespace sepal {
namespace cuda {

namespace {

// Raw allocator for the CachingAllocator, on the current device (the backend's DeviceGuard
// selects it). Out of memory gives null so the cache can be emptied and the call retried; any
// other failure (no device, a sticky fault from an earlier kernel) throws.
void* raw_alloc(size_t nbytes) {
  void* ptr = nullptr;
  cudaError_t err = cudaMalloc(&ptr, nbytes);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    return nullptr;
  }
  SEPAL_CUDA_CHECK(err);
  return ptr;
}

// May run while the process tears down, so failures are ignored rather than thrown.
void raw_free(void* ptr) {
  if (cudaFree(ptr) != cudaSuccess) (void)cudaGetLastError();
}

template <typename T>
struct ConstantValue {
  T value;
  __host__ __device__ T operator()() const { return value; }
};

// arange element i: start + i * step, fused like the CPU loop compiled with -march=native.
template <typename T>
struct ArangeValue {
  double start, step;
  __host__ __device__ T operator()(int64_t i) const {
    return static_cast<T>(::fma(static_cast<double>(i), step, start));
  }
};

std::string mib(size_t bytes) {
  return std::to_string(bytes / (size_t(1) << 20)) + " MiB";
}

}  // namespace

// The cache is unbounded by default (PyTorch's policy): blocks go back to the driver when a
// cudaMalloc fails (the allocator then empties the cache and retries once), on
// cuda_empty_cache(), or beyond SEPAL_CUDA_CACHE_LIMIT_MB / cuda_set_cache_limit().
// SEPAL_CUDA_NO_CACHING=1 bypasses the cache: every tensor is its own cudaMalloc, so
// compute-sanitizer's memcheck sees each allocation's true bounds (like PyTorch's
// PYTORCH_NO_CUDA_MEMORY_CACHING); the allocator's statistics then stay at zero.
CudaBackend::CudaBackend(int index)
    : index_(index), allocator_(raw_alloc, raw_free, cache_limit_from_env(std::getenv("SEPAL_CUDA_CACHE_LIMIT_MB"))),
      caching_(!std::getenv("SEPAL_CUDA_NO_CACHING") || std::string(std::getenv("SEPAL_CUDA_NO_CACHING")) == "0") {}

void* CudaBackend::try_allocate(size_t nbytes) {
  DeviceGuard guard(index_);
  if (!caching_) return raw_alloc(std::max<size_t>(nbytes, 1));
  return allocator_.allocate(std::max<size_t>(nbytes, 1));
}

void* CudaBackend::allocate(size_t nbytes) {
  void* ptr = try_allocate(nbytes);
  if (!ptr) {
    AllocatorStats s = allocator_.stats();
    throw CudaError(device().str() + ": out of memory allocating " + std::to_string(nbytes) +
                    " bytes after emptying the cache (" + mib(s.bytes_in_use) + " in use by tensors, " +
                    mib(s.bytes_reserved) + " reserved); free tensors or use a smaller batch");
  }
  return ptr;
}

void CudaBackend::deallocate(void* ptr, size_t) {
  DeviceGuard guard(index_, std::nothrow);
  if (!caching_) return raw_free(ptr);
  allocator_.deallocate(ptr);
}

void CudaBackend::copy_from_host(void* dst, const void* host_src, size_t nbytes) {
  if (nbytes == 0) return;
  DeviceGuard guard(index_);
  SEPAL_CUDA_CHECK(cudaMemcpy(dst, host_src, nbytes, cudaMemcpyHostToDevice));
}

void CudaBackend::copy_to_host(void* host_dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  DeviceGuard guard(index_);
  SEPAL_CUDA_CHECK(cudaMemcpy(host_dst, src, nbytes, cudaMemcpyDeviceToHost));
}

void CudaBackend::synchronize() {
  DeviceGuard guard(index_);
  SEPAL_CUDA_CHECK(cudaDeviceSynchronize());
}

AllocatorStats CudaBackend::allocator_stats() { return allocator_.stats(); }

void CudaBackend::empty_cache() {
  DeviceGuard guard(index_);
  allocator_.empty_cache();
}

void CudaBackend::set_max_cached_bytes(size_t bytes) {
  DeviceGuard guard(index_);
  allocator_.set_max_cached_bytes(bytes);
}

void CudaBackend::fill(const Tensor& out, double value) {
  DeviceGuard guard(index_);
  dispatch_all(out.dtype(), "fill", [&]<typename T>() {
    cuda_map<T>(ConstantValue<T>{static_cast<T>(value)}, out, {});
  });
}

void CudaBackend::arange(const Tensor& out, double start, double step) {
  DeviceGuard guard(index_);
  dispatch_all(out.dtype(), "arange", [&]<typename T>() {
    cuda_generate<T>(ArangeValue<T>{start, step}, out);
  });
}

void CudaBackend::random(const Tensor& out, const RandomArgs& a) {
  DeviceGuard guard(index_);
  dispatch_all(out.dtype(), "random", [&]<typename T>() {
    cuda_generate<T>(kernels::RandomFill<T>{a.seed, a.offset, a.kind, a.a, a.b}, out);
  });
}

// ---- registry ----
CudaBackend& cuda_backend_at(int index) {
  const int count = cuda_backend_device_count();
  if (index < 0 || index >= count)
    throw DeviceError("device cuda:" + std::to_string(index) + " is not available (" +
                      std::to_string(count) + " CUDA device(s) present)");
  // Leaked on purpose: a tensor freed during static destruction must still find its backend.
  static std::vector<CudaBackend*>* backends = [count] {
    auto* list = new std::vector<CudaBackend*>();
    for (int i = 0; i < count; ++i) list->push_back(new CudaBackend(i));
    return list;
  }();
  return *(*backends)[index];
}

}  // namespace cuda

int cuda_backend_device_count() {
  // The device count cannot change while the process runs; a missing driver or no device is 0.
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();
      return 0;
    }
    return n;
  }();
  return count;
}

Backend& cuda_backend(int index) { return cuda::cuda_backend_at(index); }

AllocatorStats cuda_allocator_stats(int device) {
  return cuda::cuda_backend_at(device).allocator_stats();
}

void cuda_empty_cache(int device) { cuda::cuda_backend_at(device).empty_cache(); }

void cuda_set_cache_limit(int device, size_t bytes) { cuda::cuda_backend_at(device).set_max_cached_bytes(bytes); }

}  // namespace sepal
