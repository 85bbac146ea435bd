// pinned.cpp (CUDA): page-locked host memory, events and asynchronous host-to-device copies
// behind PinnedHostBuffer (tensor/pinned.h). Copies run on the device's copy stream (handles.h),
// not on the compute stream, and are ordered with it by two events:
//   1. `before`, recorded on the compute stream and waited for by the copy stream: the destination
//      may be a block the caching allocator just took back from a tensor whose kernels are still
//      queued on the compute stream, and the copy must not land before they finish;
//   2. `after`, recorded on the copy stream behind the copy and waited for by the compute stream
//      (order_before_compute), so every kernel queued later reads the copied bytes.
#include <cuda_runtime_api.h>

#include "tensor/cuda/check.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/handles.h"

namespace sepal::cuda {

void* pinned_alloc(size_t nbytes) {
  void* ptr = nullptr;
  // Portable: usable from every device, whichever is current.
  SEPAL_CUDA_CHECK(cudaHostAlloc(&ptr, nbytes, cudaHostAllocPortable));
  return ptr;
}

// May run during teardown: failures are ignored rather than thrown.
void pinned_free(void* ptr) {
  if (ptr && cudaFreeHost(ptr) != cudaSuccess) (void)cudaGetLastError();
}

void* event_create(int device) {
  DeviceGuard guard(device);
  cudaEvent_t event = nullptr;
  SEPAL_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  return event;
}

void event_destroy(void* event) {
  if (event && cudaEventDestroy(static_cast<cudaEvent_t>(event)) != cudaSuccess)
    (void)cudaGetLastError();
}

void copy_async(int device, void* dst, const void* src, size_t n, void* before, void* after) {
  DeviceGuard guard(device);
  const cudaStream_t copy = copy_stream(device);
  SEPAL_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(before), compute_stream()));
  SEPAL_CUDA_CHECK(cudaStreamWaitEvent(copy, static_cast<cudaEvent_t>(before), 0));
  SEPAL_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, copy));
  SEPAL_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(after), copy));
}

void compute_waits_for(int device, void* event) {
  DeviceGuard guard(device);
  SEPAL_CUDA_CHECK(cudaStreamWaitEvent(compute_stream(), static_cast<cudaEvent_t>(event), 0));
}

// An event never recorded counts as complete, so a fresh buffer does not block.
void event_wait(void* event) { SEPAL_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event))); }

}  // namespace sepal::cuda
