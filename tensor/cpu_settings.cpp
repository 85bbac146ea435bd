// cpu_settings.cpp: the CPU backend's switches (tensor/cpu_settings.h).
#include "tensor/cpu_settings.h"

#include <dnnl.hpp>

#include <atomic>
#include <cstdlib>
#include <string>

namespace sepal::cpu {

namespace {
// The starting value: SEPAL_CPU_BF16_KERNELS=native|emulated, else Auto.
Bf16Kernels from_env() {
  const char* v = std::getenv("SEPAL_CPU_BF16_KERNELS");
  if (v && std::string(v) == "native") return Bf16Kernels::Native;
  if (v && std::string(v) == "emulated") return Bf16Kernels::Emulated;
  return Bf16Kernels::Auto;
}
std::atomic<Bf16Kernels> chosen_bf16_kernels{from_env()};
}  // namespace

void set_bf16_kernels(Bf16Kernels kernels) { chosen_bf16_kernels.store(kernels); }
Bf16Kernels bf16_kernels() { return chosen_bf16_kernels.load(); }

Bf16Kernels effective_bf16_kernels() {
  const Bf16Kernels k = bf16_kernels();
  if (k != Bf16Kernels::Auto) return k;
  // cpu_isa values are bit sets: a machine has AMX when every bit of avx512_core_amx is set
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto amx_bits = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_amx);
  static const bool amx = (isa & amx_bits) == amx_bits;
  return amx ? Bf16Kernels::Native : Bf16Kernels::Emulated;
}

const char* bf16_kernels_name(Bf16Kernels k) {
  return k == Bf16Kernels::Native ? "native" : k == Bf16Kernels::Emulated ? "emulated" : "auto";
}

}  // namespace sepal::cpu
