// device.cpp: device parsing and printing, CUDA availability, and the backend registry.
#include "tensor/device.h"

#include "tensor/backend.h"
#include "tensor/cuda/memory_stats.h"
#include "tensor/error.h"
#include "tensor/profiler.h"
#include "tensor/profiling_backend.h"

namespace sepal {

Backend& cpu_backend();  // tensor/cpu/cpu_backend.cpp
#ifdef SEPAL_WITH_CUDA
Backend& cuda_backend(int index);  // tensor/cuda/cuda_backend.cu
int cuda_backend_device_count();
#endif

bool built_with_cuda() {
#ifdef SEPAL_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef SEPAL_WITH_CUDA
  return cuda_backend_device_count();
#else
  return 0;
#endif
}

#ifndef SEPAL_WITH_CUDA
// The CUDA allocator's entry points (tensor/cuda/memory_stats.h) in a build without CUDA.
AllocatorStats cuda_allocator_stats(int device) {
  throw DeviceError("cuda_allocator_stats: device cuda:" + std::to_string(device) +
                    " requested but sepal was built without CUDA support");
}
void cuda_empty_cache(int device) {
  throw DeviceError("cuda_empty_cache: device cuda:" + std::to_string(device) +
                    " requested but sepal was built without CUDA support");
}
void cuda_set_cache_limit(int device, size_t) {
  throw DeviceError("cuda_set_cache_limit: device cuda:" + std::to_string(device) +
                    " requested but sepal was built without CUDA support");
}
#endif

Device Device::best() { return cuda_available() ? Device::cuda(0) : Device::cpu(); }

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "auto") return best();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 &&
      text.find_first_not_of("0123456789", 5) == std::string::npos && text.size() < 9)
    return cuda(std::stoi(text.substr(5)));
  throw Error("unknown device '" + text + "' (expected cpu, cuda, cuda:N or auto)");
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

namespace {
Backend& device_backend(Device device) {
  if (device.is_cpu()) return cpu_backend();
#ifdef SEPAL_WITH_CUDA
  int count = cuda_backend_device_count();
  if (device.index < 0 || device.index >= count)
    throw DeviceError("device " + device.str() + " is not available (" + std::to_string(count) +
                      " CUDA device(s) present)");
  return cuda_backend(device.index);
#else
  throw DeviceError("device " + device.str() +
                    " requested but sepal was built without CUDA support (configure with "
                    "-DSEPAL_CUDA=ON on a machine with the CUDA toolkit)");
#endif
}
}  // namespace

// While a profiling session records on this thread, every call goes through its timing wrapper.
Backend& backend_for(Device device) {
  Backend& backend = device_backend(device);
  return profile::enabled() ? profile::profiling_backend(backend) : backend;
}

}  // namespace sepal
