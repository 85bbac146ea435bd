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

// Overloads so a templated functor calls the right precision on host and device alike:
// math_NAME(float) is ::NAMEf, math_NAME(double) is ::NAME, for the C math library's functions.
#define SEPAL_MATH_1(name)                                     \
  SEPAL_HD float math_##name(float x) { return ::name##f(x); } \
  SEPAL_HD double math_##name(double x) { return ::name(x); }
SEPAL_MATH_1(exp)
SEPAL_MATH_1(exp2)
SEPAL_MATH_1(expm1)
SEPAL_MATH_1(log)
SEPAL_MATH_1(log2)
SEPAL_MATH_1(log1p)
SEPAL_MATH_1(sqrt)
SEPAL_MATH_1(cbrt)
SEPAL_MATH_1(sin)
SEPAL_MATH_1(cos)
SEPAL_MATH_1(tan)
SEPAL_MATH_1(atan)
SEPAL_MATH_1(sinh)
SEPAL_MATH_1(cosh)
SEPAL_MATH_1(tanh)
SEPAL_MATH_1(erf)
SEPAL_MATH_1(erfc)
SEPAL_MATH_1(floor)
SEPAL_MATH_1(ceil)
#undef SEPAL_MATH_1
SEPAL_HD float math_pow(float x, float y) { return ::powf(x, y); }
SEPAL_HD double math_pow(double x, double y) { return ::pow(x, y); }
SEPAL_HD float math_abs(float x) { return ::fabsf(x); }
SEPAL_HD double math_abs(double x) { return ::fabs(x); }

}  // namespace sepal::kernels
