// storage.h: a reference-counted block of device memory. Tensors are views (shape, strides,
// offset) onto a Storage; several tensors may share one. Memory comes from the device's
// backend allocator (a caching allocator on both CPU and CUDA), or is an outside CPU buffer
// (from_blob) that the storage wraps without copying: it never frees it itself, and calls the
// optional deleter when the last tensor over it goes.
//
// Every storage carries a version: a number drawn from one process-wide counter when the storage
// is made and again after each in-place write through the raw layer (copy_, fill_, binary_),
// BatchNorm's running-statistics update and the fused optimizer step. Two reads of the same
// version therefore saw the same bytes, and a version is never reused, not even by a later
// storage at the same address, so a cache keyed by versions (the folded Conv+BatchNorm weights,
// layers/conv_bn.h) never mistakes new contents for old. Writes through data_ptr()/raw_data()
// are not seen: a caller writing that way into a tensor others may have cached calls
// mark_modified(). Outside memory (from_blob) may change behind our back, so its version is new
// on every read.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
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
  // The version of the contents (see the top of this file).
  uint64_t version() const { return external_ ? next_version() : version_.load(std::memory_order_acquire); }
  // Records an in-place write: the contents get a new version.
  void mark_modified() { version_.store(next_version(), std::memory_order_release); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  bool external_ = false;
  Deleter deleter_;
  static uint64_t next_version();
  std::atomic<uint64_t> version_{next_version()};
};

using Storage = std::shared_ptr<StorageImpl>;

}  // namespace sepal
