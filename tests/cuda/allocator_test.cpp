// allocator_test.cpp: the CUDA caching allocator. After a warm-up, a loop that creates and
// frees tensors of the same sizes (directly or as op intermediates) makes no new cudaMalloc
// calls; freed bytes move to the cache; emptying the cache or a cache limit of 0 returns segments
// to the driver; out of memory empties the cache and retries once before throwing.
#include <gtest/gtest.h>

#include <cstdint>

#include "cuda/cuda_test_util.h"
#include "tensor/cuda/memory_stats.h"

namespace sepal::testing {
namespace {

// One training-step-like burst of allocations of fixed sizes.
void burst() {
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t(4096), int64_t(3007), int64_t(1) << 20}) {
    Tensor a = empty({n}, TensorOptions().device(gpu()));
    Tensor b = full({n}, 2.0, TensorOptions().device(gpu()));
    Tensor c = (a.fill_(1.0) + b).exp().sum();  // intermediates are freed at the end of the line
    (void)c;
  }
}

TEST(CudaAllocator, SteadyStateMakesNoNewDeviceAllocations) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  for (int i = 0; i < 3; ++i) burst();  // warm-up fills the cache
  const AllocatorStats warm = cuda_allocator_stats(0);
  for (int i = 0; i < 100; ++i) burst();
  const AllocatorStats after = cuda_allocator_stats(0);
  EXPECT_EQ(after.device_allocations, warm.device_allocations);
  EXPECT_EQ(after.bytes_in_use, warm.bytes_in_use);  // everything from the loop was released
  EXPECT_GT(after.bytes_cached, size_t(0));
}

// 40 MiB + 4 KiB: a large request with a segment of its own, which no leftover of another test
// (all smaller) can serve, so the counts below hold whatever else is alive on the device.
constexpr size_t kLarge = (size_t(40) << 20) + 4096;

TEST(CudaAllocator, FreedBlocksAreCachedAndReused) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const AllocatorStats before = cuda_allocator_stats(0);
  {
    Tensor t = empty({int64_t(kLarge / 4)}, TensorOptions().device(gpu()));
    const AllocatorStats during = cuda_allocator_stats(0);
    EXPECT_GE(during.bytes_in_use, before.bytes_in_use + kLarge);
    EXPECT_GE(during.peak_bytes_in_use, during.bytes_in_use);
    EXPECT_EQ(during.bytes_reserved, during.bytes_in_use + during.bytes_cached);
  }
  const AllocatorStats freed = cuda_allocator_stats(0);
  EXPECT_EQ(freed.bytes_in_use, before.bytes_in_use);
  EXPECT_GE(freed.bytes_cached, kLarge);
  {
    Tensor again = empty({int64_t(kLarge / 4)}, TensorOptions().device(gpu()));
    EXPECT_EQ(cuda_allocator_stats(0).device_allocations, freed.device_allocations);  // from the cache
  }
  cuda_empty_cache(0);
  const AllocatorStats emptied = cuda_allocator_stats(0);
  EXPECT_LE(emptied.bytes_reserved + kLarge, freed.bytes_reserved);  // the segment went back
  EXPECT_GT(emptied.device_frees, freed.device_frees);
  {
    Tensor fresh = empty({int64_t(kLarge / 4)}, TensorOptions().device(gpu()));
    EXPECT_EQ(cuda_allocator_stats(0).device_allocations, emptied.device_allocations + 1);  // a real cudaMalloc
  }
}

TEST(CudaAllocator, TheCacheLimitReturnsFreedSegmentsToTheDriver) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  cuda_set_cache_limit(0, 0);
  const AllocatorStats before = cuda_allocator_stats(0);
  { Tensor t = full({int64_t(kLarge / 4)}, 1.0, TensorOptions().device(gpu())); }
  const AllocatorStats after = cuda_allocator_stats(0);
  cuda_set_cache_limit(0, SIZE_MAX);
  EXPECT_EQ(after.device_frees, before.device_frees + 1);
  EXPECT_EQ(after.bytes_reserved, before.bytes_reserved);
}

TEST(CudaAllocator, OutOfMemoryThrowsCudaErrorWithTheSize) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const int64_t absurd = int64_t(1) << 38;  // 1 TiB of float32: more than any GPU holds
  try {
    Tensor t = empty({absurd}, TensorOptions().device(gpu()));
    FAIL() << "allocating 1 TiB succeeded";
  } catch (const CudaError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(absurd * 4)), std::string::npos) << msg;
    EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
  }
  // the cache was emptied and the cudaMalloc retried once before giving up
  EXPECT_GE(cuda_allocator_stats(0).oom_retries, size_t(1));
  // the failure left the device usable
  EXPECT_EQ(full({3}, 2.0, TensorOptions().device(gpu())).sum().item<double>(), 6.0);
}

TEST(CudaAllocator, StatsOfAMissingDeviceThrow) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_THROW(cuda_allocator_stats(cuda_device_count()), DeviceError);
  EXPECT_THROW(cuda_allocator_stats(-1), DeviceError);
}

}  // namespace
}  // namespace sepal::testing
