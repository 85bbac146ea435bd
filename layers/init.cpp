// init.cpp: see init.h.
#include "layers/init.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal::nn::init {

namespace {
int64_t receptive_field(const Tensor& w) {
  int64_t r = 1;
  for (int64_t d = 2; d < w.dim(); ++d) r *= w.size(d);
  return r;
}
TensorOptions like(const Tensor& t) { return TensorOptions().dtype(t.dtype()).device(t.device()); }
}  // namespace

int64_t fan_in(const Tensor& weight) {
  if (weight.dim() < 2) throw ShapeError("init: fan_in needs a weight with at least 2 dims, got " + shape_str(weight.shape()));
  return weight.size(1) * receptive_field(weight);
}
int64_t fan_out(const Tensor& weight) {
  if (weight.dim() < 2) throw ShapeError("init: fan_out needs a weight with at least 2 dims, got " + shape_str(weight.shape()));
  return weight.size(0) * receptive_field(weight);
}

void uniform_(Tensor& t, double low, double high, Generator* gen) {
  NoGradGuard no_grad;
  raw::copy_(t, uniform(t.shape(), low, high, like(t), gen));
}
void normal_(Tensor& t, double mean, double std, Generator* gen) {
  NoGradGuard no_grad;
  raw::copy_(t, normal(t.shape(), mean, std, like(t), gen));
}
void constant_(Tensor& t, double value) { raw::fill_(t, value); }

void kaiming_normal_fan_out_relu_(Tensor& t, Generator* gen) {
  normal_(t, 0.0, std::sqrt(2.0) / std::sqrt(static_cast<double>(fan_out(t))), gen);
}

void default_weight_(Tensor& weight, Generator* gen) {
  double bound = 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fan_in(weight), 1)));
  uniform_(weight, -bound, bound, gen);
}

void default_bias_(Tensor& bias, const Tensor& weight, Generator* gen) {
  int64_t f = fan_in(weight);
  double bound = f > 0 ? 1.0 / std::sqrt(static_cast<double>(f)) : 0.0;
  if (bound > 0) uniform_(bias, -bound, bound, gen);
  else constant_(bias, 0.0);
}

}  // namespace sepal::nn::init
