// hostdevice.h: the SEPAL_HD marker that lets one function compile for both the CPU and CUDA
// backends (tiny-cuda-nn style), plus host/device math overloads for float and double.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SEPAL_HD __host__ __device__ __forceinline__
#else
#define SEPAL_HD inline
#endif

namespace sepal::kernels {

// Overloads so a templated functor calls the right precision on host and device alike.
SEPAL_HD float math_exp(float x) { return ::expf(x); }
SEPAL_HD double math_exp(double x) { return ::exp(x); }
SEPAL_HD float math_log(float x) { return ::logf(x); }
SEPAL_HD double math_log(double x) { return ::log(x); }
SEPAL_HD float math_sqrt(float x) { return ::sqrtf(x); }
SEPAL_HD double math_sqrt(double x) { return ::sqrt(x); }
SEPAL_HD float math_tanh(float x) { return ::tanhf(x); }
SEPAL_HD double math_tanh(double x) { return ::tanh(x); }
SEPAL_HD float math_sin(float x) { return ::sinf(x); }
SEPAL_HD double math_sin(double x) { return ::sin(x); }
SEPAL_HD float math_cos(float x) { return ::cosf(x); }
SEPAL_HD double math_cos(double x) { return ::cos(x); }
SEPAL_HD float math_pow(float x, float y) { return ::powf(x, y); }
SEPAL_HD double math_pow(double x, double y) { return ::pow(x, y); }
SEPAL_HD float math_abs(float x) { return ::fabsf(x); }
SEPAL_HD double math_abs(double x) { return ::fabs(x); }

}  // namespace sepal::kernels
