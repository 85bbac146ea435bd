// gpu_flags.h: the CUDA precision and speed switches of every flowers command that runs a model
// (train, evaluate, predict): --tf32 and --cudnn-benchmark, the library's
// sepal::cuda::set_allow_tf32 and set_cudnn_benchmark (tensor/cuda_settings.h). Both are off by
// default so GPU results match the CPU's.
#pragma once
#include <string>

#include "cli.h"
#include "tensor/device.h"

namespace flowers {

struct GpuFlags {
  bool tf32 = false;
  bool cudnn_benchmark = false;
};

void declare_gpu_flags(Args& args);
GpuFlags read_gpu_flags(const Args& args);
// Sets the library switches; returns what to add to the "device:" line: "" when both are off,
// else e.g. " (TF32 on, cuDNN benchmark on)", or a note that they do nothing on the CPU.
std::string apply_gpu_flags(const GpuFlags& flags, sepal::Device device);

}  // namespace flowers
