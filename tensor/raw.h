// raw.h: gradient-free tensor ops. Each validates its arguments once (errors name the op, the
// shapes, dtypes and devices), allocates the output and calls the device's backend. The
// differentiable API in autograd/ is built on these; use them directly only where no graph is
// wanted (optimizer updates, metrics, data loading).
#pragma once
#include <vector>

#include "tensor/backend.h"
#include "tensor/precision.h"
#include "tensor/tensor.h"

namespace sepal::raw {

// ---- views: share storage, no copy ----
Tensor as_strided(const Tensor& x, const Shape& shape, const Strides& strides, int64_t offset);
// Strides for viewing x as `shape` without a copy, or false when impossible.
bool view_strides(const Tensor& x, const Shape& shape, Strides* out);
Shape infer_shape(const Shape& shape, int64_t numel, const char* op);  // resolves one -1
Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);  // view when possible, else contiguous copy
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);

// ---- copies and conversions ----
Tensor contiguous(const Tensor& x);
Tensor contiguous(const Tensor& x, MemoryFormat format);  // x itself when already dense in format
// The memory format of an elementwise result of `shape`: that of the first operand with that
// shape (so channels-last activations stay channels-last through ReLU, adds and gradients).
MemoryFormat result_format(const Shape& shape, std::initializer_list<const Tensor*> operands);
Tensor clone(const Tensor& x);
Tensor cast(const Tensor& x, DType dtype);
Tensor to_device(const Tensor& x, Device device);
void copy_(const Tensor& dst, const Tensor& src);  // broadcasts src to dst, any dtypes/devices
void fill_(const Tensor& dst, double value);

// The format the device's convolution, normalisation and pooling kernels get x's activations in:
// channels-last when x is and the backend takes it (Backend::takes_channels_last), else row-major.
MemoryFormat kernel_format(const Tensor& x);

// ---- elementwise ----
Tensor unary(UnaryOp op, const Tensor& x, UnaryArgs args = {});
Tensor unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& result,
                      UnaryArgs args = {});
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
// In place: a = op(a, b); b broadcasts to a's shape; a must be dense (contiguous or channels-last).
void binary_(BinaryOp op, const Tensor& a, const Tensor& b);
// Gradient for input 0 (a) or 1 (b), with the broadcast shape of a and b (the caller reduces).
Tensor binary_backward(BinaryOp op, int input, const Tensor& grad, const Tensor& a, const Tensor& b);
Tensor compare(CompareOp op, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// A 0-dim tensor holding `value` with x's dtype and device (for tensor-scalar ops).
Tensor scalar_like(const Tensor& x, double value);

// ---- reductions ----
// Reduces over `dims` (all dims when empty). Sum/Mean/Max/Min keep the dtype; ArgMax/ArgMin
// return int64 and take exactly one dim.
Tensor reduce(ReduceOp op, const Tensor& x, std::vector<int64_t> dims, bool keepdim);
// Sums x down to `shape` (the inverse of broadcasting `shape` to x.shape()).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- linear algebra ----
// [m, k] @ [k, n], or batched [B, m, k] @ [B, k, n]; a 2-D operand broadcasts over the batch.
// BFloat16 precision applies to float32 operands (tensor/precision.h); float64 stays exact.
Tensor matmul(const Tensor& a, const Tensor& b, Precision precision = Precision::Float32);

// ---- checks shared by every op ----
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_defined(const char* op, const Tensor& t, const char* what);

}  // namespace sepal::raw
