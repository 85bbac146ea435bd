// pinned.h: page-locked ("pinned") host staging memory and asynchronous host-to-device copies,
// for the DataLoader's CUDA path. On a CUDA device the buffer comes from cudaHostAlloc and the
// copy is a cudaMemcpyAsync on the device's copy stream (tensor/cuda/handles.h), which starts
// after the work already queued on the compute stream (the destination may be a block that work
// used) and, once order_before_compute() is called, finishes before any kernel queued after it.
// For the CPU device the buffer is ordinary host memory and the copy a memcpy.
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
  // Makes every kernel queued on the device's compute stream from now on wait for the copies
  // enqueued so far (a stream-side wait; the host does not block). Call it before handing the
  // destination to anything that reads it.
  void order_before_compute();
  // Blocks until every copy enqueued from this buffer has finished reading it.
  void wait();

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  void* event_ = nullptr;          // cudaEvent_t behind the last copy, on the copy stream (CUDA only)
  void* compute_event_ = nullptr;  // cudaEvent_t the last copy waited for, on the compute stream
};

}  // namespace sepal
