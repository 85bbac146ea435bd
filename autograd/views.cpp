// views.cpp: differentiable views and conversions (reshape, permute, narrow, expand, squeeze,
// to(device), to(dtype), contiguous, clone) and the in-place methods. A view's backward maps
// the gradient back to the input's layout; expand needs none (the engine sums broadcasts).
#include <numeric>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal {

namespace {
// Records a view whose gradient is the upstream gradient reshaped back to the input's shape.
Tensor reshaped_view(const char* name, const Tensor& x, Tensor y) {
  Shape in_shape = x.shape();
  return autograd::record(name, y, {x}, [in_shape](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{raw::reshape(g, in_shape)};
  });
}
}  // namespace

Tensor Tensor::reshape(const Shape& shape) const { return reshaped_view("reshape", *this, raw::reshape(*this, shape)); }
Tensor Tensor::view(const Shape& shape) const { return reshaped_view("view", *this, raw::view(*this, shape)); }
Tensor Tensor::squeeze(int64_t dim) const { return reshaped_view("squeeze", *this, raw::squeeze(*this, dim)); }
Tensor Tensor::unsqueeze(int64_t dim) const { return reshaped_view("unsqueeze", *this, raw::unsqueeze(*this, dim)); }

Tensor Tensor::squeeze() const {
  Shape shape;
  for (int64_t s : this->shape())
    if (s != 1) shape.push_back(s);
  return reshaped_view("squeeze", *this, raw::reshape(*this, shape));
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int64_t s = wrap_dim(start_dim, dim(), "flatten"), e = wrap_dim(end_dim, dim(), "flatten");
  if (s > e) throw ShapeError("flatten: start_dim " + std::to_string(start_dim) + " is after end_dim " + std::to_string(end_dim));
  Shape shape(this->shape().begin(), this->shape().begin() + s);
  int64_t merged = 1;
  for (int64_t d = s; d <= e; ++d) merged *= this->shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), this->shape().begin() + e + 1, this->shape().end());
  return reshape(shape);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  Tensor y = raw::permute(*this, dims);
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inverse[wrap_dim(dims[i], dim(), "permute")] = static_cast<int64_t>(i);
  return autograd::record("permute", y, {*this}, [inverse](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{raw::permute(g, inverse)};
  });
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  Tensor y = raw::transpose(*this, dim0, dim1);
  return autograd::record("transpose", y, {*this}, [dim0, dim1](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{raw::transpose(g, dim0, dim1)};
  });
}

Tensor Tensor::narrow(int64_t dim, int64_t start, int64_t length) const {
  Tensor y = raw::narrow(*this, dim, start, length);
  Shape in_shape = shape();
  TensorOptions opts = TensorOptions().dtype(dtype()).device(device());
  int64_t d = wrap_dim(dim, this->dim(), "narrow");
  int64_t s = start < 0 ? start + in_shape[d] : start;
  return autograd::record("narrow", y, {*this}, [in_shape, opts, d, s, length](const Tensor& g, const std::vector<bool>&) {
    Tensor full_grad = zeros(in_shape, opts);
    raw::copy_(raw::narrow(full_grad, d, s, length), g);
    return std::vector<Tensor>{full_grad};
  });
}

Tensor Tensor::select(int64_t dim, int64_t index) const {
  int64_t d = wrap_dim(dim, this->dim(), "select");
  if (index < -size(d) || index >= size(d))
    throw IndexError("select: index " + std::to_string(index) + " is out of range for dim " + std::to_string(d) +
                     " of shape " + shape_str(shape()));
  return narrow(d, index < 0 ? index + size(d) : index, 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& shape) const {
  return autograd::record("expand", raw::expand(*this, shape), {*this},
                          [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::contiguous(MemoryFormat format) const {
  if (is_contiguous(format)) return *this;
  return autograd::record("contiguous", raw::contiguous(*this, format), {*this},
                          [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::clone() const {
  return autograd::record("clone", raw::clone(*this), {*this},
                          [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::to(Device device) const {
  Device from = this->device();
  return autograd::record("to_device", raw::to_device(*this, device), {*this},
                          [from](const Tensor& g, const std::vector<bool>&) {
                            return std::vector<Tensor>{raw::to_device(g, from)};
                          });
}

Tensor Tensor::to(DType dtype) const {
  DType from = this->dtype();
  if (!is_floating(dtype) && requires_grad() && GradMode::is_enabled())
    return raw::cast(*this, dtype);  // integer results carry no gradient
  return autograd::record("to_dtype", raw::cast(*this, dtype), {*this},
                          [from](const Tensor& g, const std::vector<bool>&) {
                            return std::vector<Tensor>{raw::cast(g, from)};
                          });
}

// ---- in-place ----
namespace {
void check_inplace(const Tensor& t, const char* op) {
  if (GradMode::is_enabled() && t.requires_grad())
    throw AutogradError(std::string(op) + ": in-place update of a tensor that requires grad " + shape_str(t.shape()) +
                        "; wrap it in NoGradGuard (as optimizers do) or use an out-of-place op");
}
}  // namespace

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  raw::fill_(*this, value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  raw::copy_(*this, src);
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  Tensor scaled = alpha == 1.0 ? other : raw::unary(UnaryOp::MulScalar, other, {alpha, 0.0});
  raw::binary_(BinaryOp::Add, *this, scaled);
  return *this;
}

Tensor& Tensor::mul_(double value) {
  check_inplace(*this, "mul_");
  raw::binary_(BinaryOp::Mul, *this, raw::scalar_like(*this, value));
  return *this;
}

}  // namespace sepal
