// pinned.cpp: PinnedHostBuffer (see pinned.h). The CUDA calls live in tensor/cuda/pinned.cpp,
// built only with the CUDA backend; here they are declared and dispatched to.
#include "tensor/pinned.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace sepal {

#ifdef SEPAL_WITH_CUDA
namespace cuda {
void* pinned_alloc(size_t nbytes);  // tensor/cuda/pinned.cpp
void pinned_free(void* ptr);
void* event_create(int device);
void event_destroy(void* event);
void copy_async(int device, void* dst, const void* src, size_t n, void* before, void* after);
void compute_waits_for(int device, void* event);
void event_wait(void* event);
}  // namespace cuda
#endif

PinnedHostBuffer::PinnedHostBuffer(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  backend_for(device);  // DeviceError for an absent device or a build without CUDA
  size_t n = nbytes == 0 ? 1 : nbytes;
#ifdef SEPAL_WITH_CUDA
  if (device.is_cuda()) {
    data_ = cuda::pinned_alloc(n);
    try {
      event_ = cuda::event_create(device.index);
      compute_event_ = cuda::event_create(device.index);
    } catch (...) {
      cuda::event_destroy(event_);
      cuda::pinned_free(data_);
      throw;
    }
    return;
  }
#endif
  data_ = ::operator new(n, std::align_val_t(64));
}

PinnedHostBuffer::~PinnedHostBuffer() {
#ifdef SEPAL_WITH_CUDA
  if (device_.is_cuda()) {
    try {
      cuda::event_wait(event_);
    } catch (...) {
    }
    cuda::event_destroy(event_);
    cuda::event_destroy(compute_event_);
    cuda::pinned_free(data_);
    return;
  }
#endif
  ::operator delete(data_, std::align_val_t(64));
}

void PinnedHostBuffer::copy_to_device_async(void* dst, size_t offset, size_t n) {
  if (offset > nbytes_ || n > nbytes_ - offset)
    throw IndexError("PinnedHostBuffer::copy_to_device_async: bytes [" + std::to_string(offset) +
                     ", " + std::to_string(offset + n) + ") outside a buffer of " +
                     std::to_string(nbytes_) + " bytes");
  if (n == 0) return;
  const char* src = static_cast<const char*>(data_) + offset;
#ifdef SEPAL_WITH_CUDA
  if (device_.is_cuda()) {
    cuda::copy_async(device_.index, dst, src, n, compute_event_, event_);
    return;
  }
#endif
  std::memcpy(dst, src, n);
}

void PinnedHostBuffer::order_before_compute() {
#ifdef SEPAL_WITH_CUDA
  if (device_.is_cuda()) cuda::compute_waits_for(device_.index, event_);
#endif
}

void PinnedHostBuffer::wait() {
#ifdef SEPAL_WITH_CUDA
  if (device_.is_cuda()) cuda::event_wait(event_);
#endif
}

}  // namespace sepal
