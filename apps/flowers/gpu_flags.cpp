// gpu_flags.cpp: see gpu_flags.h.
#include "gpu_flags.h"

#include "tensor/cuda_settings.h"

namespace flowers {

void declare_gpu_flags(Args& a) {
  a.toggle("--tf32", "CUDA: float32 matmuls and convolutions may use TF32 tensor cores (faster, "
           "about 1e-3 relative error instead of 1e-6; off by default so results match the CPU)");
  a.toggle("--cudnn-benchmark", "CUDA: time every cuDNN algorithm once per convolution shape and keep "
           "the fastest (slower first step; like torch.backends.cudnn.benchmark)");
}

GpuFlags read_gpu_flags(const Args& a) { return {a.on("--tf32"), a.on("--cudnn-benchmark")}; }

std::string apply_gpu_flags(const GpuFlags& f, sepal::Device device) {
  sepal::cuda::set_allow_tf32(f.tf32);
  sepal::cuda::set_cudnn_benchmark(f.cudnn_benchmark);
  if (!f.tf32 && !f.cudnn_benchmark) return "";
  std::string on = f.tf32 ? "TF32 on" : "";
  if (f.cudnn_benchmark) on += std::string(on.empty() ? "" : ", ") + "cuDNN benchmark on";
  if (!device.is_cuda()) return " (" + on + ": no effect on the CPU)";
  return " (" + on + ")";
}

}  // namespace flowers
