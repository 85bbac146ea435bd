// cpu_settings.h: process-wide switches of the CPU backend.
//
//   set_bf16_kernels(k)   how bf16 autocast (autograd/autocast.h) runs float32 convolutions:
//     Native    oneDNN's bfloat16 primitives (bf16 operands, float32 accumulation and output);
//     Emulated  oneDNN's float32 primitives on operands rounded to bfloat16: the same products
//               (a bf16 x bf16 product is exact in float32), float32 accumulation, float32 output;
//     Auto      (the default) Native where oneDNN finds AMX (Sapphire Rapids and newer, where its
//               bf16 kernels are several times faster than float32), else Emulated: without AMX,
//               Debian's oneDNN 2.6 bf16 kernels take about 1.3x the float32 time (docs/performance.md).
//   Both give bf16 results within float32 accumulation error of each other (tests/autograd/
//   autocast_test.cpp runs both). Takes effect for the next call; the plan cache is keyed by it.
//   The environment variable SEPAL_CPU_BF16_KERNELS=native|emulated sets the starting value.
#pragma once

namespace sepal::cpu {

enum class Bf16Kernels { Auto, Native, Emulated };

void set_bf16_kernels(Bf16Kernels kernels);
Bf16Kernels bf16_kernels();
// Auto resolved for this machine: Native or Emulated.
Bf16Kernels effective_bf16_kernels();
const char* bf16_kernels_name(Bf16Kernels kernels);  // "auto", "native", "emulated"

}  // namespace sepal::cpu
