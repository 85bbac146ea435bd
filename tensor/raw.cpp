// raw.cpp: validation, output allocation and dispatch of the gradient-free ops (see raw.h).
#include "tensor/raw.h"

#include <algorithm>
#include <limits>

#include "tensor/error.h"

namespace sepal::raw {

#define SEPAL_NAME_CASE(Name, name, ...) case Name: return #name;
}  // namespace sepal::raw
namespace sepal {
const char* op_name(UnaryOp op) {
  using enum UnaryOp;
  switch (op) { SEPAL_UNARY_OPS(SEPAL_NAME_CASE) }
  return "?";
}
const char* op_name(BinaryOp op) {
  using enum BinaryOp;
  switch (op) { SEPAL_BINARY_OPS(SEPAL_NAME_CASE) }
  return "?";
}
const char* op_name(CompareOp op) {
  using enum CompareOp;
  switch (op) { SEPAL_COMPARE_OPS(SEPAL_NAME_CASE) }
  return "?";
}
const char* op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Mean: return "mean";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
    case ReduceOp::ArgMax: return "argmax";
    case ReduceOp::ArgMin: return "argmin";
  }
  return "?";
}
}  // namespace sepal
namespace sepal::raw {
#undef SEPAL_NAME_CASE

namespace {
std::string describe(const Tensor& t) {
  return std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) + " on " + t.device().str();
}
TensorOptions options_of(const Tensor& t) { return TensorOptions().dtype(t.dtype()).device(t.device()); }
}  // namespace

void check_defined(const char* op, const Tensor& t, const char* what) {
  if (!t.defined()) throw Error(std::string(op) + ": " + what + " is an undefined tensor");
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  if (a.device() != b.device())
    throw DeviceError(std::string(op) + ": tensors are on different devices (" + describe(a) +
                      ", " + describe(b) + "); move one with .to(device)");
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw DTypeError(std::string(op) + ": dtypes differ (" + describe(a) + ", " + describe(b) +
                     "); convert one with .to(dtype)");
}

// ---- copies and conversions ----
Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  return clone(x);
}

Tensor contiguous(const Tensor& x, MemoryFormat format) {
  if (x.is_contiguous(format)) return x;
  Tensor out = empty(x.shape(), options_of(x).memory_format(format));
  if (x.numel() > 0) backend_for(x.device()).copy(x, out);
  return out;
}

MemoryFormat result_format(const Shape& shape, std::initializer_list<const Tensor*> operands) {
  for (const Tensor* t : operands)
    if (t->shape() == shape) return t->memory_format();
  return MemoryFormat::Contiguous;
}

MemoryFormat kernel_format(const Tensor& x) {
  return x.memory_format() == MemoryFormat::ChannelsLast && backend_for(x.device()).takes_channels_last(x.dtype())
             ? MemoryFormat::ChannelsLast
             : MemoryFormat::Contiguous;
}

Tensor clone(const Tensor& x) {
  Tensor out = empty(x.shape(), options_of(x));
  if (x.numel() > 0) backend_for(x.device()).copy(x, out);
  return out;
}

Tensor cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = empty(x.shape(), options_of(x).dtype(dtype));
  if (x.numel() > 0) backend_for(x.device()).copy(x, out);
  return out;
}

Tensor to_device(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  Tensor out = empty(x.shape(), options_of(x).device(device));
  copy_(out, x);
  return out;
}

void copy_(const Tensor& dst, const Tensor& src) {
  check_defined("copy_", dst, "destination");
  check_defined("copy_", src, "source");
  broadcast_shapes(dst.shape(), src.shape(), "copy_");
  Tensor from = expand(src, dst.shape());
  if (dst.numel() == 0) return;
  if (dst.device() == from.device()) {
    backend_for(dst.device()).copy(from, dst);
    dst.mark_modified();
    return;
  }
  // Across devices: stage a contiguous copy of the source in the destination dtype, move the
  // bytes, then scatter into the destination's layout if it is not contiguous.
  Tensor staged = contiguous(cast(src, dst.dtype()));
  size_t nbytes = static_cast<size_t>(staged.numel()) * staged.element_size();
  bool direct = dst.is_contiguous() && staged.shape() == dst.shape();
  Tensor landing = direct ? dst : empty(staged.shape(), options_of(dst));
  if (src.device().is_cpu()) {
    backend_for(landing.device()).copy_from_host(landing.raw_data(), staged.raw_data(), nbytes);
  } else if (landing.device().is_cpu()) {
    backend_for(staged.device()).copy_to_host(landing.raw_data(), staged.raw_data(), nbytes);
  } else {  // between two GPUs: through the host
    Tensor host = to_device(staged, Device::cpu());
    backend_for(landing.device()).copy_from_host(landing.raw_data(), host.raw_data(), nbytes);
  }
  if (!direct) backend_for(dst.device()).copy(expand(landing, dst.shape()), dst);
  dst.mark_modified();
}

void fill_(const Tensor& dst, double value) {
  check_defined("fill_", dst, "destination");
  if (dst.numel() > 0) backend_for(dst.device()).fill(dst, value);
  dst.mark_modified();
}

