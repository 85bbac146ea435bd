// linalg.cpp: differentiable matmul. For C = A @ B: dA = dC @ B^T and dB = A^T @ dC; when one
// operand was broadcast over the batch, the engine sums its batched gradient back to 2-D. Under
// bf16 autocast the forward and both gradient products compute in bfloat16 (float32 accumulation).
#include "autograd/autocast.h"
#include "autograd/functions.h"
#include "autograd/node.h"
#include "tensor/raw.h"

namespace sepal {

Tensor matmul(const Tensor& a, const Tensor& b) {
  const Precision precision = Autocast::for_tensor(a);
  Tensor y = raw::matmul(a, b, precision);
  return autograd::record("matmul", y, {a, b}, [a, b, precision](const Tensor& g, const std::vector<bool>& needs) {
    std::vector<Tensor> grads(2);
    if (needs[0]) grads[0] = raw::matmul(g, raw::transpose(b, -1, -2), precision);
    if (needs[1]) grads[1] = raw::matmul(raw::transpose(a, -1, -2), g, precision);
    return grads;
  });
}

Tensor Tensor::matmul(const Tensor& other) const { return sepal::matmul(*this, other); }

}  // namespace sepal
