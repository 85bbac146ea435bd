// tensor.cpp: Tensor metadata accessors, element access from the host, and printing.
#include "tensor/tensor.h"

#include <cstdio>
#include <cstring>
#include <ostream>
#include <sstream>

#include "tensor/backend.h"
#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal {

namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl) throw Error("use of an undefined tensor (default-constructed or moved-from)");
  return *impl;
}
}  // namespace

const Shape& Tensor::shape() const { return checked(impl_).shape; }
const Strides& Tensor::strides() const { return checked(impl_).strides; }
int64_t Tensor::offset() const { return checked(impl_).offset; }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device(); }
const Storage& Tensor::storage() const { return checked(impl_).storage; }

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  const auto& sh = shape();
  const auto& st = strides();
  int64_t expected = 1;
  for (size_t i = sh.size(); i-- > 0;) {
    if (sh[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= sh[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  const auto& impl = checked(impl_);
  return static_cast<char*>(impl.storage->data()) + impl.offset * dtype_size(impl.dtype);
}

void Tensor::check_dtype(DType expected, const char* op) const {
  if (dtype() != expected)
    throw DTypeError(std::string(op) + ": expected a " + dtype_name(expected) + " tensor, got " +
                     dtype_name(dtype()) + " " + shape_str(shape()));
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = raw::contiguous(raw::cast(raw::to_device(*this, Device::cpu()), dtype_of<T>::value));
  const T* p = host.data_ptr<T>();
  return std::vector<T>(p, p + host.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;

template <typename T>
T Tensor::item() const {
  if (numel() != 1)
    throw ShapeError("item: expected a tensor with one element, got shape " + shape_str(shape()));
  return to_vector<T>()[0];
}
template double Tensor::item<double>() const;
template float Tensor::item<float>() const;
template int64_t Tensor::item<int64_t>() const;

// ---- printing ----
namespace {

std::string format_value(double v, DType dtype) {
  char buf[64];
  if (dtype == DType::Bool) return v != 0 ? "True" : "False";
  if (!is_floating(dtype)) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else if (v == static_cast<double>(static_cast<long long>(v)) && std::abs(v) < 1e9) {
    std::snprintf(buf, sizeof buf, "%.0f.", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.4f", v);
  }
  return buf;
}

void print_rec(std::ostream& os, const std::vector<double>& values, const Shape& shape,
               size_t dim, int64_t base, DType dtype, int indent) {
  if (dim == shape.size()) {
    os << format_value(values[base], dtype);
    return;
  }
  int64_t stride = 1;
  for (size_t d = dim + 1; d < shape.size(); ++d) stride *= shape[d];
  os << "[";
  const int64_t n = shape[dim], edge = 3;
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * edge + 1 && i == edge) {
      os << "...";
      i = n - edge - 1;
      os << (dim + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
      continue;
    }
    print_rec(os, values, shape, dim + 1, base + i * stride, dtype, indent + 1);
    if (i + 1 < n) os << (dim + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << "tensor(";
  std::vector<double> values = to_vector<double>();
  print_rec(os, values, shape(), 0, 0, dtype(), 7);
  if (dtype() != DType::Float32) os << ", dtype=" << dtype_name(dtype());
  if (!device().is_cpu()) os << ", device=" << device().str();
  if (requires_grad()) os << ", requires_grad=True";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace sepal
