// pinned.cpp (CUDA): page-locked host memory, events and asynchronous host-to-device copies
// behind PinnedHostBuffer (tensor/pinned.h). Copies go on the legacy default stream (0), the
// stream every CUDA backend kernel uses, so they are ordered before the kernels that read them.
#include <cuda_runtime_api.h>

#include "tensor/cuda/check.h"
#include "tensor/cuda/device_guard.h"

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

void copy_async(int device, void* dst, const void* src, size_t n, void* event) {
  DeviceGuard guard(device);
  SEPAL_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, 0));
  SEPAL_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), 0));
}

// An event never recorded counts as complete, so a fresh buffer does not block.
void event_wait(void* event) { SEPAL_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event))); }

}  // namespace sepal::cuda
