// cuda_info.cpp: cuda_info() of a build without CUDA (the CUDA build's is tensor/cuda/info.cpp).
#include "tensor/cuda_info.h"

namespace sepal {

#ifndef SEPAL_WITH_CUDA
std::string cuda_info() { return "CUDA: not built (a CPU-only build of sepal)\n"; }
#endif

}  // namespace sepal
