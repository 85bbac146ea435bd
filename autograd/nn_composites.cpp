// nn_composites.cpp: linear, log_softmax, softmax, the losses and dropout, built from existing
// differentiable ops; they need no backward of their own (see DESIGN.md, "Composite ops").
#include <algorithm>

#include "autograd/functions.h"
#include "autograd/nn_functions.h"
#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal {

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  raw::check_defined("linear", input, "input");
  raw::check_defined("linear", weight, "weight");
  if (weight.dim() != 2 || input.dim() < 1 || input.size(-1) != weight.size(1))
    throw ShapeError("linear: input " + shape_str(input.shape()) + " does not match weight " +
                     shape_str(weight.shape()) + " (expected input [..., " +
                     (weight.dim() == 2 ? std::to_string(weight.size(1)) : std::string("?")) + "])");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0)))
    throw ShapeError("linear: bias " + shape_str(bias.shape()) + " does not match weight " + shape_str(weight.shape()));
  Tensor x = input.dim() == 2 ? input : input.reshape({-1, input.size(-1)});
  Tensor y = matmul(x, weight.t());
  if (bias.defined()) y = y + bias;
  if (input.dim() == 2) return y;
  Shape out_shape = input.shape();
  out_shape.back() = weight.size(0);
  return y.reshape(out_shape);
}

Tensor log_softmax(const Tensor& input, int64_t dim) {
  raw::check_defined("log_softmax", input, "input");
  int64_t d = wrap_dim(dim, input.dim(), "log_softmax");
  // log_softmax(x) = x - m - log(sum(exp(x - m))) does not depend on the shift m, so m carries no
  // gradient (its contributions cancel exactly); subtracting it keeps exp() from overflowing.
  Tensor shift = raw::reduce(ReduceOp::Max, input, {d}, true);
  Tensor shifted = input - shift;
  return shifted - shifted.exp().sum({d}, true).log();
}

Tensor softmax(const Tensor& input, int64_t dim) { return log_softmax(input, dim).exp(); }

namespace {
Tensor reduce_loss(const Tensor& per_sample, Reduction reduction) {
  switch (reduction) {
    case Reduction::Mean: return per_sample.mean();
    case Reduction::Sum: return per_sample.sum();
    case Reduction::None: return per_sample;
  }
  return per_sample;
}

// The host-side range check of nll_loss's targets (CPU tensors only): throws IndexError naming
// the smallest target when one is negative, else the largest when one is >= the class count.
void check_target_range(const Tensor& log_probs, const Tensor& target) {
  const int64_t classes = log_probs.size(1);
  const Tensor t = target.contiguous();
  const int64_t* v = t.data_ptr<int64_t>();
  const int64_t n = t.numel();
  if (n == 0) return;
  int64_t lo = v[0], hi = v[0];
  for (int64_t i = 1; i < n; ++i) lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
  if (lo < 0 || hi >= classes)
    throw IndexError("nll_loss: target values must be in [0, " + std::to_string(classes) + "), got " +
                     (lo < 0 ? std::to_string(lo) : std::to_string(hi)) + " (input " +
                     shape_str(log_probs.shape()) + ")");
}
}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction) {
  raw::check_defined("nll_loss", log_probs, "input");
  raw::check_defined("nll_loss", target, "target");
  if (log_probs.dim() != 2)
    throw ShapeError("nll_loss: expected input [N, C], got " + shape_str(log_probs.shape()));
  if (target.dtype() != DType::Int64)
    throw DTypeError(std::string("nll_loss: target must be int64 class indices, got ") + dtype_name(target.dtype()));
  if (target.dim() != 1 || target.size(0) != log_probs.size(0))
    throw ShapeError("nll_loss: target " + shape_str(target.shape()) + " does not match input " +
                     shape_str(log_probs.shape()) + " (expected [" + std::to_string(log_probs.size(0)) + "])");
  raw::check_same_device("nll_loss", log_probs, target);
  const int64_t classes = log_probs.size(1);
  const bool on_host = target.device().is_cpu();
  if (on_host) check_target_range(log_probs, target);
  // one-hot mask [N, C]: picks log_probs[i, target[i]] with a multiply-and-sum
  Tensor classes_row = arange(0.0, static_cast<double>(classes), 1.0,
                              TensorOptions().dtype(DType::Int64).device(target.device()));
  Tensor mask = raw::cast(raw::compare(CompareOp::Eq, raw::unsqueeze(target, 1), raw::unsqueeze(classes_row, 0)),
                          log_probs.dtype());
  Tensor picked = (log_probs * mask).sum({1});
  // On a device the range is not checked on the host: a row whose target is out of range has an
  // all-zero mask, and dividing by the mask's row sum (exactly 1 for every valid row, so the
  // valid rows' values and gradients are unchanged) turns it into 0/0 = NaN.
  if (!on_host) picked = picked / raw::reduce(ReduceOp::Sum, mask, {1}, false);
  return reduce_loss(-picked, reduction);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction) {
  if (logits.defined() && logits.dim() != 2)
    throw ShapeError("cross_entropy: expected logits [N, C], got " + shape_str(logits.shape()));
  return nll_loss(log_softmax(logits, 1), target, reduction);
}

Tensor dropout(const Tensor& input, double p, bool training, Generator* gen) {
  if (!(p >= 0.0 && p <= 1.0)) throw Error("dropout: probability must be in [0, 1], got " + std::to_string(p));
  if (!training || p == 0.0) return input;
  if (p == 1.0) return input * 0.0;
  Tensor keep = raw::compare(CompareOp::Ge, rand(input.shape(), TensorOptions().dtype(input.dtype()).device(input.device()), gen),
                             raw::scalar_like(input, p));
  Tensor scale = raw::unary(UnaryOp::MulScalar, raw::cast(keep, input.dtype()), {1.0 / (1.0 - p), 0.0});
  return input * scale;
}

}  // namespace sepal
