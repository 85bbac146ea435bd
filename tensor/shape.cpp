// shape.cpp: shape helpers (see shape.h).
#include "tensor/shape.h"

#include <sstream>

#include "tensor/error.h"

namespace sepal {

int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

const char* memory_format_name(MemoryFormat format) {
  return format == MemoryFormat::ChannelsLast ? "channels_last" : "contiguous";
}

Strides strides_for(const Shape& shape, MemoryFormat format) {
  if (format == MemoryFormat::Contiguous) return contiguous_strides(shape);
  if (shape.size() != 4)
    throw ShapeError("channels_last needs a 4-D [N, C, H, W] shape, got " + shape_str(shape));
  const int64_t C = std::max<int64_t>(shape[1], 1), H = std::max<int64_t>(shape[2], 1),
                W = std::max<int64_t>(shape[3], 1);
  return {H * W * C, 1, W * C, C};
}

bool is_dense_in(const Shape& shape, const Strides& strides, MemoryFormat format) {
  if (format == MemoryFormat::ChannelsLast && shape.size() != 4) return false;
  if (numel_of(shape) == 0) return true;  // an empty tensor is dense whatever its strides
  const int rank = static_cast<int>(shape.size());
  int64_t expected = 1;
  for (int k = 0; k < rank; ++k) {  // innermost first: row-major W, H, C, N; channels-last C, W, H, N
    static constexpr int kChannelsLastOrder[4] = {1, 3, 2, 0};
    const int d = format == MemoryFormat::ChannelsLast ? kChannelsLastOrder[k] : rank - 1 - k;
    if (shape[d] == 1) continue;
    if (strides[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

MemoryFormat memory_format_of(const Shape& shape, const Strides& strides) {
  return !is_dense_in(shape, strides, MemoryFormat::Contiguous) && is_dense_in(shape, strides, MemoryFormat::ChannelsLast)
             ? MemoryFormat::ChannelsLast
             : MemoryFormat::Contiguous;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                       " cannot be broadcast (dim " + std::to_string(i) + ": " +
                       std::to_string(da) + " vs " + std::to_string(db) + ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  if (dim < lo || dim > hi)
    throw IndexError(std::string(op) + ": dimension " + std::to_string(dim) +
                     " is out of range for a tensor with " + std::to_string(ndim) +
                     " dims (expected " + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  if (dim < 0) dim += ndim == 0 ? 1 : ndim;
  return dim;
}

}  // namespace sepal
