// scaled_error.h: the error of a result relative to its output's scale, for comparing a fused or
// folded computation with the unfused composition it replaces (float rounding only).
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/tensor.h"

namespace sepal::testing {

// max |a - b| / max(1, max |b|).
inline double scaled_error(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double err = 0.0, scale = 1.0;
  for (size_t i = 0; i < x.size(); ++i) {
    err = std::max(err, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  return err / scale;
}

// The scaled error allowed between two float-rounding-different computations of one result.
inline double rounding_tolerance(DType dtype) { return dtype == DType::Float32 ? 1e-5 : 1e-12; }

}  // namespace sepal::testing
