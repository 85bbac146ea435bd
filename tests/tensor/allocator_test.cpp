// allocator_test.cpp: the caching allocator (size rounding, reuse, best fit and the whole-block
// rule, splitting blocks and merging freed neighbours within segments, the cache bound and
// set_max_cached_bytes, emptying and retrying once after a failed allocation, peak stats, stats
// consistency over a random workload, releasing everything on destruction) and its use by CPU
// tensors.
#include <gtest/gtest.h>
#include <sepal.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "tensor/caching_allocator.h"

namespace sepal {
namespace {

constexpr size_t MiB = size_t(1) << 20;

// A raw allocator that counts calls, refuses to hold more than `budget` bytes at once and records
// every live raw pointer (segment) with its size; freeing anything else counts as a bad free.
struct Raw {
  static inline size_t attempts = 0, allocs = 0, frees = 0, bad_frees = 0, live_bytes = 0,
                       budget = SIZE_MAX;
  static inline std::map<char*, size_t> sizes;
  static inline void* last_freed = nullptr;
  static void reset(size_t b = SIZE_MAX) {
    attempts = allocs = frees = bad_frees = live_bytes = 0;
    budget = b;
    sizes.clear();
    last_freed = nullptr;
  }
  static void* alloc(size_t n) {
    ++attempts;
    if (n > budget - live_bytes) return nullptr;
    char* p = static_cast<char*>(std::malloc(n));
    if (!p) return nullptr;
    ++allocs;
    live_bytes += n;
    sizes[p] = n;
    return p;
  }
  static void release(void* p) {
    ++frees;
    last_freed = p;
    auto it = sizes.find(static_cast<char*>(p));
    if (it == sizes.end()) {  // not a pointer alloc returned: must never happen
      ++bad_frees;
      return;
    }
    live_bytes -= it->second;
    sizes.erase(it);
    std::free(p);
  }
  static size_t segment_size(void* p) { return sizes.at(static_cast<char*>(p)); }
  static bool holds(void* p) { return sizes.count(static_cast<char*>(p)) > 0; }
};

TEST(CachingAllocator, RoundSize) {
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);    // pow2 1024, step 512
  EXPECT_EQ(CachingAllocator::round_size(5000), 5120u);   // pow2 8192, step 1024
  EXPECT_EQ(CachingAllocator::round_size(8192), 8192u);
  EXPECT_EQ(CachingAllocator::round_size(100000), 114688u);  // pow2 131072, step 16384: 7 steps
}

// Updated for segments: a small request now takes a 2 MiB small segment (so the bound is 4 MiB,
// enough to keep it cached), the freed block merges back into the fully free segment (bytes_cached
// is the whole segment), and the 3000-byte request is split off that same segment instead of
// making a second raw allocation; the destructor then has one segment to release, not two blocks.
TEST(CachingAllocator, ReusesFreedBlocks) {
  Raw::reset();
  {
    CachingAllocator a(Raw::alloc, Raw::release, 4 * MiB);
    void* p = a.allocate(1000);  // rounded to 1024
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(a.stats().bytes_in_use, 1024u);
    EXPECT_EQ(a.stats().bytes_reserved, 2 * MiB);
    EXPECT_EQ(Raw::segment_size(p), 2 * MiB);
    a.deallocate(p);
    EXPECT_EQ(a.stats().bytes_in_use, 0u);
    EXPECT_EQ(a.stats().bytes_cached, 2 * MiB);
    void* q = a.allocate(900);  // also 1024: served from the cache
    EXPECT_EQ(q, p);
    EXPECT_EQ(a.stats().device_allocations, 1u);
    EXPECT_EQ(Raw::allocs, 1u);
    EXPECT_EQ(a.stats().bytes_cached, 2 * MiB - 1024);
    void* r = a.allocate(3000);  // split off the same segment, right after q
    EXPECT_EQ(r, static_cast<char*>(q) + 1024);
    EXPECT_EQ(Raw::allocs, 1u);
    a.deallocate(q);
    a.deallocate(r);
    a.deallocate(nullptr);  // ignored
    EXPECT_EQ(Raw::frees, 0u);  // cached: 2 MiB is under the bound
  }
  // the destructor returns every segment
  EXPECT_EQ(Raw::frees, 1u);
  EXPECT_EQ(Raw::bad_frees, 0u);
  EXPECT_EQ(Raw::live_bytes, 0u);
}

// Was BestFitAndTwiceTheSizeCap: small requests now share one segment, so best fit and the "never
// hand out more than twice the request" rule are shown on large segments, where a block is handed
// out whole only when its rest (at most 1 MiB, less than the request) is too small to split.
TEST(CachingAllocator, BestFitAndTheWholeBlockRule) {
  Raw::reset();
  CachingAllocator a(Raw::alloc, Raw::release, SIZE_MAX);
  void* big = a.allocate(8 * MiB);
  void* mid = a.allocate(3 * MiB);
  a.deallocate(big);
  a.deallocate(mid);
  EXPECT_EQ(a.allocate(3 * MiB - 100), mid);  // rounded to 3 MiB: best fit, not the 8 MiB block
  a.deallocate(mid);
  void* whole = a.allocate(5 * MiB / 2);  // 2.5 MiB: the 3 MiB block's 0.5 MiB rest is not split
  EXPECT_EQ(whole, mid);
  EXPECT_EQ(a.stats().bytes_in_use, 3 * MiB);
  // a small request never takes a large block: it gets its own 2 MiB small segment
  void* small = a.allocate(1000);
  EXPECT_EQ(Raw::allocs, 3u);
  EXPECT_EQ(Raw::segment_size(small), 2 * MiB);
  a.deallocate(small);
  a.deallocate(whole);
  a.empty_cache();
  EXPECT_EQ(a.stats().bytes_cached, 0u);
  EXPECT_EQ(a.stats().num_segments, 0u);
  EXPECT_EQ(Raw::live_bytes, 0u);
  EXPECT_EQ(Raw::bad_frees, 0u);
}

// Updated for segments: the bound releases whole free segments, so a freed block whose segment
// still holds a live block stays cached even past the bound, until its segment is all free.
TEST(CachingAllocator, CacheLimitFreesImmediately) {
  Raw::reset();
  CachingAllocator a(Raw::alloc, Raw::release, 1 * MiB);
  void* p = a.allocate(4 * MiB);
  void* q = a.allocate(512);  // a small segment: 2 MiB - 512 cached, past the bound, but it is live
  void* r = a.allocate(1024);
  EXPECT_EQ(Raw::frees, 0u);
  a.deallocate(p);  // a fully free 4 MiB segment past the bound: released at once
  EXPECT_EQ(Raw::frees, 1u);
  EXPECT_FALSE(Raw::holds(p));
  EXPECT_EQ(a.stats().bytes_cached, 2 * MiB - 1536);
  a.deallocate(q);  // its segment still holds r: kept
  EXPECT_EQ(Raw::frees, 1u);
  EXPECT_EQ(a.stats().bytes_cached, 2 * MiB - 1024);
  a.deallocate(r);  // now all free: released
  EXPECT_EQ(Raw::frees, 2u);
  EXPECT_EQ(a.stats().bytes_cached, 0u);
  EXPECT_EQ(a.stats().bytes_reserved, 0u);
  EXPECT_EQ(Raw::bad_frees, 0u);
}

// Updated for segments: the request must be one the cached 4 MiB segment cannot serve by
// splitting, so it is 5 MiB; the counts now include the failed raw attempt and oom_retries.
TEST(CachingAllocator, EmptiesTheCacheAndRetriesWhenTheRawAllocatorFails) {
  Raw::reset(6 * MiB);
  CachingAllocator a(Raw::alloc, Raw::release, SIZE_MAX);
  void* p = a.allocate(4 * MiB);
  a.deallocate(p);  // cached: 4 MiB of the 6 MiB budget stays taken
  // 5 MiB: too big for the cached segment; a raw allocation fails (4 + 5 > 6), so the cache is
  // emptied and the retry succeeds
  void* q = a.allocate(5 * MiB);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(Raw::frees, 1u);
  EXPECT_EQ(Raw::allocs, 2u);
  EXPECT_EQ(Raw::attempts, 3u);
  EXPECT_EQ(a.stats().oom_retries, 1u);
  EXPECT_EQ(a.stats().bytes_cached, 0u);
  EXPECT_EQ(a.stats().bytes_in_use, 5 * MiB);
  // more than the budget can ever give: null, not an exception, after exactly one retry
  EXPECT_EQ(a.allocate(8 * MiB), nullptr);
  EXPECT_EQ(Raw::attempts, 5u);
  EXPECT_EQ(a.stats().oom_retries, 2u);
  a.deallocate(q);
}

TEST(CachingAllocator, SplitsAFreedBlockForSmallerRequests) {
  Raw::reset();
  CachingAllocator a(Raw::alloc, Raw::release, SIZE_MAX);
  char* big = static_cast<char*>(a.allocate(8 * MiB));
  a.deallocate(big);
  // one freed 8 MiB block serves a 3 MiB and a 2 MiB request, back to back
  char* x = static_cast<char*>(a.allocate(3 * MiB));
  char* y = static_cast<char*>(a.allocate(2 * MiB));
  EXPECT_EQ(x, big);
  EXPECT_EQ(y, big + 3 * MiB);
  EXPECT_EQ(Raw::allocs, 1u);
  EXPECT_EQ(a.stats().bytes_in_use, 5 * MiB);
  EXPECT_EQ(a.stats().bytes_cached, 3 * MiB);
  // small requests split one small segment
  char* s = static_cast<char*>(a.allocate(1000));
  char* t = static_cast<char*>(a.allocate(100000));
  EXPECT_EQ(t, s + 1024);
  EXPECT_EQ(Raw::allocs, 2u);
  for (void* p : {x, y, s, t}) a.deallocate(p);
  EXPECT_EQ(a.stats().bytes_in_use, 0u);
  EXPECT_EQ(a.stats().bytes_cached, 10 * MiB);
}

TEST(CachingAllocator, MergesFreedNeighbours) {
  Raw::reset();
  CachingAllocator a(Raw::alloc, Raw::release, SIZE_MAX);
  char* big = static_cast<char*>(a.allocate(8 * MiB));
  a.deallocate(big);
  // two halves; freed in either order, they merge and serve the full size again
  for (bool second_first : {false, true}) {
    void* x = a.allocate(4 * MiB);
    void* y = a.allocate(4 * MiB);
    EXPECT_EQ(y, big + 4 * MiB);
    a.deallocate(second_first ? y : x);
    a.deallocate(second_first ? x : y);
    void* full = a.allocate(8 * MiB);
    EXPECT_EQ(full, big);
    a.deallocate(full);
  }
  // a middle block merges with free blocks on both sides (and the free rest after them)
  void* b0 = a.allocate(2 * MiB);
  void* b1 = a.allocate(2 * MiB);
  void* b2 = a.allocate(2 * MiB);
  a.deallocate(b0);
  a.deallocate(b2);
  a.deallocate(b1);
  EXPECT_EQ(a.allocate(8 * MiB), big);
  EXPECT_EQ(Raw::allocs, 1u);
  a.deallocate(big);
  // small blocks merge too: once all are freed, their segment is whole again and can be released
  std::vector<void*> smalls;
  for (int i = 0; i < 10; ++i) smalls.push_back(a.allocate(4096 * (i + 1)));
  EXPECT_EQ(Raw::allocs, 2u);
  for (int i : {3, 1, 7, 0, 9, 2, 8, 4, 6, 5}) a.deallocate(smalls[i]);
  a.empty_cache();
  EXPECT_EQ(Raw::frees, 2u);
  EXPECT_EQ(Raw::live_bytes, 0u);
  EXPECT_EQ(Raw::bad_frees, 0u);
}

TEST(CachingAllocator, CacheBoundReleasesOnlyFullyFreeSegmentsLargestFirst) {
  Raw::reset();
  CachingAllocator a(Raw::alloc, Raw::release, 20 * MiB);
  void* four = a.allocate(4 * MiB);
  void* five = a.allocate(5 * MiB);
  char* sixteen = static_cast<char*>(a.allocate(16 * MiB));
  a.deallocate(sixteen);                      // 16 MiB cached, under the bound
  void* live = a.allocate(2 * MiB);           // split off it: its segment now has 14 MiB free
  EXPECT_EQ(live, sixteen);
  a.deallocate(five);                         // 19 MiB cached: kept
  EXPECT_EQ(Raw::frees, 0u);
  a.deallocate(four);                         // 23 MiB: the largest fully free segment goes
  EXPECT_EQ(Raw::frees, 1u);
  EXPECT_FALSE(Raw::holds(five));
  EXPECT_TRUE(Raw::holds(four));
  EXPECT_TRUE(Raw::holds(sixteen));           // the most free bytes, but a live block
  EXPECT_EQ(a.stats().bytes_cached, 18 * MiB);
  a.set_max_cached_bytes(1 * MiB);            // only the 4 MiB segment can go; 14 MiB stay cached
  EXPECT_FALSE(Raw::holds(four));
  EXPECT_TRUE(Raw::holds(sixteen));
  EXPECT_EQ(a.stats().bytes_cached, 14 * MiB);
  a.deallocate(live);                         // now fully free: released
  EXPECT_EQ(Raw::frees, 3u);
  EXPECT_EQ(a.stats().num_segments, 0u);
  EXPECT_EQ(Raw::live_bytes, 0u);
  EXPECT_EQ(Raw::bad_frees, 0u);
}

TEST(CachingAllocator, SetMaxCachedBytesAppliesImmediately) {
  Raw::reset();
  CachingAllocator a(Raw::alloc, Raw::release, SIZE_MAX);
  EXPECT_EQ(a.max_cached_bytes(), SIZE_MAX);
  void* p = a.allocate(4 * MiB);
  void* q = a.allocate(6 * MiB);
  void* s = a.allocate(1000);  // keeps its small segment live
  a.deallocate(p);
  a.deallocate(q);
  EXPECT_EQ(a.stats().bytes_cached, 12 * MiB - 1024);
  a.set_max_cached_bytes(8 * MiB);  // releases the 6 MiB segment: 6 MiB - 1024 left
  EXPECT_EQ(a.max_cached_bytes(), 8 * MiB);
  EXPECT_EQ(Raw::frees, 1u);
  EXPECT_FALSE(Raw::holds(q));
  EXPECT_EQ(a.stats().bytes_cached, 6 * MiB - 1024);
  a.set_max_cached_bytes(0);  // releases the 4 MiB one; the live small segment stays
  EXPECT_EQ(Raw::frees, 2u);
  EXPECT_EQ(a.stats().bytes_cached, 2 * MiB - 1024);
  EXPECT_EQ(a.stats().num_segments, 1u);
  a.deallocate(s);  // a bound of 0 caches nothing
  EXPECT_EQ(Raw::frees, 3u);
  EXPECT_EQ(a.stats().bytes_reserved, 0u);
  EXPECT_EQ(Raw::bad_frees, 0u);
}

TEST(CachingAllocator, OutOfMemoryEmptiesOnlyFreeSegmentsAndRetriesOnce) {
  Raw::reset(10 * MiB);
  CachingAllocator a(Raw::alloc, Raw::release, SIZE_MAX);
  void* s = a.allocate(1000);  // a 2 MiB small segment with a live block
  void* p = a.allocate(4 * MiB);
  a.deallocate(p);
  void* q = a.allocate(6 * MiB);  // 2 + 4 + 6 > 10: fails, releases the 4 MiB segment, retries
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(Raw::attempts, 4u);
  EXPECT_EQ(Raw::frees, 1u);
  EXPECT_EQ(Raw::last_freed, p);  // (not holds(p): q's malloc may reuse p's address)
  EXPECT_TRUE(Raw::holds(s));
  AllocatorStats st = a.stats();
  EXPECT_EQ(st.oom_retries, 1u);
  EXPECT_EQ(st.device_allocations, 3u);
  EXPECT_EQ(st.device_frees, 1u);
  EXPECT_EQ(st.num_segments, 2u);
  // 8 + 3 > 10 with nothing to release: one retry, then null
  EXPECT_EQ(a.allocate(3 * MiB), nullptr);
  EXPECT_EQ(Raw::attempts, 6u);
  EXPECT_EQ(a.stats().oom_retries, 2u);
  EXPECT_EQ(a.stats().bytes_in_use, 6 * MiB + 1024);
  std::memset(s, 1, 1000);  // the live block survived
  a.deallocate(s);
  a.deallocate(q);
  EXPECT_EQ(Raw::bad_frees, 0u);
}

TEST(CachingAllocator, PeakStatsAndReset) {
  Raw::reset();
  CachingAllocator a(Raw::alloc, Raw::release, SIZE_MAX);
  void* p = a.allocate(4 * MiB);
  void* q = a.allocate(8 * MiB);
  a.deallocate(q);
  AllocatorStats s = a.stats();
  EXPECT_EQ(s.bytes_in_use, 4 * MiB);
  EXPECT_EQ(s.peak_bytes_in_use, 12 * MiB);
  EXPECT_EQ(s.peak_bytes_reserved, 12 * MiB);
  a.reset_peak_stats();
  s = a.stats();
  EXPECT_EQ(s.peak_bytes_in_use, 4 * MiB);
  EXPECT_EQ(s.peak_bytes_reserved, 12 * MiB);  // the 8 MiB segment is still cached
  a.empty_cache();
  EXPECT_EQ(a.stats().bytes_reserved, 4 * MiB);
  EXPECT_EQ(a.stats().peak_bytes_reserved, 12 * MiB);
  a.reset_peak_stats();
  EXPECT_EQ(a.stats().peak_bytes_reserved, 4 * MiB);
  void* r = a.allocate(1000);
  s = a.stats();
  EXPECT_EQ(s.peak_bytes_in_use, 4 * MiB + 1024);
  EXPECT_EQ(s.peak_bytes_reserved, 6 * MiB);
  a.deallocate(p);
  a.deallocate(r);
  EXPECT_EQ(a.stats().peak_bytes_in_use, 4 * MiB + 1024);
}

// A few thousand random allocations and frees of mixed sizes under a byte budget (so some fail
// and take the retry path), with occasional empty_cache and bound changes. After every step the
// stats agree with the raw allocator, bytes_reserved == bytes_in_use + bytes_cached, live blocks
// lie inside segments and never overlap, and the cache passes its bound only while every segment
// holds a live block.
TEST(CachingAllocator, RandomWorkloadKeepsStatsConsistent) {
  Raw::reset(48 * MiB);
  CachingAllocator a(Raw::alloc, Raw::release, 16 * MiB);
  std::mt19937_64 rng(20240531);
  std::map<char*, std::pair<size_t, unsigned char>> live;  // block -> (bytes asked, tag)
  size_t failures = 0;
  auto check = [&] {
    const AllocatorStats s = a.stats();
    ASSERT_EQ(s.bytes_reserved, s.bytes_in_use + s.bytes_cached);
    ASSERT_EQ(s.bytes_reserved, Raw::live_bytes);
    ASSERT_EQ(s.num_segments, Raw::sizes.size());
    ASSERT_EQ(s.device_allocations, Raw::allocs);
    ASSERT_EQ(s.device_frees, Raw::frees);
    ASSERT_EQ(Raw::bad_frees, 0u);
    ASSERT_GE(s.peak_bytes_in_use, s.bytes_in_use);
    ASSERT_GE(s.peak_bytes_reserved, s.bytes_reserved);
    size_t asked = 0;
    for (auto& [p, v] : live) asked += CachingAllocator::round_size(v.first);
    ASSERT_LE(asked, s.bytes_in_use);
    if (s.bytes_cached > a.max_cached_bytes()) {
      for (auto& [seg, n] : Raw::sizes) {
        auto first = live.lower_bound(seg);
        ASSERT_TRUE(first != live.end() && first->first < seg + n) << "a fully free segment kept";
      }
    }
  };
  for (int step = 0; step < 4000; ++step) {
    const uint64_t op = rng() % 100;
    if (live.empty() || op < (live.size() < 32 ? 60u : 40u)) {
      const uint64_t kind = rng() % 10;
      const size_t n = 1 + (kind < 7 ? rng() % 8192 : kind < 9 ? rng() % MiB : rng() % (12 * MiB));
      char* p = static_cast<char*>(a.allocate(n));
      if (!p) {
        ++failures;
      } else {
        auto next = live.lower_bound(p);
        ASSERT_TRUE(next == live.end() || p + n <= next->first) << "overlaps the next live block";
        if (next != live.begin()) {
          auto prev = std::prev(next);
          ASSERT_LE(prev->first + prev->second.first, p) << "overlaps the previous live block";
        }
        auto seg = Raw::sizes.upper_bound(p);
        ASSERT_NE(seg, Raw::sizes.begin());
        --seg;
        ASSERT_LE(p + n, seg->first + seg->second) << "outside its segment";
        const unsigned char tag = static_cast<unsigned char>(step);
        p[0] = p[n - 1] = static_cast<char>(tag);
        live[p] = {n, tag};
      }
    } else if (op < 98) {
      auto it = std::next(live.begin(), static_cast<long>(rng() % live.size()));
      auto [n, tag] = it->second;
      ASSERT_EQ(static_cast<unsigned char>(it->first[0]), tag);
      ASSERT_EQ(static_cast<unsigned char>(it->first[n - 1]), tag);
      a.deallocate(it->first);
      live.erase(it);
    } else if (op == 98) {
      a.empty_cache();
    } else {
      a.set_max_cached_bytes(rng() % 2 ? 4 * MiB : 32 * MiB);
    }
    check();
    if (::testing::Test::HasFatalFailure()) return;
  }
  for (auto& [p, v] : live) a.deallocate(p);
  live.clear();
  check();
  const AllocatorStats s = a.stats();
  EXPECT_EQ(s.bytes_in_use, 0u);
  // the workload exercised splitting, releases and the out-of-memory path
  EXPECT_GT(s.oom_retries, 0u);
  EXPECT_GT(failures, 0u);
  EXPECT_GT(s.device_frees, 0u);
  EXPECT_LT(s.device_allocations, 500u);  // far fewer raw allocations than the ~2400 requests
}

TEST(CachingAllocator, ConcurrentUseFromSeveralThreads) {
  Raw::reset();
  CachingAllocator a(Raw::alloc, Raw::release, 64 * MiB);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&a, t] {
      std::mt19937_64 rng(t);
      std::vector<std::pair<char*, size_t>> mine;
      for (int i = 0; i < 2000; ++i) {
        if (mine.empty() || rng() % 2) {
          const size_t n = 1 + rng() % (rng() % 8 ? 16384 : 3 * MiB);
          char* p = static_cast<char*>(a.allocate(n));
          std::memset(p, t, std::min<size_t>(n, 4096));
          mine.emplace_back(p, n);
        } else {
          const size_t i_del = rng() % mine.size();
          a.deallocate(mine[i_del].first);
          mine.erase(mine.begin() + static_cast<long>(i_del));
        }
      }
      for (auto& [p, n] : mine) a.deallocate(p);
    });
  }
  for (auto& th : threads) th.join();
  const AllocatorStats s = a.stats();
  EXPECT_EQ(s.bytes_in_use, 0u);
  EXPECT_EQ(s.bytes_reserved, s.bytes_cached);
  EXPECT_EQ(s.bytes_reserved, Raw::live_bytes);
}

