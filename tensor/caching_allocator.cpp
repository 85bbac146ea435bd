// caching_allocator.cpp: see caching_allocator.h.
#include "tensor/caching_allocator.h"

#include <bit>

namespace sepal {

CachingAllocator::~CachingAllocator() { empty_cache(); }

size_t CachingAllocator::round_size(size_t nbytes) {
  if (nbytes <= 512) return 512;
  size_t pow2 = std::bit_ceil(nbytes);
  size_t step = std::max<size_t>(pow2 / 8, 512);
  return (nbytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t nbytes) {
  size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  // best fit, but never hand out a block more than twice the size asked for
  auto it = free_blocks_.lower_bound(size);
  if (it != free_blocks_.end() && it->first <= 2 * size) {
    void* ptr = it->second;
    size_t block = it->first;
    free_blocks_.erase(it);
    stats_.bytes_cached -= block;
    stats_.bytes_in_use += block;
    live_blocks_[ptr] = block;
    return ptr;
  }
  void* ptr = raw_alloc_(size);
  if (!ptr) {
    for (auto& [s, p] : free_blocks_) raw_free_(p);
    free_blocks_.clear();
    stats_.bytes_cached = 0;
    ptr = raw_alloc_(size);
    if (!ptr) return nullptr;
  }
  ++stats_.device_allocations;
  stats_.bytes_in_use += size;
  live_blocks_[ptr] = size;
  return ptr;
}

void CachingAllocator::deallocate(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_blocks_.find(ptr);
  if (it == live_blocks_.end()) return;
  size_t size = it->second;
  live_blocks_.erase(it);
  stats_.bytes_in_use -= size;
  if (stats_.bytes_cached + size > max_cached_) {
    raw_free_(ptr);
    return;
  }
  free_blocks_.emplace(size, ptr);
  stats_.bytes_cached += size;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [s, p] : free_blocks_) raw_free_(p);
  free_blocks_.clear();
  stats_.bytes_cached = 0;
}

AllocatorStats CachingAllocator::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace sepal
