// memory_stats.h: the CUDA caching allocator's counters and cache control, for tests, benchmarks
// and memory reports. Plain C++ (no CUDA headers); in a build without CUDA both functions throw
// DeviceError (tensor/device.cpp), so callers check sepal::cuda_available() first.
#pragma once
#include "tensor/caching_allocator.h"

namespace sepal {

// Counters of device `device`'s allocator: cudaMalloc calls so far, bytes held by live tensors,
// bytes kept in the cache. Throws DeviceError for a device that is not present.
AllocatorStats cuda_allocator_stats(int device);
// Returns every cached (unused) block of device `device` to the driver with cudaFree.
void cuda_empty_cache(int device);

}  // namespace sepal
