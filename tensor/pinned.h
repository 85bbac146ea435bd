// pinned.h: page-locked ("pinned") host staging memory and asynchronous host-to-device copies,
// for the DataLoader's CUDA path. On a CUDA device the buffer comes from cudaHostAlloc and the
// copy is a cudaMemcpyAsync on the device's legacy default stream, the stream every backend
// kernel runs on, so later kernels see the copied data without a host synchronisation. For the
// CPU device the buffer is ordinary host memory and the copy a memcpy.
#pragma once
#include <cstddef>

#include "tensor/device.h"

namespace sepal {

class PinnedHostBuffer {
 public:
  // Throws DeviceError when `device` is a CUDA device that is unavailable (or the build lacks
  // CUDA), CudaError when page-locked memory cannot be allocated.
  PinnedHostBuffer(size_t nbytes, Device device);
  ~PinnedHostBuffer();  // waits for pending copies
  PinnedHostBuffer(const PinnedHostBuffer&) = delete;
  PinnedHostBuffer& operator=(const PinnedHostBuffer&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  // Requires offset + n <= nbytes() and dst to hold n bytes on device(). Enqueues the copy of
  // bytes [offset, offset + n) to dst and returns at once (CUDA); the buffer must not be written
  // again until wait() returns.
  void copy_to_device_async(void* dst, size_t offset, size_t n);
  // Blocks until every copy enqueued from this buffer has finished reading it.
  void wait();

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  void* event_ = nullptr;  // cudaEvent_t of the last copy (CUDA only)
};

}  // namespace sepal
