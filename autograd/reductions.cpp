// reductions.cpp: differentiable sum, mean, amax/amin, and argmax/argmin (no gradient).
// Gradients of a reduction are the upstream gradient broadcast back over the reduced dims.
#include "autograd/functions.h"
#include "autograd/node.h"
#include "tensor/raw.h"

namespace sepal {

namespace {

// The reduced shape with size-1 dims kept, so a gradient broadcasts back against the input.
Shape keepdim_shape(const Tensor& x, std::vector<int64_t> dims) {
  Shape shape = x.shape();
  if (dims.empty()) {
    for (auto& s : shape) s = 1;
    return shape;
  }
  for (int64_t d : dims) shape[wrap_dim(d, x.dim(), "reduce")] = 1;
  return shape;
}

int64_t reduced_count(const Tensor& x, const Shape& kept) {
  int64_t out = 1;
  for (int64_t s : kept) out *= s;
  return out == 0 ? 0 : x.numel() / out;
}

// amax/amin: the gradient goes to every element equal to the extreme value, split evenly.
Tensor extreme(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor y = raw::reduce(op, x, dims, keepdim);
  if (!autograd::any_requires_grad({x})) return y;
  Shape kept = keepdim_shape(x, dims);
  Tensor y_saved = y.detach();
  return autograd::record(op_name(op), y, {x}, [x, y_saved, kept](const Tensor& g, const std::vector<bool>&) {
    Tensor mask = raw::cast(raw::compare(CompareOp::Eq, x, raw::reshape(y_saved, kept)), x.dtype());
    Tensor share = raw::binary(BinaryOp::Div, raw::reshape(g, kept), raw::sum_to(mask, kept));
    return std::vector<Tensor>{raw::binary(BinaryOp::Mul, mask, share)};
  });
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor y = raw::reduce(ReduceOp::Sum, x, dims, keepdim);
  if (!autograd::any_requires_grad({x})) return y;
  Shape kept = keepdim_shape(x, dims);
  Shape in_shape = x.shape();
  return autograd::record("sum", y, {x}, [kept, in_shape](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{raw::expand(raw::reshape(g, kept), in_shape)};
  });
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor y = raw::reduce(ReduceOp::Mean, x, dims, keepdim);
  if (!autograd::any_requires_grad({x})) return y;
  Shape kept = keepdim_shape(x, dims);
  Shape in_shape = x.shape();
  double scale = 1.0 / static_cast<double>(std::max<int64_t>(reduced_count(x, kept), 1));
  return autograd::record("mean", y, {x}, [kept, in_shape, scale](const Tensor& g, const std::vector<bool>&) {
    Tensor scaled = raw::unary(UnaryOp::MulScalar, raw::reshape(g, kept), {scale, 0.0});
    return std::vector<Tensor>{raw::expand(scaled, in_shape)};
  });
}

Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(ReduceOp::Max, x, dims, keepdim);
}
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(ReduceOp::Min, x, dims, keepdim);
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return raw::reduce(ReduceOp::ArgMax, x, {dim}, keepdim); }
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) { return raw::reduce(ReduceOp::ArgMin, x, {dim}, keepdim); }

Tensor Tensor::sum() const { return sepal::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return sepal::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return sepal::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return sepal::mean(*this, dims, keepdim); }
Tensor Tensor::max() const { return amax(*this); }
Tensor Tensor::max(const std::vector<int64_t>& dims, bool keepdim) const { return amax(*this, dims, keepdim); }
Tensor Tensor::min() const { return amin(*this); }
Tensor Tensor::min(const std::vector<int64_t>& dims, bool keepdim) const { return amin(*this, dims, keepdim); }
Tensor Tensor::argmax(int64_t dim, bool keepdim) const { return sepal::argmax(*this, dim, keepdim); }
Tensor Tensor::argmax() const { return raw::reduce(ReduceOp::ArgMax, *this, {}, false); }

}  // namespace sepal
