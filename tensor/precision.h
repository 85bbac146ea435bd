// precision.h: the arithmetic precision of convolutions and matrix products (float32 tensors
// stay float32 in memory either way). Float32 is exact float32 arithmetic; BFloat16 rounds both
// operands to bfloat16 (round to nearest even) and accumulates in float32, as torch.autocast
// does for these ops on the CPU and CUDA. The thread-local autocast switch that picks it is in
// autograd/autocast.h; the rounding itself is tensor/kernels/bf16.h.
#pragma once
#include <string>

namespace sepal {

enum class Precision { Float32, BFloat16 };

// "fp32" / "bf16": the names the CLI and checkpoints use.
const char* precision_name(Precision p);
// Parses "fp32" or "bf16" (also "float32" and "bfloat16"); throws sepal::Error naming the value.
Precision parse_precision(const std::string& text);

}  // namespace sepal
