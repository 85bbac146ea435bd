// caching_allocator.h: a caching allocator shared by the CPU and CUDA backends, so steady-state
// training allocates no new memory (no malloc page faults on the CPU, no cudaMalloc on the GPU).
// In the spirit of PyTorch's CUDA caching allocator:
// - Each raw allocation is a segment, cut into address-ordered blocks. Requests of at most 1 MiB
//   (after round_size) are small: they come from 2 MiB small segments, so many share one raw
//   allocation. Larger requests come from large segments of exactly round_size(nbytes) bytes
//   (round_size's 1/8-of-a-power-of-two steps already bound the waste). Small and large blocks
//   never mix.
// - A request takes the best-fitting free block (smallest that fits) of its pool. The block is
//   split when the rest is worth keeping: a small block when the rest is >= 512 B (always, as
//   sizes are multiples of 512), a large one when the rest is > 1 MiB. Otherwise it is handed out
//   whole, which stays under twice the request (small: an exact fit; large: the rest is at most
//   1 MiB, less than the request).
// - A freed block merges with free neighbours of its segment; a segment is given back to the raw
//   allocator (with the pointer raw_alloc returned) only when all of it is free.
// - Cache bound: after any operation that can raise bytes_cached past max_cached_bytes, fully free
//   segments are released, largest first, until it is back under the bound (or none is left).
// - Out of memory (raw_alloc returns null): every fully free segment is released and the call
//   retried once; still null gives nullptr.
// Thread-safe (one mutex).
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace sepal {

struct AllocatorStats {
  size_t device_allocations = 0;   // raw allocator calls that succeeded (cudaMalloc / aligned_alloc)
  size_t bytes_in_use = 0;         // bytes of live blocks (rounded; a block handed out whole counts whole)
  size_t bytes_cached = 0;         // bytes of free blocks inside held segments
  size_t bytes_reserved = 0;       // bytes of held segments: bytes_in_use + bytes_cached
  size_t peak_bytes_in_use = 0;    // high-water marks since construction or reset_peak_stats()
  size_t peak_bytes_reserved = 0;
  size_t device_frees = 0;         // raw free calls (one per released segment)
  size_t oom_retries = 0;          // times raw_alloc failed, so the cache was emptied and retried
  size_t num_segments = 0;         // segments held
};

class CachingAllocator {
 public:
  using RawAlloc = void* (*)(size_t nbytes);  // returns null on failure
  using RawFree = void (*)(void* ptr);
  static constexpr size_t kSmallRequest = size_t(1) << 20;  // largest small request (rounded)
  static constexpr size_t kSmallSegment = size_t(2) << 20;  // size of a small segment

  CachingAllocator(RawAlloc raw_alloc, RawFree raw_free, size_t max_cached_bytes)
      : raw_alloc_(raw_alloc), raw_free_(raw_free), max_cached_(max_cached_bytes) {}
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;
  ~CachingAllocator();  // releases every segment, even ones with live blocks

  void* allocate(size_t nbytes);  // nullptr if the raw allocator fails even after emptying
  void deallocate(void* ptr);     // nullptr, unknown pointers and already free blocks are ignored
  void empty_cache();             // releases every fully free segment
  void set_max_cached_bytes(size_t nbytes);  // applies the new bound at once
  size_t max_cached_bytes() const;
  AllocatorStats stats() const;
  void reset_peak_stats();  // peaks become the current values

  // Sizes are rounded up to this granularity (512 B, then to 1/8 of the power of two above).
  static size_t round_size(size_t nbytes);

 private:
  struct Block {
    size_t size;
    char* segment;  // the segment's raw pointer
    size_t segment_size;
    bool small;  // from a small segment
    bool free;
  };
  using Blocks = std::map<char*, Block>;  // every block of every held segment, by address
  using FreeSet = std::set<std::pair<size_t, char*>>;  // (size, address): best fit is lower_bound

  static bool is_whole(Blocks::const_iterator it) {
    return it->first == it->second.segment && it->second.size == it->second.segment_size;
  }
  FreeSet& pool(bool small) { return small ? small_free_ : large_free_; }
  // The rest are called with mu_ held.
  void insert_free(Blocks::iterator it);
  void erase_free(Blocks::iterator it);
  Blocks::iterator new_segment(size_t segment_size, bool small);  // end() on failure
  void release_segment(Blocks::iterator it);
  void trim(size_t limit);  // releases fully free segments, largest first, while cached > limit

  RawAlloc raw_alloc_;
  RawFree raw_free_;
  size_t max_cached_;
  mutable std::mutex mu_;
  Blocks blocks_;
  FreeSet small_free_, large_free_;
  std::set<std::pair<size_t, char*>, std::greater<>> whole_free_;  // fully free segments, largest first
  AllocatorStats stats_;
};

}  // namespace sepal
