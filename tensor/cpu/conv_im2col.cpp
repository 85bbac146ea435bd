// conv_im2col.cpp: plain, obviously-correct CPU convolution by im2col + GEMM, for float64 (which
// oneDNN does not support; the gradient checks run in it) and as the float32 reference the tests
// compare oneDNN with. Per image n and group g, with Cg = C/groups, Kg = K/groups:
//   col [Cg*R*S, P*Q]: col[(c*R + r)*S + s][p*Q + q] = x[c][p*sh - ph + r*dh][q*sw - pw + s*dw]
//                       (0 outside the image: the zero padding)
//   forward:        out_g [Kg, P*Q]    = W_g [Kg, Cg*R*S] @ col
//   backward input: col = W_g^T @ dout_g, then col2im adds each col entry back to its pixel
//   backward weight: dW_g [Kg, Cg*R*S] += dout_g @ col^T, summed over the images
#include <cblas.h>

#include <type_traits>
#include <vector>

#include "tensor/cpu/conv.h"
#include "tensor/kernels/conv_epilogue.h"
#include "tensor/kernels/layouts.h"

namespace sepal::cpu {

namespace {

// The geometry of one convolution, read from an image-shaped tensor [N, C, H, W], the weight
// [K, Cg, R, S] and the output-shaped tensor [N, K, P, Q].
struct Geometry {
  int64_t N, C, H, W, K, R, S, P, Q, G, Cg, Kg;
  int64_t sh, sw, ph, pw, dh, dw;
  Geometry(const Tensor& image, const Tensor& weight, const Tensor& out, const Conv2dArgs& a)
      : N(image.size(0)), C(image.size(1)), H(image.size(2)), W(image.size(3)), K(weight.size(0)),
        R(weight.size(2)), S(weight.size(3)), P(out.size(2)), Q(out.size(3)), G(a.groups),
        Cg(C / a.groups), Kg(K / a.groups), sh(a.stride[0]), sw(a.stride[1]), ph(a.padding[0]),
        pw(a.padding[1]), dh(a.dilation[0]), dw(a.dilation[1]) {}
  int64_t col_rows() const { return Cg * R * S; }
  int64_t col_cols() const { return P * Q; }
};

// Row-major C = alpha op(A) op(B) + beta C.
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
          T beta, T* c, int64_t ldc) {
  const CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, opa, opb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  else
    cblas_dgemm(CblasRowMajor, opa, opb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

// x: one image's group of channels [Cg, H, W] -> col [Cg*R*S, P*Q].
template <typename T>
void im2col(const Geometry& g, const T* x, T* col) {
#pragma omp parallel for if (g.col_rows() * g.col_cols() > 65536)
  for (int64_t row = 0; row < g.col_rows(); ++row) {
    const int64_t c = row / (g.R * g.S), r = row / g.S % g.R, s = row % g.S;
    T* dst = col + row * g.col_cols();
    for (int64_t p = 0; p < g.P; ++p) {
      const int64_t ih = p * g.sh - g.ph + r * g.dh;
      for (int64_t q = 0; q < g.Q; ++q) {
        const int64_t iw = q * g.sw - g.pw + s * g.dw;
        const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
        dst[p * g.Q + q] = inside ? x[(c * g.H + ih) * g.W + iw] : T(0);
      }
    }
  }
}

// The adjoint of im2col: dx [Cg, H, W] (overwritten) = sum of the col entries reading each pixel.
// Parallel over channels, so no two threads add into the same pixel.
template <typename T>
void col2im(const Geometry& g, const T* col, T* dx) {
#pragma omp parallel for if (g.col_rows() * g.col_cols() > 65536)
  for (int64_t c = 0; c < g.Cg; ++c) {
    T* plane = dx + c * g.H * g.W;
    for (int64_t i = 0; i < g.H * g.W; ++i) plane[i] = T(0);
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const T* src = col + ((c * g.R + r) * g.S + s) * g.col_cols();
        for (int64_t p = 0; p < g.P; ++p) {
          const int64_t ih = p * g.sh - g.ph + r * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          for (int64_t q = 0; q < g.Q; ++q) {
            const int64_t iw = q * g.sw - g.pw + s * g.dw;
            if (iw >= 0 && iw < g.W) plane[ih * g.W + iw] += src[p * g.Q + q];
          }
        }
      }
  }
}

// Pointers to image n, group gi of an [N, channels, h, w] tensor with `per_group` channels a group.
template <typename T>
T* group_ptr(T* base, int64_t n, int64_t gi, int64_t groups, int64_t per_group, int64_t plane) {
  return base + ((n * groups + gi) * per_group) * plane;
}

}  // namespace

void im2col_conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args) {
  const Geometry g(input, weight, out, args);
  dispatch_floating(input.dtype(), "conv2d", [&]<typename T>() {
    std::vector<T> col(static_cast<size_t>(g.col_rows() * g.col_cols()));
    const T* x = input.data_ptr<T>();
    const T* w = weight.data_ptr<T>();
    T* y = out.data_ptr<T>();
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t gi = 0; gi < g.G; ++gi) {
        im2col(g, group_ptr(x, n, gi, g.G, g.Cg, g.H * g.W), col.data());
        gemm<T>(false, false, g.Kg, g.col_cols(), g.col_rows(), w + gi * g.Kg * g.col_rows(), g.col_rows(),
                col.data(), g.col_cols(), T(0), group_ptr(y, n, gi, g.G, g.Kg, g.P * g.Q), g.col_cols());
      }
  });
}

