// leaf.h: a float64 leaf tensor that requires grad, the starting point of hand-derived gradient
// tests:  Tensor x = testing::leaf({1, -2, 3}, {3});
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace sepal::testing {

inline Tensor leaf(const std::vector<double>& values, const Shape& shape) {
  Tensor t = from_vector(values, shape, DType::Float64);
  t.requires_grad_();
  return t;
}

}  // namespace sepal::testing
