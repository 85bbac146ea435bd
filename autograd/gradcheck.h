// gradcheck.h: compares the analytic gradients the engine computes with central finite
// differences, element by element of the full Jacobian, in float64 (torch.autograd.gradcheck).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace sepal {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  double max_error = 0.0;  // largest |analytic - numeric| seen
  std::string message;     // the first failing entry, naming input, element and both values
};

// `inputs` must be float64 CPU tensors; those with requires_grad are checked. Inputs may be
// non-contiguous views, but no element may alias another (no expanded inputs).
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace sepal