void im2col_conv2d_forward_fused(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args,
                                 const ConvEpilogue& epilogue) {
  im2col_conv2d_forward(input, weight, out, args);
  dispatch_floating(input.dtype(), "conv2d_fused", [&]<typename T>() {
    const kernels::ConvEpilogueOp<T> op{kernels::ptr_or_null<T>(epilogue.bias),
                                        kernels::ptr_or_null<T>(epilogue.residual), epilogue.relu, out.size(1),
                                        out.size(2) * out.size(3)};
    T* y = out.data_ptr<T>();
    const int64_t n = out.numel();
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; ++i) y[i] = op(i, y[i]);
  });
}

void im2col_conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_input,
                                  const Conv2dArgs& args) {
  const Geometry g(grad_input, weight, grad_out, args);
  dispatch_floating(grad_out.dtype(), "conv2d_backward_input", [&]<typename T>() {
    std::vector<T> col(static_cast<size_t>(g.col_rows() * g.col_cols()));
    const T* dy = grad_out.data_ptr<T>();
    const T* w = weight.data_ptr<T>();
    T* dx = grad_input.data_ptr<T>();
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t gi = 0; gi < g.G; ++gi) {
        gemm<T>(true, false, g.col_rows(), g.col_cols(), g.Kg, w + gi * g.Kg * g.col_rows(), g.col_rows(),
                group_ptr(dy, n, gi, g.G, g.Kg, g.P * g.Q), g.col_cols(), T(0), col.data(), g.col_cols());
        col2im(g, col.data(), group_ptr(dx, n, gi, g.G, g.Cg, g.H * g.W));
      }
  });
}

void im2col_conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Tensor& grad_weight,
                                   const Conv2dArgs& args) {
  const Geometry g(input, grad_weight, grad_out, args);
  dispatch_floating(grad_out.dtype(), "conv2d_backward_weight", [&]<typename T>() {
    std::vector<T> col(static_cast<size_t>(g.col_rows() * g.col_cols()));
    const T* dy = grad_out.data_ptr<T>();
    const T* x = input.data_ptr<T>();
    T* dw = grad_weight.data_ptr<T>();
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t gi = 0; gi < g.G; ++gi) {
        im2col(g, group_ptr(x, n, gi, g.G, g.Cg, g.H * g.W), col.data());
        // the first image overwrites dW (beta 0), the others accumulate
        gemm<T>(false, true, g.Kg, g.col_rows(), g.col_cols(), group_ptr(dy, n, gi, g.G, g.Kg, g.P * g.Q),
                g.col_cols(), col.data(), g.col_cols(), n == 0 ? T(0) : T(1), dw + gi * g.Kg * g.col_rows(),
                g.col_rows());
      }
  });
}

}  // namespace sepal::cpu
