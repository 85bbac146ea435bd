// device.h: where a tensor's storage lives (cpu or cuda:N). The device is a property of the
// storage, never a global mode; copies between devices are explicit (Tensor::to).
#pragma once
#include <string>

namespace sepal {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  // CUDA when this build has CUDA support and a device is present, else CPU
  // (torch.device("cuda" if torch.cuda.is_available() else "cpu")).
  static Device best();
  // Parses "cpu", "cuda", "cuda:1" or "auto"; throws sepal::Error on anything else.
  static Device parse(const std::string& text);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// True when sepal was built with the CUDA backend.
bool built_with_cuda();
// Number of usable CUDA devices (0 in a CPU-only build or on a machine without a GPU).
int cuda_device_count();
inline bool cuda_available() { return cuda_device_count() > 0; }

}  // namespace sepal