Tensor scalar_like(const Tensor& x, double value) { return full({}, value, options_of(x)); }

// ---- elementwise ----
Tensor unary(UnaryOp op, const Tensor& x, UnaryArgs args) {
  check_defined(op_name(op), x, "input");
  if (!is_floating(x.dtype()))
    throw DTypeError(std::string(op_name(op)) + ": expected a floating tensor, got " + describe(x));
  Tensor out = empty(x.shape(), options_of(x).memory_format(x.memory_format()));
  if (x.numel() > 0) backend_for(x.device()).unary(op, args, x, out);
  return out;
}

Tensor unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& result,
                      UnaryArgs args) {
  const char* name = op_name(op);
  check_same_device(name, grad, x);
  check_same_dtype(name, grad, x);
  if (grad.shape() != x.shape())
    throw ShapeError(std::string(name) + " backward: gradient " + shape_str(grad.shape()) +
                     " does not match input " + shape_str(x.shape()));
  Tensor out = empty(x.shape(), options_of(x).memory_format(result_format(x.shape(), {&grad, &x})));
  if (x.numel() > 0) backend_for(x.device()).unary_backward(op, args, grad, x, result, out);
  return out;
}

namespace {
void check_binary(const char* name, const Tensor& a, const Tensor& b) {
  check_defined(name, a, "first operand");
  check_defined(name, b, "second operand");
  check_same_device(name, a, b);
  check_same_dtype(name, a, b);
}
void check_arithmetic(BinaryOp op, const Tensor& a) {
  DType t = a.dtype();
  bool ok = is_floating(t) || (t == DType::Int64 && op != BinaryOp::Div);
  if (!ok)
    throw DTypeError(std::string(op_name(op)) + ": unsupported dtype " + dtype_name(t) +
                     (op == BinaryOp::Div ? " (division needs floating tensors)" : ""));
}
}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  check_binary(name, a, b);
  check_arithmetic(op, a);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, options_of(a).memory_format(result_format(shape, {&a, &b})));
  if (out.numel() > 0) backend_for(a.device()).binary(op, expand(a, shape), expand(b, shape), out);
  return out;
}

void binary_(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  check_binary(name, a, b);
  check_arithmetic(op, a);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  if (shape != a.shape())
    throw ShapeError(std::string(name) + "_: in-place result " + shape_str(shape) +
                     " does not fit the destination " + shape_str(a.shape()));
  if (!a.is_contiguous() && !a.is_contiguous(MemoryFormat::ChannelsLast))
    throw Error(std::string(name) + "_: in-place destination must be dense (contiguous or channels-last), got strides " +
                shape_str(a.strides()));
  if (a.numel() > 0) backend_for(a.device()).binary(op, a, expand(b, shape), a);
  a.mark_modified();
}

Tensor binary_backward(BinaryOp op, int input, const Tensor& grad, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  check_binary(name, a, b);
  check_binary(name, grad, a);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  if (grad.shape() != shape)
    throw ShapeError(std::string(name) + " backward: gradient " + shape_str(grad.shape()) +
                     " does not match the result " + shape_str(shape));
  Tensor out = empty(shape, options_of(a).memory_format(result_format(shape, {&grad, &a, &b})));
  if (out.numel() > 0)
    backend_for(a.device()).binary_backward(op, input, grad, expand(a, shape), expand(b, shape), out);
  return out;
}

Tensor compare(CompareOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  check_binary(name, a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, options_of(a).dtype(DType::Bool).memory_format(result_format(shape, {&a, &b})));
  if (out.numel() > 0) backend_for(a.device()).compare(op, expand(a, shape), expand(b, shape), out);
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_binary("where", a, b);
  check_defined("where", cond, "condition");
  check_same_device("where", cond, a);
  if (cond.dtype() != DType::Bool)
    throw DTypeError("where: condition must be bool, got " + describe(cond));
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = empty(shape, options_of(a).memory_format(result_format(shape, {&a, &b, &cond})));
  if (out.numel() > 0)
    backend_for(a.device()).where(expand(cond, shape), expand(a, shape), expand(b, shape), out);
  return out;
}

