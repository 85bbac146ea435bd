// storage.h: a reference-counted block of device memory. Tensors are views (shape, strides,
// offset) onto a Storage; several tensors may share one. Memory comes from the device's
// backend allocator (a caching allocator on both CPU and CUDA).
#pragma once
#include <cstddef>
#include <memory>

#include "tensor/device.h"

namespace sepal {

class StorageImpl {
 public:
  StorageImpl(size_t nbytes, Device device);  // allocates through the device's backend
  ~StorageImpl();
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

using Storage = std::shared_ptr<StorageImpl>;

}  // namespace sepal
