// optim_ops.h: the per-element Adam/AdamW update, written once for the CPU and CUDA backends.
// It performs exactly the float operations of the per-tensor update that optim/ composes from
// raw ops (and of PyTorch 1.13's single-tensor Adam), in the same order and each rounded once:
//
//   g = -g                                  (maximize)
//   g = g + p * weight_decay                (Adam's L2 decay)    | p = p * decay_factor (AdamW)
//   m = m * beta1;  m = m + g * (1 - beta1)
//   v = v * beta2;  v = v + (g * (1 - beta2)) * g
//   vmax = max(vmax, v)                     (amsgrad; the raw v, as PyTorch's code does)
//   d = sqrt(amsgrad ? vmax : v) / sqrt(bias_correction2) + eps
//   p = p + (m * -step_size) / d            step_size = lr / bias_correction1
//
// The helpers below stop nvcc from contracting a multiply and an add into one FMA (the CPU file
// is compiled with -ffp-contract=off), so the fused kernels of both backends equal the
// per-tensor path bit for bit.
#pragma once
#include <cstdint>

#include "tensor/kernels/hostdevice.h"

namespace sepal::kernels {

// ---- single-rounding arithmetic (never fused into an FMA) ----
SEPAL_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
SEPAL_HD double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
SEPAL_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
SEPAL_HD double add_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
SEPAL_HD float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
SEPAL_HD double div_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}
SEPAL_HD float sqrt_rn(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return __builtin_sqrtf(a);
#endif
}
SEPAL_HD double sqrt_rn(double a) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(a);
#else
  return __builtin_sqrt(a);
#endif
}

// How weight decay enters the update.
enum class AdamDecay : uint8_t {
  None,       // weight_decay == 0 (Adam) ... nothing to do
  L2,         // Adam: g += weight_decay * p
  Decoupled,  // AdamW: p *= 1 - lr * weight_decay, before the moments
};

// The scalars shared by the tensors of one update (one parameter group), rounded once to T.
template <typename T>
struct AdamGroupScalars {
  T beta1, one_minus_beta1;
  T beta2, one_minus_beta2;
  T eps;
  T weight_decay;  // L2
  T decay_factor;  // Decoupled: 1 - lr * weight_decay
};

// The scalars of one tensor (they depend on its own step count).
template <typename T>
struct AdamTensorScalars {
  T neg_step_size;           // -lr / (1 - beta1^step)
  T bias_correction2_sqrt;   // sqrt(1 - beta2^step)
};

// One element. vmax is read and written only when kAmsgrad.
template <typename T, bool kAmsgrad, AdamDecay kDecay, bool kMaximize>
SEPAL_HD void adam_element(T& p, T g, T& m, T& v, T& vmax, const AdamGroupScalars<T>& s,
                           const AdamTensorScalars<T>& t) {
  if constexpr (kMaximize) g = -g;
  if constexpr (kDecay == AdamDecay::L2) g = add_rn(g, mul_rn(p, s.weight_decay));
  T param = p;
  if constexpr (kDecay == AdamDecay::Decoupled) param = mul_rn(param, s.decay_factor);
  const T m1 = add_rn(mul_rn(m, s.beta1), mul_rn(g, s.one_minus_beta1));
  const T v1 = add_rn(mul_rn(v, s.beta2), mul_rn(mul_rn(g, s.one_minus_beta2), g));
  T second = v1;
  if constexpr (kAmsgrad) {
    const T vm = vmax > v1 ? vmax : v1;  // kernels::Maximum
    vmax = vm;
    second = vm;
  }
  const T denom = add_rn(div_rn(sqrt_rn(second), t.bias_correction2_sqrt), s.eps);
  p = add_rn(param, div_rn(mul_rn(m1, t.neg_step_size), denom));
  m = m1;
  v = v1;
}

// Calls f.template operator()<kAmsgrad, kDecay, kMaximize>() for run-time flags, so each
// backend instantiates its loop once per combination with the branches compiled out (host only).
template <typename F>
inline void dispatch_adam_flags(bool amsgrad, AdamDecay decay, bool maximize, F&& f) {
#define SEPAL_ADAM_CASE(A, D, M) \
  if (amsgrad == A && decay == D && maximize == M) return f.template operator()<A, D, M>();
#define SEPAL_ADAM_DECAYS(A, M)                 \
  SEPAL_ADAM_CASE(A, AdamDecay::None, M)        \
  SEPAL_ADAM_CASE(A, AdamDecay::L2, M)          \
  SEPAL_ADAM_CASE(A, AdamDecay::Decoupled, M)
  SEPAL_ADAM_DECAYS(false, false)
  SEPAL_ADAM_DECAYS(false, true)
  SEPAL_ADAM_DECAYS(true, false)
  SEPAL_ADAM_DECAYS(true, true)
#undef SEPAL_ADAM_DECAYS
#undef SEPAL_ADAM_CASE
}

}  // namespace sepal::kernels
