// allocator_test.cpp: the caching allocator (size rounding, reuse, best fit, the 2x cap, the cache
// limit, emptying and retrying after a failed allocation) and its use by CPU tensors.
#include <gtest/gtest.h>
#include <sepal.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>

#include "tensor/caching_allocator.h"

namespace sepal {
namespace {

// A raw allocator that counts calls and refuses to hold more than `budget` bytes at once.
struct Raw {
  static inline size_t allocs = 0, frees = 0, live_bytes = 0, budget = SIZE_MAX;
  static inline std::map<void*, size_t> sizes;
  static void reset(size_t b = SIZE_MAX) {
    allocs = frees = live_bytes = 0;
    budget = b;
    sizes.clear();
  }
  static void* alloc(size_t n) {
    if (live_bytes + n > budget) return nullptr;
    void* p = std::malloc(n);
    ++allocs;
    live_bytes += n;
    sizes[p] = n;
    return p;
  }
  static void release(void* p) {
    ++frees;
    live_bytes -= sizes.at(p);
    sizes.erase(p);
    std::free(p);
  }
};

TEST(CachingAllocator, RoundSize) {
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);    // pow2 1024, step 512
  EXPECT_EQ(CachingAllocator::round_size(5000), 5120u);   // pow2 8192, step 1024
  EXPECT_EQ(CachingAllocator::round_size(8192), 8192u);
  EXPECT_EQ(CachingAllocator::round_size(100000), 114688u);  // pow2 131072, step 16384: 7 steps
}

TEST(CachingAllocator, ReusesFreedBlocks) {
  Raw::reset();
  {
    CachingAllocator a(Raw::alloc, Raw::release, 1 << 20);
    void* p = a.allocate(1000);  // rounded to 1024
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(a.stats().bytes_in_use, 1024u);
    a.deallocate(p);
    EXPECT_EQ(a.stats().bytes_in_use, 0u);
    EXPECT_EQ(a.stats().bytes_cached, 1024u);
    void* q = a.allocate(900);  // also 1024: served from the cache
    EXPECT_EQ(q, p);
    EXPECT_EQ(a.stats().device_allocations, 1u);
    EXPECT_EQ(Raw::allocs, 1u);
    EXPECT_EQ(a.stats().bytes_cached, 0u);
    void* r = a.allocate(3000);  // larger than any cached block: a new raw allocation
    EXPECT_NE(r, q);
    EXPECT_EQ(Raw::allocs, 2u);
    a.deallocate(q);
    a.deallocate(r);
    a.deallocate(nullptr);  // ignored
  }
  // the destructor returns every cached block
  EXPECT_EQ(Raw::frees, 2u);
  EXPECT_EQ(Raw::live_bytes, 0u);
}

TEST(CachingAllocator, BestFitAndTwiceTheSizeCap) {
  Raw::reset();
  CachingAllocator a(Raw::alloc, Raw::release, 1 << 20);
  void* big = a.allocate(4096);
  void* small = a.allocate(1024);
  a.deallocate(big);
  a.deallocate(small);
  EXPECT_EQ(a.allocate(1000), small);  // best fit: the 1024 block, not the 4096 one
  // 4096 is more than twice 1536: not handed out for it
  void* mid = a.allocate(1536);
  EXPECT_NE(mid, big);
  EXPECT_EQ(Raw::allocs, 3u);
  EXPECT_EQ(a.allocate(2500), big);  // 2560 rounded; 4096 <= 2 * 2560
  a.deallocate(small);
  a.deallocate(mid);
  a.deallocate(big);
  a.empty_cache();
  EXPECT_EQ(a.stats().bytes_cached, 0u);
  EXPECT_EQ(Raw::live_bytes, 0u);
}

TEST(CachingAllocator, CacheLimitFreesImmediately) {
  Raw::reset();
  CachingAllocator a(Raw::alloc, Raw::release, 1024);
  void* p = a.allocate(2048);
  void* q = a.allocate(512);
  a.deallocate(p);  // 2048 > the 1024 limit: released to the raw allocator
  EXPECT_EQ(Raw::frees, 1u);
  EXPECT_EQ(a.stats().bytes_cached, 0u);
  a.deallocate(q);  // fits: cached
  EXPECT_EQ(Raw::frees, 1u);
  EXPECT_EQ(a.stats().bytes_cached, 512u);
}

TEST(CachingAllocator, EmptiesTheCacheAndRetriesWhenTheRawAllocatorFails) {
  Raw::reset(4096 + 1024);
  CachingAllocator a(Raw::alloc, Raw::release, 1 << 20);
  void* p = a.allocate(4096);
  a.deallocate(p);  // cached: 4096 of the 5120-byte budget stays taken
  // 1536: the cached 4096 block is more than twice as big; a raw allocation fails (4096 + 1536 >
  // budget), so the cache is emptied and the retry succeeds
  void* q = a.allocate(1536);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(Raw::frees, 1u);
  EXPECT_EQ(Raw::allocs, 2u);
  EXPECT_EQ(a.stats().bytes_cached, 0u);
  EXPECT_EQ(a.stats().bytes_in_use, 1536u);
  // more than the budget can ever give: null, not an exception
  EXPECT_EQ(a.allocate(8192), nullptr);
  a.deallocate(q);
}

TEST(CpuAllocator, TensorsReuseCachedMemory) {
  // create and destroy same-size tensors: after the first, the same blocks come back
  std::set<void*> seen;
  for (int i = 0; i < 20; ++i) {
    Tensor t = full({1000}, i);
    seen.insert(t.storage()->data());
    ASSERT_EQ(t.to_vector<float>()[999], i);
  }
  EXPECT_LE(seen.size(), 2u);
  void* first = nullptr;
  {
    Tensor t = empty({256, 256});
    first = t.storage()->data();
  }
  Tensor again = empty({256, 256});
  EXPECT_EQ(again.storage()->data(), first);
  EXPECT_EQ(again.storage()->nbytes(), size_t(256 * 256 * 4));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);  // cache-line aligned
}

}  // namespace
}  // namespace sepal
