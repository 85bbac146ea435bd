// philox.h: the Philox4x32-10 counter-based generator (Salmon et al., SC'11) and the functor that
// turns (seed, offset, element index) into a uniform, normal or integer value. Because a value
// depends only on those three numbers, the CPU and CUDA backends produce identical random
// tensors, any thread split gives the same result, and a generator's state is two integers.
#pragma once
#include <cstdint>

#include "tensor/kernels/hostdevice.h"

namespace sepal::kernels {

struct Philox4x32 {
  uint32_t v[4];
};

SEPAL_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t product = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(product >> 32);
  return static_cast<uint32_t>(product);
}

// Ten rounds of Philox4x32 on counter `counter` with key `seed`.
SEPAL_HD Philox4x32 philox(uint64_t seed, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo32(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

enum class RandomKind : uint8_t { Uniform, Normal, Integer };

// Element i of a random tensor: Uniform in [a, b), Normal with mean a and std b (Box-Muller),
// Integer uniform in [a, b). Values are computed in double so both backends agree bit for bit.
template <typename T>
struct RandomFill {
  uint64_t seed;
  uint64_t offset;
  RandomKind kind;
  double a, b;
  SEPAL_HD T operator()(int64_t i) const {
    Philox4x32 r = philox(seed, offset + static_cast<uint64_t>(i));
    const double inv32 = 2.3283064365386963e-10;  // 2^-32
    if (kind == RandomKind::Uniform) {
      // 53 random bits -> [0, 1)
      uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11);
      double u = static_cast<double>(bits & ((1ull << 53) - 1)) * 1.1102230246251565e-16;
      // explicit fma: a + (b - a) * u would be fused by some compilers and flags (nvcc, gcc with
      // -march=native) and not by others, which changes the last bit between backends
      double value = ::fma(b - a, u, a);
      T out = static_cast<T>(value);
      // rounding to float may reach b; keep the interval half-open
      return static_cast<double>(out) >= b ? static_cast<T>(a) : out;
    }
    if (kind == RandomKind::Normal) {
      double u1 = (static_cast<double>(r.v[0]) + 1.0) * inv32;  // (0, 1]
      double u2 = static_cast<double>(r.v[1]) * inv32;          // [0, 1)
      double z = ::sqrt(-2.0 * ::log(u1)) * ::cos(6.283185307179586 * u2);
      return static_cast<T>(::fma(b, z, a));  // explicit fma, as above
    }
    uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
    uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(b) - static_cast<int64_t>(a));
    return static_cast<T>(static_cast<int64_t>(a) + static_cast<int64_t>(bits % range));
  }
};

}  // namespace sepal::kernels
