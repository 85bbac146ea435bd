// compute_flags.cpp: see compute_flags.h.
#include "compute_flags.h"

#include "autograd/autocast.h"
#include "tensor/cuda_settings.h"

namespace flowers {

void declare_compute_flags(Args& a) {
  a.value("--precision", "P", "fp32 | bf16: bf16 runs convolutions and matmuls in bfloat16 with float32 "
          "accumulation (autocast); BatchNorm, losses, weights, optimizer state and checkpoints stay float32",
          "fp32");
  a.toggle("--tf32", "CUDA: float32 matmuls and convolutions may use TF32 tensor cores (faster, "
           "about 1e-3 relative error instead of 1e-6; off by default so results match the CPU)");
  a.toggle("--cudnn-benchmark", "CUDA: time every cuDNN algorithm once per convolution shape and keep "
           "the fastest (slower first step; like torch.backends.cudnn.benchmark)");
}

ComputeFlags read_compute_flags(const Args& a) {
  const std::string precision = a.choice("--precision", {"fp32", "bf16"});
  return {a.on("--tf32"), a.on("--cudnn-benchmark"), sepal::parse_precision(precision)};
}

std::string apply_compute_flags(const ComputeFlags& f, sepal::Device device) {
  sepal::cuda::set_allow_tf32(f.tf32);
  sepal::cuda::set_cudnn_benchmark(f.cudnn_benchmark);
  sepal::Autocast::set_precision(f.precision);
  std::string notes = f.precision == sepal::Precision::BFloat16 ? "bf16 autocast" : "";
  std::string gpu_only = f.tf32 ? "TF32 on" : "";
  if (f.cudnn_benchmark) gpu_only += std::string(gpu_only.empty() ? "" : ", ") + "cuDNN benchmark on";
  if (!gpu_only.empty() && !device.is_cuda()) gpu_only += ": no effect on the CPU";
  if (!gpu_only.empty()) notes += std::string(notes.empty() ? "" : ", ") + gpu_only;
  return notes.empty() ? "" : " (" + notes + ")";
}

}  // namespace flowers
