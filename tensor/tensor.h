// tensor.h: the Tensor handle. A tensor is a view (shape, strides in elements, storage offset,
// dtype) onto a reference-counted Storage that lives on one device, plus the autograd metadata
// (requires_grad, grad, grad_fn). Copying a Tensor copies the handle, not the data.
//
// Metadata accessors are defined in tensor/; the math methods (t.exp(), t.sum(...), views) are
// differentiable and are defined in autograd/, so `y = x.reshape(...)` records a graph node
// when x requires grad. Gradient-free kernels live in tensor/raw.h.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/kernels/elementwise_ops.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace sepal {

namespace autograd {
struct Node;
}

struct TensorImpl {
  Storage storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;
  // autograd
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
};

// Creation options, PyTorch style: TensorOptions().dtype(DType::Float64).device(Device::cuda()).
struct TensorOptions {
  DType dtype_ = DType::Float32;
  Device device_ = Device::cpu();
  bool requires_grad_ = false;
  MemoryFormat memory_format_ = MemoryFormat::Contiguous;  // the strides empty() gives
  TensorOptions() = default;
  TensorOptions(DType d) : dtype_(d) {}
  TensorOptions(Device d) : device_(d) {}
  TensorOptions dtype(DType d) const { auto o = *this; o.dtype_ = d; return o; }
  TensorOptions device(Device d) const { auto o = *this; o.device_ = d; return o; }
  TensorOptions requires_grad(bool r = true) const { auto o = *this; o.requires_grad_ = r; return o; }
  TensorOptions memory_format(MemoryFormat f) const { auto o = *this; o.memory_format_ = f; return o; }
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata (tensor/tensor.cpp) ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Strides& strides() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return numel_of(shape()); }
  int64_t offset() const;
  DType dtype() const;
  Device device() const;
  size_t element_size() const { return dtype_size(dtype()); }
  bool is_contiguous() const;  // row-major (MemoryFormat::Contiguous)
  // Dense in `format`, size-1 dims' strides ignored (an [N, C, 1, 1] tensor is both).
  bool is_contiguous(MemoryFormat format) const;
  // ChannelsLast for a channels-last tensor that is not also row-major, else Contiguous: the
  // format ops give their outputs (PyTorch's suggest_memory_format).
  MemoryFormat memory_format() const;
  const Storage& storage() const;
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

  // Pointer to element [0,...,0]; checks that T matches the dtype.
  template <typename T> T* data_ptr() const {
    check_dtype(dtype_of<T>::value, "data_ptr");
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;
  // The version of the storage's contents, and the call recording a write made through
  // data_ptr()/raw_data() (the raw layer's in-place ops record theirs; tensor/storage.h).
  uint64_t version() const;
  void mark_modified() const;
  // The single element of a one-element tensor, copied to the host.
  template <typename T = double> T item() const;
  // All elements, contiguous and on the host, converted to T.
  template <typename T> std::vector<T> to_vector() const;

  // ---- autograd metadata (autograd/) ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool enabled = true);  // only on leaves
  Tensor grad() const;                             // undefined until a backward reaches it
  void set_grad(const Tensor& grad);
  const std::shared_ptr<autograd::Node>& grad_fn() const;
  bool is_leaf() const;
  // Backpropagates from this tensor. A scalar needs no gradient argument; otherwise pass one of
  // the same shape. Graph buffers are freed unless retain_graph.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // same storage, no graph
  void zero_grad(bool set_to_none = true);

  // ---- differentiable views (autograd/views.cpp); all share storage ----
  Tensor reshape(const Shape& shape) const;  // a view when strides allow, else a copy; -1 infers
  Tensor view(const Shape& shape) const;     // a view or a ShapeError
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;  // narrow + squeeze
  Tensor expand(const Shape& shape) const;          // -1 keeps a size
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;  // this tensor when already contiguous, else a copy
  Tensor contiguous(MemoryFormat format) const;  // likewise, dense in `format`
  Tensor clone() const;       // always a copy

  // ---- differentiable conversions ----
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor cpu() const { return to(Device::cpu()); }

  // ---- differentiable math (autograd/) ----
  // One method per unary op of SEPAL_MATH_UNARY_OPS (tensor/kernels/elementwise_ops.h), the same
  // as the free function: x.neg(), x.exp(), x.log(), x.sqrt(), x.relu(), x.sigmoid(), ...
#define SEPAL_TENSOR_METHOD(Functor, name, ...) Tensor name() const;
  SEPAL_MATH_UNARY_OPS(SEPAL_TENSOR_METHOD)
#undef SEPAL_TENSOR_METHOD
  Tensor pow(double exponent) const;
  Tensor clamp(double min, double max) const;
  Tensor matmul(const Tensor& other) const;
  Tensor sum() const;
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor max() const;
  Tensor max(const std::vector<int64_t>& dims, bool keepdim = false) const;  // values (amax)
  Tensor min() const;
  Tensor min(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;  // int64, not differentiable
  Tensor argmax() const;                                    // over the flattened tensor

  // ---- in-place (not on tensors that require grad while grad mode is on) ----
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // broadcasts src, converts dtype, crosses devices
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double value);

  std::string str() const;  // PyTorch-like printing

  void check_dtype(DType expected, const char* op) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- creation (tensor/factory.cpp) ----
class Generator;
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor empty_like(const Tensor& t);
Tensor arange(double end, TensorOptions options = {});
Tensor arange(double start, double end, double step = 1.0, TensorOptions options = {});
Tensor scalar_tensor(double value, TensorOptions options = {});
// Copies host data; data.size() must equal the shape's element count. Without options the tensor
// has T's dtype (float32, float64, int64, uint8) and lives on the CPU; with options it is
// converted to options' dtype (float32 unless set) and device.
template <typename T>
Tensor from_vector(const std::vector<T>& data, const Shape& shape, TensorOptions options);
template <typename T>
Tensor from_vector(const std::vector<T>& data, const Shape& shape) {
  return from_vector(data, shape, TensorOptions(dtype_of<T>::value));
}
Tensor tensor(std::initializer_list<float> values);  // 1-D float32 on the CPU

// Wraps outside CPU memory without copying it (libtorch's from_blob): the tensor is contiguous in
// `shape` over `data`, with options' dtype (float32 unless set), and reads and writes it in
// place. CPU only: options' device must be the CPU (copy a CUDA buffer with to() instead).
// Lifetime: the caller keeps `data` alive while any tensor over it lives (views, and a graph
// that saved it for backward, included); with a `deleter`, the tensors own it instead and the
// last of them to go calls deleter(data). Throws sepal::Error for a null pointer with elements,
// a negative dimension, a pointer not aligned for the dtype, or a device other than the CPU.
using BlobDeleter = std::function<void(void*)>;
Tensor from_blob(void* data, const Shape& shape, TensorOptions options = {}, BlobDeleter deleter = {});
// The same over a typed buffer: its size must equal the shape's element count, and options'
// dtype (T's by default) must be T's.
Tensor from_blob(void* data, size_t count, DType element_dtype, const Shape& shape, TensorOptions options,
                 BlobDeleter deleter);
template <typename T>
Tensor from_blob(std::span<T> data, const Shape& shape, TensorOptions options = TensorOptions(dtype_of<T>::value),
                 BlobDeleter deleter = {}) {
  return from_blob(static_cast<void*>(data.data()), data.size(), dtype_of<T>::value, shape, options,
                   std::move(deleter));
}
// Random tensors from `gen` (the default generator when null).
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = {DType::Int64},
               Generator* gen = nullptr);
Tensor uniform(const Shape& shape, double low, double high, TensorOptions options = {},
               Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double std, TensorOptions options = {},
              Generator* gen = nullptr);

}  // namespace sepal
