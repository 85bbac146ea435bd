// storage.cpp: allocation and release of a Storage through its device's backend, or the
// wrapping of outside CPU memory.
#include "tensor/storage.h"

#include "tensor/backend.h"

namespace sepal {

uint64_t StorageImpl::next_version() {
  static std::atomic<uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

StorageImpl::StorageImpl(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = backend_for(device).allocate(nbytes);
}

StorageImpl::StorageImpl(void* data, size_t nbytes, Deleter deleter)
    : data_(data), nbytes_(nbytes), device_(Device::cpu()), external_(true), deleter_(std::move(deleter)) {}

StorageImpl::~StorageImpl() {
  if (external_) {
    if (deleter_) deleter_(data_);
  } else if (data_) {
    backend_for(device_).deallocate(data_, nbytes_);
  }
}

}  // namespace sepal
