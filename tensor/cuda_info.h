// cuda_info.h: what CUDA sepal was built against and what it finds at run time, for `flowers
// --version` and the GPU check's report: the CUDA runtime, cuBLAS and cuDNN versions compiled
// against and loaded, the driver's CUDA version, and each device. Plain C++; in a build without
// CUDA it says so.
#pragma once
#include <string>

namespace sepal {

// Several lines, e.g.
//   CUDA runtime 13.0 (compiled against 13.0), driver supports CUDA 13.0
//   cuBLAS 13.1.0 (compiled against 13.1.0)
//   cuDNN 9.12.0 (compiled against 9.12.0)
//   cuda:0 NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB
std::string cuda_info();

}  // namespace sepal
