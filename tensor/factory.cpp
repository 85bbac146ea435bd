// factory.cpp: tensor creation (empty, zeros, full, arange, from host data, over outside memory
// with from_blob, random).
#include <cmath>
#include <cstdint>

#include "tensor/backend.h"
#include "tensor/error.h"
#include "tensor/generator.h"
#include "tensor/raw.h"
#include "tensor/tensor.h"

namespace sepal {

namespace {
void check_shape(const Shape& shape, const char* op) {
  for (int64_t s : shape)
    if (s < 0) throw ShapeError(std::string(op) + ": negative dimension in shape " + shape_str(shape));
}

Tensor finish(Tensor t, const TensorOptions& options) {
  if (options.requires_grad_) t.requires_grad_(true);
  return t;
}
}  // namespace

Tensor empty(const Shape& shape, TensorOptions options) {
  check_shape(shape, "empty");
  auto impl = std::make_shared<TensorImpl>();
  size_t nbytes = static_cast<size_t>(numel_of(shape)) * dtype_size(options.dtype_);
  impl->storage = std::make_shared<StorageImpl>(nbytes, options.device_);
  impl->shape = shape;
  impl->strides = strides_for(shape, options.memory_format_);
  impl->dtype = options.dtype_;
  return finish(Tensor(std::move(impl)), options);
}

Tensor full(const Shape& shape, double value, TensorOptions options) {
  bool wants_grad = options.requires_grad_;
  Tensor t = empty(shape, options.requires_grad(false));
  raw::fill_(t, value);
  return finish(t, options.requires_grad(wants_grad));
}

Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }

namespace {
TensorOptions like(const Tensor& t) { return TensorOptions().dtype(t.dtype()).device(t.device()); }
}  // namespace
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), like(t)); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), like(t)); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), like(t)); }

Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }

Tensor arange(double end, TensorOptions options) { return arange(0.0, end, 1.0, options); }

Tensor arange(double start, double end, double step, TensorOptions options) {
  if (step == 0.0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    throw Error("arange: step must be non-zero and bounds finite (start " + std::to_string(start) +
                ", end " + std::to_string(end) + ", step " + std::to_string(step) + ")");
  double count = std::ceil((end - start) / step);
  int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = empty({n}, options.requires_grad(false));
  if (n > 0) backend_for(t.device()).arange(t, start, step);
  return finish(t, options);
}

template <typename T>
Tensor from_vector(const std::vector<T>& data, const Shape& shape, TensorOptions options) {
  check_shape(shape, "from_vector");
  if (static_cast<int64_t>(data.size()) != numel_of(shape))
    throw ShapeError("from_vector: " + std::to_string(data.size()) +
                     " values do not fill shape " + shape_str(shape));
  Tensor host = empty(shape, TensorOptions().dtype(dtype_of<T>::value));
  if (!data.empty()) std::copy(data.begin(), data.end(), host.data_ptr<T>());
  Tensor out = empty(shape, options.requires_grad(false));
  raw::copy_(out, host);
  return finish(out, options);
}
Tensor from_blob(void* data, const Shape& shape, TensorOptions options, BlobDeleter deleter) {
  check_shape(shape, "from_blob");
  const std::string dtype = dtype_name(options.dtype_);
  if (!options.device_.is_cpu())
    throw DeviceError("from_blob: wraps CPU memory only, got device " + options.device_.str() +
                " (create the tensor on the CPU and copy it with to())");
  const size_t nbytes = static_cast<size_t>(numel_of(shape)) * dtype_size(options.dtype_);
  if (!data && nbytes > 0) throw Error("from_blob: null data for shape " + shape_str(shape) + " " + dtype);
  if (reinterpret_cast<uintptr_t>(data) % dtype_size(options.dtype_) != 0)
    throw Error("from_blob: data is not aligned for " + dtype + " (" + std::to_string(dtype_size(options.dtype_)) +
                "-byte elements)");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<StorageImpl>(data, nbytes, std::move(deleter));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = options.dtype_;
  return finish(Tensor(std::move(impl)), options);
}

Tensor from_blob(void* data, size_t count, DType element_dtype, const Shape& shape, TensorOptions options,
                 BlobDeleter deleter) {
  check_shape(shape, "from_blob");
  if (options.dtype_ != element_dtype)
    throw DTypeError(std::string("from_blob: the buffer holds ") + dtype_name(element_dtype) +
                     " values but the options ask for " + dtype_name(options.dtype_));
  if (static_cast<int64_t>(count) != numel_of(shape))
    throw ShapeError("from_blob: " + std::to_string(count) + " values do not fill shape " + shape_str(shape) + " (" +
                     std::to_string(numel_of(shape)) + " elements)");
  return from_blob(data, shape, options, std::move(deleter));
}

template Tensor from_vector<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, TensorOptions);

Tensor tensor(std::initializer_list<float> values) {
  return from_vector(std::vector<float>(values), {static_cast<int64_t>(values.size())});
}

namespace {
Tensor random_tensor(const Shape& shape, TensorOptions options, Generator* gen,
                     kernels::RandomKind kind, double a, double b) {
  Generator& g = gen ? *gen : default_generator();
  Tensor t = empty(shape, options.requires_grad(false));
  RandomArgs args{kind, g.seed(), g.advance(static_cast<uint64_t>(t.numel())), a, b};
  if (t.numel() > 0) backend_for(t.device()).random(t, args);
  return finish(t, options);
}
}  // namespace

Tensor uniform(const Shape& shape, double low, double high, TensorOptions options, Generator* gen) {
  if (!is_floating(options.dtype_))
    throw DTypeError(std::string("uniform: expected a floating dtype, got ") + dtype_name(options.dtype_));
  if (!(low < high)) throw Error("uniform: expected low < high, got " + std::to_string(low) + " and " + std::to_string(high));
  return random_tensor(shape, options, gen, kernels::RandomKind::Uniform, low, high);
}
Tensor rand(const Shape& shape, TensorOptions options, Generator* gen) {
  return uniform(shape, 0.0, 1.0, options, gen);
}
Tensor normal(const Shape& shape, double mean, double std, TensorOptions options, Generator* gen) {
  if (!is_floating(options.dtype_))
    throw DTypeError(std::string("normal: expected a floating dtype, got ") + dtype_name(options.dtype_));
  if (!(std >= 0)) throw Error("normal: std must be >= 0, got " + std::to_string(std));
  return random_tensor(shape, options, gen, kernels::RandomKind::Normal, mean, std);
}
Tensor randn(const Shape& shape, TensorOptions options, Generator* gen) {
  return normal(shape, 0.0, 1.0, options, gen);
}
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options, Generator* gen) {
  if (high <= low)
    throw Error("randint: expected low < high, got " + std::to_string(low) + " and " + std::to_string(high));
  if (options.dtype_ == DType::Bool)
    throw DTypeError("randint: bool is not an integer dtype");
  return random_tensor(shape, options, gen, kernels::RandomKind::Integer, static_cast<double>(low),
                       static_cast<double>(high));
}

}  // namespace sepal
