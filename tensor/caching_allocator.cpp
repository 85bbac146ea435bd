// caching_allocator.cpp: see caching_allocator.h.
#include "tensor/caching_allocator.h"

#include <algorithm>
#include <bit>
#include <cstdint>

namespace sepal {

namespace {
constexpr size_t kMinBlock = 512;  // round_size's smallest size: the smallest rest worth splitting
}  // namespace

CachingAllocator::~CachingAllocator() {
  for (auto& [ptr, block] : blocks_)
    if (ptr == block.segment) raw_free_(ptr);
}

size_t CachingAllocator::round_size(size_t nbytes) {
  if (nbytes <= 512) return 512;
  size_t pow2 = std::bit_ceil(nbytes);
  size_t step = std::max<size_t>(pow2 / 8, 512);
  return (nbytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t nbytes) {
  if (nbytes > SIZE_MAX / 2) return nullptr;  // round_size would overflow; no device has that much
  const size_t size = round_size(nbytes);
  const bool small = size <= kSmallRequest;
  std::lock_guard<std::mutex> lock(mu_);
  FreeSet& free = pool(small);
  Blocks::iterator it;
  if (auto fit = free.lower_bound({size, nullptr}); fit != free.end()) {
    it = blocks_.find(fit->second);  // best fit: the smallest free block that is big enough
  } else {
    it = new_segment(small ? kSmallSegment : size, small);
    if (it == blocks_.end()) return nullptr;
  }
  erase_free(it);
  Block& b = it->second;
  const size_t rest = b.size - size;
  if (small ? rest >= kMinBlock : rest > kSmallRequest) {
    b.size = size;
    insert_free(blocks_.emplace_hint(std::next(it), it->first + size,
                                     Block{rest, b.segment, b.segment_size, small, true}));
  }
  b.free = false;
  stats_.bytes_in_use += b.size;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  trim(max_cached_);  // a new segment's rest may push the cache past the bound
  return it->first;
}

void CachingAllocator::deallocate(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = blocks_.find(static_cast<char*>(ptr));
  if (it == blocks_.end() || it->second.free) return;
  Block& b = it->second;
  stats_.bytes_in_use -= b.size;
  b.free = true;
  // merge with the free neighbours of the same segment (the map may hold another segment next door)
  if (auto next = std::next(it);
      next != blocks_.end() && next->second.segment == b.segment && next->second.free) {
    erase_free(next);
    b.size += next->second.size;
    blocks_.erase(next);
  }
  if (it != blocks_.begin()) {
    if (auto prev = std::prev(it); prev->second.segment == b.segment && prev->second.free) {
      erase_free(prev);
      prev->second.size += b.size;
      blocks_.erase(it);
      it = prev;
    }
  }
  insert_free(it);
  trim(max_cached_);
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  trim(0);
}

void CachingAllocator::set_max_cached_bytes(size_t nbytes) {
  std::lock_guard<std::mutex> lock(mu_);
  max_cached_ = nbytes;
  trim(max_cached_);
}

size_t CachingAllocator::max_cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return max_cached_;
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peak_stats() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
  stats_.peak_bytes_reserved = stats_.bytes_reserved;
}

void CachingAllocator::insert_free(Blocks::iterator it) {
  const auto key = std::make_pair(it->second.size, it->first);
  pool(it->second.small).insert(key);
  if (is_whole(it)) whole_free_.insert(key);
  stats_.bytes_cached += it->second.size;
}

void CachingAllocator::erase_free(Blocks::iterator it) {
  const auto key = std::make_pair(it->second.size, it->first);
  pool(it->second.small).erase(key);
  if (is_whole(it)) whole_free_.erase(key);
  stats_.bytes_cached -= it->second.size;
}

CachingAllocator::Blocks::iterator CachingAllocator::new_segment(size_t segment_size, bool small) {
  void* raw = raw_alloc_(segment_size);
  if (!raw) {  // out of memory: give back every fully free segment and try once more
    ++stats_.oom_retries;
    trim(0);
    raw = raw_alloc_(segment_size);
    if (!raw) return blocks_.end();
  }
  char* segment = static_cast<char*>(raw);
  ++stats_.device_allocations;
  ++stats_.num_segments;
  stats_.bytes_reserved += segment_size;
  stats_.peak_bytes_reserved = std::max(stats_.peak_bytes_reserved, stats_.bytes_reserved);
  auto it = blocks_.emplace(segment, Block{segment_size, segment, segment_size, small, true}).first;
  insert_free(it);
  return it;
}

void CachingAllocator::release_segment(Blocks::iterator it) {
  erase_free(it);
  char* segment = it->first;
  stats_.bytes_reserved -= it->second.size;
  --stats_.num_segments;
  ++stats_.device_frees;
  blocks_.erase(it);
  raw_free_(segment);
}

void CachingAllocator::trim(size_t limit) {
  while (stats_.bytes_cached > limit && !whole_free_.empty())
    release_segment(blocks_.find(whole_free_.begin()->second));
}

}  // namespace sepal
