// compute_flags.h: the precision and speed switches of every flowers command that runs a model
// (train, evaluate, predict): --precision fp32|bf16 (the library's autocast, autograd/autocast.h:
// convolutions and matmuls in bfloat16 with float32 accumulation, everything else, the weights,
// optimizer state and checkpoints float32), and on CUDA --tf32 and --cudnn-benchmark (the
// library's sepal::cuda::set_allow_tf32 and set_cudnn_benchmark, tensor/cuda_settings.h). All are
// off by default so results match across devices.
#pragma once
#include <string>

#include "cli.h"
#include "tensor/device.h"
#include "tensor/precision.h"

namespace flowers {

struct ComputeFlags {
  bool tf32 = false;
  bool cudnn_benchmark = false;
  sepal::Precision precision = sepal::Precision::Float32;
};

void declare_compute_flags(Args& args);
ComputeFlags read_compute_flags(const Args& args);  // throws on a bad --precision
// Sets the library switches (autocast for this thread: the one that runs the model); returns what
// to add to the "device:" line: "" when all are off, else e.g. " (bf16 autocast, TF32 on)", with a
// note where TF32 or the cuDNN benchmark do nothing on the CPU.
std::string apply_compute_flags(const ComputeFlags& flags, sepal::Device device);

}  // namespace flowers