// ---- reductions ----
Tensor reduce(ReduceOp op, const Tensor& x_in, std::vector<int64_t> dims, bool keepdim) {
  const char* name = op_name(op);
  check_defined(name, x_in, "input");
  Tensor x = x_in;
  const int64_t ndim = x.dim();
  if (dims.empty())
    for (int64_t d = 0; d < ndim; ++d) dims.push_back(d);
  std::vector<bool> reduced(std::max<int64_t>(ndim, 1), false);
  for (int64_t& d : dims) {
    d = wrap_dim(d, ndim, name);
    if (ndim > 0 && reduced[d]) throw ShapeError(std::string(name) + ": dim " + std::to_string(d) + " repeated");
    if (ndim > 0) reduced[d] = true;
  }
  bool arg = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
  if (arg && dims.size() != 1 && static_cast<int64_t>(dims.size()) != ndim)
    throw ShapeError(std::string(name) + ": reduces over one dim or all of them, got " + shape_str(dims));
  if (op == ReduceOp::Mean && !is_floating(x.dtype()))
    throw DTypeError(std::string("mean: expected a floating tensor, got ") + describe(x));
  if (op == ReduceOp::Sum && (x.dtype() == DType::Bool || x.dtype() == DType::UInt8))
    x = cast(x, DType::Int64);

  std::vector<int64_t> order, out_shape, keep_shape;
  int64_t rows = 1, n = 1;
  for (int64_t d = 0; d < ndim; ++d) {
    if (reduced[d]) continue;
    order.push_back(d);
    out_shape.push_back(x.shape()[d]);
    keep_shape.push_back(x.shape()[d]);
    rows *= x.shape()[d];
  }
  for (int64_t d = 0; d < ndim; ++d) {
    if (!reduced[d]) continue;
    order.push_back(d);
    n *= x.shape()[d];
  }
  if (keepdim) {
    keep_shape.clear();
    for (int64_t d = 0; d < ndim; ++d) keep_shape.push_back(reduced[d] ? 1 : x.shape()[d]);
  }
  Shape result_shape = keepdim ? keep_shape : out_shape;
  DType out_dtype = arg ? DType::Int64 : x.dtype();
  Tensor out = empty(result_shape, options_of(x).dtype(out_dtype));
  if (rows == 0) return out;
  if (n == 0) {
    if (op == ReduceOp::Sum) { fill_(out, 0.0); return out; }
    if (op == ReduceOp::Mean) { fill_(out, std::numeric_limits<double>::quiet_NaN()); return out; }
    throw ShapeError(std::string(name) + ": cannot reduce over an empty dimension (shape " +
                     shape_str(x.shape()) + ")");
  }
  Tensor rows_view = reshape(contiguous(permute(x, order)), {rows, n});
  backend_for(x.device()).reduce_rows(op, rows_view, view(out, {rows}));
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  size_t lead = x.shape().size() - shape.size();
  if (x.shape().size() < shape.size())
    throw ShapeError("sum_to: cannot reduce " + shape_str(x.shape()) + " to " + shape_str(shape));
  std::vector<int64_t> dims;
  for (size_t i = 0; i < x.shape().size(); ++i) {
    if (i < lead) {
      dims.push_back(static_cast<int64_t>(i));
    } else if (shape[i - lead] == 1 && x.shape()[i] != 1) {
      dims.push_back(static_cast<int64_t>(i));
    } else if (shape[i - lead] != x.shape()[i]) {
      throw ShapeError("sum_to: cannot reduce " + shape_str(x.shape()) + " to " + shape_str(shape));
    }
  }
  if (dims.empty()) return reshape(x, shape);
  return reshape(reduce(ReduceOp::Sum, x, dims, true), shape);
}

// ---- linear algebra ----
namespace {
// True when the last two dims can be handed to BLAS without a copy (row- or column-major).
bool blas_layout(const Tensor& t) {
  int64_t rows = t.size(-2), cols = t.size(-1);
  int64_t rs = t.stride(-2), cs = t.stride(-1);
  if (cs == 1 && rs >= std::max<int64_t>(1, cols)) return true;
  if (rs == 1 && cs >= std::max<int64_t>(1, rows)) return true;
  return false;
}
Tensor as_batch(const Tensor& t, int64_t batch) {
  Tensor m = blas_layout(t) ? t : contiguous(t);
  if (m.dim() == 2) m = expand(unsqueeze(m, 0), {batch, m.size(0), m.size(1)});
  return m;
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, Precision precision) {
  check_binary("matmul", a, b);
  if (!is_floating(a.dtype()))
    throw DTypeError("matmul: expected floating tensors, got " + describe(a));
  auto bad_rank = [&] {
    return ShapeError("matmul: expected 2-D or 3-D operands, got " + shape_str(a.shape()) + " @ " +
                      shape_str(b.shape()));
  };
  if (a.dim() < 2 || a.dim() > 3 || b.dim() < 2 || b.dim() > 3) throw bad_rank();
  int64_t m = a.size(-2), k = a.size(-1), k2 = b.size(-2), n = b.size(-1);
  if (k != k2)
    throw ShapeError("matmul: inner dimensions differ: " + shape_str(a.shape()) + " @ " +
                     shape_str(b.shape()) + " (" + std::to_string(k) + " vs " + std::to_string(k2) + ")");
  int64_t batch = a.dim() == 3 ? a.size(0) : (b.dim() == 3 ? b.size(0) : 1);
  if (a.dim() == 3 && b.dim() == 3 && a.size(0) != b.size(0))
    throw ShapeError("matmul: batch sizes differ: " + shape_str(a.shape()) + " @ " + shape_str(b.shape()));
  Tensor out = empty({batch, m, n}, options_of(a));
  if (out.numel() > 0) {
    if (k == 0) fill_(out, 0.0);
    else backend_for(a.device()).matmul(as_batch(a, batch), as_batch(b, batch), out,
                                                  a.dtype() == DType::Float32 ? precision : Precision::Float32);
  }
  if (a.dim() == 2 && b.dim() == 2) return view(out, {m, n});
  return out;
}

}  // namespace sepal::raw