TEST(CachingAllocator, IgnoresNullUnknownAndRepeatedFrees) {
  Raw::reset();
  CachingAllocator a(Raw::alloc, Raw::release, SIZE_MAX);
  char* p = static_cast<char*>(a.allocate(4096));
  void* q = a.allocate(4096);
  int elsewhere = 0;
  a.deallocate(nullptr);
  a.deallocate(&elsewhere);  // not from this allocator
  a.deallocate(p + 512);     // inside a block, not its start
  EXPECT_EQ(a.stats().bytes_in_use, 8192u);
  a.deallocate(p);
  a.deallocate(p);  // already free
  EXPECT_EQ(a.stats().bytes_in_use, 4096u);
  EXPECT_EQ(a.stats().bytes_reserved, a.stats().bytes_in_use + a.stats().bytes_cached);
  a.deallocate(q);
}

TEST(CachingAllocator, DestructorReleasesEverySegment) {
  Raw::reset();
  {
    CachingAllocator a(Raw::alloc, Raw::release, SIZE_MAX);
    a.allocate(1000);         // live, small segment
    a.allocate(100000);       // live, same segment
    a.allocate(4 * MiB);      // live, large segment
    a.deallocate(a.allocate(8 * MiB));  // cached
    EXPECT_EQ(Raw::sizes.size(), 3u);
    EXPECT_EQ(Raw::frees, 0u);
  }
  EXPECT_EQ(Raw::sizes.size(), 0u);
  EXPECT_EQ(Raw::frees, 3u);
  EXPECT_EQ(Raw::live_bytes, 0u);
  EXPECT_EQ(Raw::bad_frees, 0u);
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

// A tensor owned by a static object is freed during static destruction, after everything
// constructed later is gone. Here the holder is constructed before the test's first tensor (when
// the test runs alone, as ctest runs it, that first tensor also creates the CPU backend), so a
// backend destroyed at exit would receive the free after its destructor ran: ASan reports a
// use-after-free and glibc may abort. The backend is never destroyed, so the free is safe.
TEST(CpuAllocator, TensorsFreedDuringStaticDestructionFindTheirBackend) {
  struct Holder {
    std::vector<Tensor> tensors;
  };
  static Holder holder;
  for (int64_t n : {int64_t(10), int64_t(1000), int64_t(1) << 20}) holder.tensors.push_back(full({n}, 1.0));
  EXPECT_EQ(holder.tensors.back().sum().item<double>(), double(int64_t(1) << 20));
}

}  // namespace
}  // namespace sepal
