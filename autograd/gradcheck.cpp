// gradcheck.cpp: see gradcheck.h. The analytic Jacobian comes from one backward pass per output
// element (one-hot upstream gradient); the numeric one from perturbing each input element by
// +-eps in place through its strides.
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal {

namespace {

// Pointer to logical element `index` (row-major over the shape) of a strided tensor.
double* element(const Tensor& t, int64_t index) {
  int64_t offset = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    offset += (index % t.size(d)) * t.stride(d);
    index /= t.size(d);
  }
  return t.data_ptr<double>() + offset;
}

std::vector<double> flat(const Tensor& t) { return t.to_vector<double>(); }

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, GradcheckOptions options) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    if (x.dtype() != DType::Float64 || !x.device().is_cpu())
      throw Error("gradcheck: input " + std::to_string(i) + " must be a float64 CPU tensor, got " +
                  dtype_name(x.dtype()) + " on " + x.device().str());
    for (int64_t d = 0; d < x.dim(); ++d)
      if (x.stride(d) == 0 && x.size(d) > 1)
        throw Error("gradcheck: input " + std::to_string(i) + " has overlapping (expanded) elements");
  }
  Tensor out = fn(inputs);
  const int64_t n_out = out.numel();
  GradcheckResult result;

  // analytic[i][o * n_in + e] = d out[o] / d input_i[e]
  std::vector<std::vector<double>> analytic(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) analytic[i].assign(n_out * inputs[i].numel(), 0.0);
  for (int64_t o = 0; o < n_out; ++o) {
    for (const Tensor& x : inputs)
      if (x.defined() && x.requires_grad()) const_cast<Tensor&>(x).zero_grad();
    std::vector<double> onehot(n_out, 0.0);
    onehot[o] = 1.0;
    Tensor seed = from_vector(onehot, out.shape(), TensorOptions().dtype(out.dtype()));
    if (out.requires_grad()) out.backward(seed, /*retain_graph=*/true);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (analytic[i].empty() || !inputs[i].grad().defined()) continue;
      std::vector<double> g = flat(inputs[i].grad());
      std::copy(g.begin(), g.end(), analytic[i].begin() + o * inputs[i].numel());
    }
  }

  NoGradGuard no_grad;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (analytic[i].empty()) continue;
    const Tensor& x = inputs[i];
    const int64_t n_in = x.numel();
    for (int64_t e = 0; e < n_in; ++e) {
      double* p = element(x, e);
      const double saved = *p;
      *p = saved + options.eps;
      std::vector<double> plus = flat(fn(inputs));
      *p = saved - options.eps;
      std::vector<double> minus = flat(fn(inputs));
      *p = saved;
      for (int64_t o = 0; o < n_out; ++o) {
        double numeric = (plus[o] - minus[o]) / (2.0 * options.eps);
        double a = analytic[i][o * n_in + e];
        double err = std::abs(a - numeric);
        result.max_error = std::max(result.max_error, err);
        if (result.ok && !(err <= options.atol + options.rtol * std::abs(numeric))) {
          std::ostringstream msg;
          msg << "gradcheck: input " << i << " " << shape_str(x.shape()) << ", element " << e
              << ", output element " << o << ": analytic " << a << " vs numeric " << numeric;
          result.ok = false;
          result.message = msg.str();
        }
      }
    }
  }
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) const_cast<Tensor&>(x).zero_grad();
  return result;
}

}  // namespace sepal
