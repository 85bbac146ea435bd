// bf16.h: float32 -> bfloat16 rounding, shared by the CPU and CUDA backends: round to nearest,
// ties to even, on the upper 16 bits of the float; NaN stays NaN (quiet), infinities and signed
// zeros are kept, and a finite value that rounds past the largest bfloat16 becomes infinity (as
// IEEE rounding does). bf16_round(x) is the float32 holding that bfloat16 value exactly.
#pragma once
#include <cstdint>
#include <cstring>

#include "tensor/kernels/hostdevice.h"

namespace sepal::kernels {

SEPAL_HD uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

SEPAL_HD float float_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// The bfloat16 bits of x.
SEPAL_HD uint16_t bf16_bits(float x) {
  const uint32_t u = float_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // NaN: keep it quiet
  const uint32_t lsb = (u >> 16) & 1u;
  return static_cast<uint16_t>((u + 0x7fffu + lsb) >> 16);
}

SEPAL_HD float bf16_to_float(uint16_t b) { return float_from_bits(static_cast<uint32_t>(b) << 16); }

SEPAL_HD float bf16_round(float x) { return bf16_to_float(bf16_bits(x)); }

}  // namespace sepal::kernels
