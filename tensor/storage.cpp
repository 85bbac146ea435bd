// storage.cpp: allocation and release of a Storage through its device's backend.
#include "tensor/storage.h"

#include "tensor/backend.h"

namespace sepal {

StorageImpl::StorageImpl(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = backend_for(device).allocate(nbytes);
}

StorageImpl::~StorageImpl() {
  if (data_) backend_for(device_).deallocate(data_, nbytes_);
}

}  // namespace sepal
