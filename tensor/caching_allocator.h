// caching_allocator.h: a size-bucketed cache of freed blocks shared by the CPU and CUDA
// backends, so steady-state training allocates no new memory (no malloc page faults on the CPU,
// no cudaMalloc on the GPU). Freed blocks are kept in a best-fit free list; an allocation that
// fails empties the cache and retries once. Thread-safe.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>

namespace sepal {

struct AllocatorStats {
  size_t device_allocations = 0;  // calls of the raw allocator (cudaMalloc / aligned_alloc)
  size_t bytes_in_use = 0;
  size_t bytes_cached = 0;
};

class CachingAllocator {
 public:
  using RawAlloc = void* (*)(size_t nbytes);  // returns null on failure
  using RawFree = void (*)(void* ptr);
  CachingAllocator(RawAlloc raw_alloc, RawFree raw_free, size_t max_cached_bytes)
      : raw_alloc_(raw_alloc), raw_free_(raw_free), max_cached_(max_cached_bytes) {}
  ~CachingAllocator();

  void* allocate(size_t nbytes);  // nullptr if the raw allocator fails even after emptying
  void deallocate(void* ptr);
  void empty_cache();
  AllocatorStats stats();

  // Sizes are rounded up to this granularity (512 B, then to 1/8 of the power of two above).
  static size_t round_size(size_t nbytes);

 private:
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  size_t max_cached_;
  std::mutex mu_;
  std::multimap<size_t, void*> free_blocks_;       // size -> block
  std::unordered_map<void*, size_t> live_blocks_;  // block -> size
  AllocatorStats stats_;
};

}  // namespace sepal
