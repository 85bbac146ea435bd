// cuda_settings.h: process-wide switches of the CUDA backend that users expect from PyTorch,
// all off by default so float32 results on a GPU match the CPU backend. Plain C++: they can be
// set (and read) in a build without CUDA, where they change nothing.
//
//   set_allow_tf32(true)      float32 matmuls (cuBLAS CUBLAS_TF32_TENSOR_OP_MATH) and
//                             convolutions (cuDNN CUDNN_DEFAULT_MATH, tensor-op algorithms allowed)
//                             may round their inputs to TF32 (10-bit mantissa) on Ampere and newer:
//                             several times faster, relative error ~1e-3 instead of ~1e-6.
//                             torch.backends.cuda.matmul.allow_tf32 + torch.backends.cudnn.allow_tf32.
//   set_cudnn_benchmark(true) each distinct convolution (shape, dtype, arguments) times every cuDNN
//                             algorithm once (cudnnFind*AlgorithmEx) and keeps the fastest, instead
//                             of taking cuDNN's heuristic ranking. torch.backends.cudnn.benchmark.
//                             The first step of each new shape is slower; results may differ in
//                             the last bits from the heuristic choice.
// Both take effect for the next call; convolutions already planned under the other setting keep
// their plans (the plan cache is keyed by both switches).
#pragma once
#include <cstddef>

namespace sepal::cuda {

void set_allow_tf32(bool allow);
bool allow_tf32();
void set_cudnn_benchmark(bool enable);
bool cudnn_benchmark();

// The CUDA allocator's cache bound from the value of SEPAL_CUDA_CACHE_LIMIT_MB (a whole number of
// MiB; 0 caches nothing): unbounded for null or empty. Throws sepal::Error naming the variable for
// anything else.
size_t cache_limit_from_env(const char* value);

}  // namespace sepal::cuda
