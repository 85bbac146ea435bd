// storage.h: a reference-counted block of device memory. Tensors are views (shape, strides,
// offset) onto a Storage; several tensors may share one. Memory comes from the device's
// backend allocator (a caching allocator on both CPU and CUDA), or is an outside CPU buffer
// (from_blob) that the storage wraps without copying: it never frees it itself, and calls the
// optional deleter when the last tensor over it goes.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

#include "tensor/device.h"

namespace sepal {

class StorageImpl {
 public:
  using Deleter = std::function<void(void*)>;
  StorageImpl(size_t nbytes, Device device);  // allocates through the device's backend
  // Wraps `nbytes` of outside CPU memory at `data`; `deleter` (may be empty) is called with
  // `data` on destruction.
  StorageImpl(void* data, size_t nbytes, Deleter deleter);
  ~StorageImpl();
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  // True for outside memory: something other than the tensors may read or write it.
  bool external() const { return external_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  bool external_ = false;
  Deleter deleter_;
};

using Storage = std::shared_ptr<StorageImpl>;

}  // namespace sepal
