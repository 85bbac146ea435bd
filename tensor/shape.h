// shape.h: Shape and Strides (sizes and element strides, outermost first) and the helpers every
// op needs: element counts, contiguous strides, NumPy broadcasting, dim wrapping, printing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sepal {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

// How a 4-D [N, C, H, W] tensor lies in memory (PyTorch's torch.memory_format): Contiguous is
// row-major NCHW; ChannelsLast is NHWC, strides [H*W*C, 1, W*C, C], the layout oneDNN's and
// cuDNN's fastest convolutions read without a reorder. The shape is NCHW either way.
enum class MemoryFormat : uint8_t { Contiguous, ChannelsLast };
const char* memory_format_name(MemoryFormat format);  // "contiguous", "channels_last"

int64_t numel_of(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
// Dense strides for `shape` in `format`; ChannelsLast needs 4 dims (ShapeError otherwise).
Strides strides_for(const Shape& shape, MemoryFormat format);
// Whether (shape, strides) is dense in `format`, size-1 dims' strides ignored (Tensor::is_contiguous).
bool is_dense_in(const Shape& shape, const Strides& strides, MemoryFormat format);
// ChannelsLast for a channels-last layout that is not also row-major, else Contiguous.
MemoryFormat memory_format_of(const Shape& shape, const Strides& strides);
std::string shape_str(const Shape& shape);  // "[8, 3, 224, 224]"
// NumPy broadcasting of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Wraps a possibly negative dim into [0, ndim); throws IndexError naming `op`.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace sepal
