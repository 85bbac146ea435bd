// shape.h: Shape and Strides (sizes and element strides, outermost first) and the helpers every
// op needs: element counts, contiguous strides, NumPy broadcasting, dim wrapping, printing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sepal {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

int64_t numel_of(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[8, 3, 224, 224]"
// NumPy broadcasting of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Wraps a possibly negative dim into [0, ndim); throws IndexError naming `op`.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace sepal
