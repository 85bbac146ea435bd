// memory_stats.h: the CUDA caching allocator's counters and cache control, for tests, benchmarks
// and memory reports. Plain C++ (no CUDA headers); in a build without CUDA both functions throw
// DeviceError (tensor/device.cpp), so callers check sepal::cuda_available() first.
#pragma once
#include "tensor/caching_allocator.h"

namespace sepal {

// Counters of device `device`'s allocator (tensor/caching_allocator.h): cudaMalloc and cudaFree
// calls, bytes held by live tensors, cached, reserved, their peaks, out-of-memory retries.
// Throws DeviceError for a device that is not present.
AllocatorStats cuda_allocator_stats(int device);
// Returns every cached (unused) segment of device `device` to the driver with cudaFree.
void cuda_empty_cache(int device);
// Caps the bytes device `device` keeps cached in unused blocks (default: unbounded, or the
// environment variable SEPAL_CUDA_CACHE_LIMIT_MB read when the device is first used): whole
// unused segments beyond it go back to the driver at once, largest first. With 0, every segment
// is freed as soon as its last block is; the free part of a segment that still holds a live
// block stays (only whole segments can be returned).
void cuda_set_cache_limit(int device, size_t bytes);

}  // namespace sepal
