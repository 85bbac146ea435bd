// precision.cpp: the names of the arithmetic precisions (tensor/precision.h).
#include "tensor/precision.h"

#include "tensor/error.h"

namespace sepal {

const char* precision_name(Precision p) { return p == Precision::BFloat16 ? "bf16" : "fp32"; }

Precision parse_precision(const std::string& text) {
  if (text == "fp32" || text == "float32") return Precision::Float32;
  if (text == "bf16" || text == "bfloat16") return Precision::BFloat16;
  throw Error("unknown precision '" + text + "' (expected fp32 or bf16)");
}

}  // namespace sepal
