// pinned_test.cpp: asynchronous host-to-device copies from page-locked buffers (tensor/pinned.h)
// run on their own copy stream and are ordered with the compute stream by events only. Each test
// would fail without one of the two events: a read issued right after the copy must see every
// copied byte, and a copy into a block the caching allocator just took back from a tensor whose
// kernel is still queued must not be overwritten by that kernel.
#include <gtest/gtest.h>

#include <cstring>

#include "cuda/cuda_test_util.h"
#include "tensor/pinned.h"

namespace sepal::testing {
namespace {

// A pinned buffer of n floats, element i = i % 1000 + 0.5 (exact in float32).
std::unique_ptr<PinnedHostBuffer> pattern_buffer(int64_t n) {
  auto buf = std::make_unique<PinnedHostBuffer>(n * sizeof(float), gpu());
  auto* p = static_cast<float*>(buf->data());
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(i % 1000) + 0.5f;
  return buf;
}

// Number of elements of the CPU copy of t that differ from the pattern.
int64_t pattern_mismatches(const Tensor& t) {
  const std::vector<float> v = t.to_vector<float>();
  int64_t bad = 0;
  for (size_t i = 0; i < v.size(); ++i) bad += v[i] != static_cast<float>(i % 1000) + 0.5f;
  return bad;
}

// Without the compute stream waiting for the copy's event, the synchronous read below (on the
// legacy default stream, which does not wait for non-blocking streams) starts while 256 MiB are
// still in flight.
TEST(CudaPinnedCopy, AReadQueuedAfterTheCopySeesAllOfIt) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const int64_t n = int64_t(64) << 20;
  auto buf = pattern_buffer(n);
  for (int rep = 0; rep < 3; ++rep) {
    poison_cache(n, DType::Float32, 1);
    Tensor dst = empty({n}, TensorOptions().device(gpu()));
    buf->copy_to_device_async(dst.raw_data(), 0, n * sizeof(float));
    buf->order_before_compute();
    // a kernel and a host read, both queued on the compute stream right away
    Tensor doubled = raw::binary(BinaryOp::Add, dst, dst);
    EXPECT_EQ(pattern_mismatches(dst), 0) << "repetition " << rep;
    const std::vector<float> d = doubled.to_vector<float>();
    int64_t bad = 0;
    for (size_t i = 0; i < d.size(); ++i) bad += d[i] != 2.0f * (static_cast<float>(i % 1000) + 0.5f);
    EXPECT_EQ(bad, 0) << "repetition " << rep;
    buf->wait();
  }
}

// The matmul's output block goes back to the cache while the matmul is still queued; the next
// tensor of that size gets the same block. Without the copy stream waiting for the compute
// stream's event, the copy lands first and the matmul then overwrites it.
TEST(CudaPinnedCopy, ACopyIntoAReusedBlockWaitsForTheKernelsStillUsingIt) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const int64_t side = 4096, n = side * side;
  Tensor x = randn({side, side}, TensorOptions().device(gpu())), y = randn({side, side}, TensorOptions().device(gpu()));
  auto buf = pattern_buffer(n);
  backend_for(gpu()).synchronize();
  for (int rep = 0; rep < 3; ++rep) {
    void* block = nullptr;
    {
      Tensor product = raw::matmul(x, y);  // about 2 ms of queued work writing `block`
      block = product.raw_data();
    }
    Tensor dst = empty({side, side}, TensorOptions().device(gpu()));
    ASSERT_EQ(dst.raw_data(), block) << "the allocator did not hand the freed block back; the test proves nothing";
    buf->copy_to_device_async(dst.raw_data(), 0, n * sizeof(float));
    buf->order_before_compute();
    EXPECT_EQ(pattern_mismatches(dst), 0) << "repetition " << rep;
    buf->wait();
  }
}

TEST(CudaPinnedCopy, CopiesAreBoundsChecked) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  PinnedHostBuffer buf(64, gpu());
  Tensor dst = empty({16}, TensorOptions().device(gpu()));
  EXPECT_THROW(buf.copy_to_device_async(dst.raw_data(), 60, 8), IndexError);
  std::memset(buf.data(), 0, 64);
  buf.copy_to_device_async(dst.raw_data(), 0, 64);
  buf.order_before_compute();
  EXPECT_EQ(dst.to_vector<float>(), std::vector<float>(16, 0.0f));
}

}  // namespace
}  // namespace sepal::testing
