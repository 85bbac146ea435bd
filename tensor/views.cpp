// views.cpp: gradient-free views (as_strided, view, permute, narrow, expand, squeeze...). A view
// shares its input's storage; only shape, strides and offset change.
#include <algorithm>

#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal::raw {

Tensor as_strided(const Tensor& x, const Shape& shape, const Strides& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = x.dtype();
  return Tensor(std::move(impl));
}

Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer_at >= 0) throw ShapeError(std::string(op) + ": only one dimension can be -1 in " + shape_str(shape));
      infer_at = static_cast<int64_t>(i);
    } else if (out[i] < 0) {
      throw ShapeError(std::string(op) + ": invalid size in " + shape_str(shape));
    } else {
      known *= out[i];
    }
  }
  if (infer_at >= 0) {
    if (known == 0 || numel % known != 0)
      throw ShapeError(std::string(op) + ": shape " + shape_str(shape) + " is invalid for " +
                       std::to_string(numel) + " elements");
    out[infer_at] = numel / known;
  } else if (known != numel) {
    throw ShapeError(std::string(op) + ": shape " + shape_str(shape) + " is invalid for input of " +
                     std::to_string(numel) + " elements");
  }
  return out;
}

// PyTorch's computeStride: walks "chunks" of the old shape that are contiguous with each other.
bool view_strides(const Tensor& x, const Shape& new_shape, Strides* out) {
  const Shape& old_shape = x.shape();
  const Strides& old_strides = x.strides();
  if (x.numel() == 0 || old_shape.empty()) {
    *out = contiguous_strides(new_shape);
    return true;
  }
  Strides strides(new_shape.size());
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(old_shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_shape[tensor_d];
    if (tensor_d == 0 || (old_shape[tensor_d - 1] != 1 &&
                          old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return false;
  *out = strides;
  return true;
}

Tensor view(const Tensor& x, const Shape& shape) {
  Shape target = infer_shape(shape, x.numel(), "view");
  Strides strides;
  if (!view_strides(x, target, &strides))
    throw ShapeError("view: cannot view a tensor of shape " + shape_str(x.shape()) + " with strides " +
                     shape_str(x.strides()) + " as " + shape_str(target) +
                     " without a copy; use reshape()");
  return as_strided(x, target, strides, x.offset());
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape target = infer_shape(shape, x.numel(), "reshape");
  Strides strides;
  if (view_strides(x, target, &strides)) return as_strided(x, target, strides, x.offset());
  Tensor c = contiguous(x);
  return as_strided(c, target, contiguous_strides(target), c.offset());
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  int64_t n = x.dim();
  if (static_cast<int64_t>(dims.size()) != n)
    throw ShapeError("permute: got " + std::to_string(dims.size()) + " dims for a tensor of shape " +
                     shape_str(x.shape()));
  Shape shape(n);
  Strides strides(n);
  std::vector<bool> seen(n, false);
  for (int64_t i = 0; i < n; ++i) {
    int64_t d = wrap_dim(dims[i], n, "permute");
    if (seen[d]) throw ShapeError("permute: dim " + std::to_string(d) + " repeated in " + shape_str(dims));
    seen[d] = true;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  return as_strided(x, shape, strides, x.offset());
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  int64_t n = x.dim();
  std::vector<int64_t> dims(n);
  for (int64_t i = 0; i < n; ++i) dims[i] = i;
  if (n == 0) return x;
  std::swap(dims[wrap_dim(dim0, n, "transpose")], dims[wrap_dim(dim1, n, "transpose")]);
  return permute(x, dims);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  int64_t d = wrap_dim(dim, x.dim(), "narrow");
  int64_t size = x.shape()[d];
  if (start < 0) start += size;
  if (start < 0 || length < 0 || start + length > size)
    throw IndexError("narrow: range [" + std::to_string(start) + ", " + std::to_string(start + length) +
                     ") is out of bounds for dim " + std::to_string(d) + " of shape " + shape_str(x.shape()));
  Shape shape = x.shape();
  shape[d] = length;
  return as_strided(x, shape, x.strides(), x.offset() + start * x.strides()[d]);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  if (shape.size() < x.shape().size())
    throw ShapeError("expand: target " + shape_str(shape) + " has fewer dims than the tensor " +
                     shape_str(x.shape()));
  size_t lead = shape.size() - x.shape().size();
  Shape out_shape(shape.size());
  Strides strides(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      if (shape[i] < 0) throw ShapeError("expand: -1 is not allowed for new leading dims in " + shape_str(shape));
      out_shape[i] = shape[i];
      strides[i] = 0;
      continue;
    }
    int64_t have = x.shape()[i - lead];
    int64_t want = shape[i] == -1 ? have : shape[i];
    if (have == want) {
      out_shape[i] = have;
      strides[i] = x.strides()[i - lead];
    } else if (have == 1) {
      out_shape[i] = want;
      strides[i] = 0;
    } else {
      throw ShapeError("expand: cannot expand " + shape_str(x.shape()) + " to " + shape_str(shape) +
                       " (dim " + std::to_string(i) + " has size " + std::to_string(have) + ")");
    }
  }
  return as_strided(x, out_shape, strides, x.offset());
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  if (x.dim() == 0) return x;
  int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.shape()[d] != 1) return x;
  Shape shape = x.shape();
  Strides strides = x.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return as_strided(x, shape, strides, x.offset());
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  Strides strides = x.strides();
  int64_t stride = d < x.dim() ? shape[d] * strides[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return as_strided(x, shape, strides, x.offset());
}

}  // namespace sepal::raw
