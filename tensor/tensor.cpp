// tensor.cpp: Tensor metadata accessors, element access from the host, and printing.
#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
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

bool Tensor::is_contiguous() const { return is_dense_in(shape(), strides(), MemoryFormat::Contiguous); }
bool Tensor::is_contiguous(MemoryFormat format) const { return is_dense_in(shape(), strides(), format); }
MemoryFormat Tensor::memory_format() const { return memory_format_of(shape(), strides()); }

void* Tensor::raw_data() const {
  const auto& impl = checked(impl_);
  return static_cast<char*>(impl.storage->data()) + impl.offset * dtype_size(impl.dtype);
}

uint64_t Tensor::version() const { return checked(impl_).storage->version(); }
void Tensor::mark_modified() const { checked(impl_).storage->mark_modified(); }

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

constexpr int64_t kPrintThreshold = 1000;  // more elements than this are summarized (PyTorch's)
constexpr int64_t kEdgeItems = 3;          // elements kept at each end of a summarized dim

// One format for every element of a tensor, as PyTorch chooses it: floats print as "1." when
// every finite non-zero value is an integer, else with 4 decimals; all are right-aligned to the
// widest finite non-zero value (every value for integer and bool tensors).
struct Formatter {
  DType dtype;
  bool int_mode = true;
  size_t width = 1;

  Formatter(const std::vector<double>& values, DType dt) : dtype(dt) {
    if (!is_floating(dtype)) {
      for (double v : values) width = std::max(width, raw(v).size());
      return;
    }
    for (double v : values)
      if (std::isfinite(v) && v != 0 && v != std::trunc(v)) int_mode = false;
    for (double v : values)
      if (std::isfinite(v) && v != 0) width = std::max(width, raw(v).size());
  }
  std::string raw(double v) const {
    if (dtype == DType::Bool) return v != 0 ? "True" : "False";
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    if (!is_floating(dtype)) std::snprintf(buf, sizeof buf, "%.0f", v);
    else if (int_mode) std::snprintf(buf, sizeof buf, "%.0f.", v);
    else std::snprintf(buf, sizeof buf, "%.4f", v);
    return buf;
  }
  std::string operator()(double v) const {
    std::string s = raw(v);
    return std::string(width > s.size() ? width - s.size() : 0, ' ') + s;
  }
};

void print_rec(std::ostream& os, const std::vector<double>& values, const Shape& shape, size_t dim,
               int64_t base, const Formatter& fmt, bool summarize, int indent) {
  if (dim == shape.size()) {
    os << fmt(values[base]);
    return;
  }
  int64_t stride = 1;
  for (size_t d = dim + 1; d < shape.size(); ++d) stride *= shape[d];
  const bool last = dim + 1 == shape.size();
  // between rows of a matrix one newline, between matrices two, and so on (as PyTorch)
  std::string sep = ",";
  if (last) {
    sep += ' ';
  } else {
    sep.append(shape.size() - dim - 1, '\n');
    sep.append(indent + 1, ' ');
  }
  os << "[";
  const int64_t n = shape[dim];
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      os << (last ? " ..." : "...") << sep;
      i = n - kEdgeItems - 1;
      continue;
    }
    print_rec(os, values, shape, dim + 1, base + i * stride, fmt, summarize, indent + 1);
    if (i + 1 < n) os << sep;
  }
  os << "]";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << "tensor(";
  std::vector<double> values = to_vector<double>();
  if (values.empty()) {
    os << "[]";
    if (dim() != 1) {
      os << ", size=(";
      for (int64_t d = 0; d < dim(); ++d) os << (d ? ", " : "") << shape()[d];
      os << ")";
    }
  } else {
    print_rec(os, values, shape(), 0, 0, Formatter(values, dtype()), numel() > kPrintThreshold, 7);
  }
  if (dtype() != DType::Float32) os << ", dtype=" << dtype_name(dtype());
  if (!device().is_cpu()) os << ", device=" << device().str();
  if (requires_grad()) os << ", requires_grad=True";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace sepal
