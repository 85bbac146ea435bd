// blas.cpp: CPU matmul through OpenBLAS (cblas_sgemm / cblas_dgemm), batch by batch; operands may
// be row-major or transposed views, passed to BLAS as transpose flags without a copy. bfloat16
// precision rounds both operands of a batch to bfloat16 values (tensor/kernels/bf16.h) in
// contiguous float32 copies and multiplies those with cblas_sgemm: a bf16 x bf16 product is exact
// in float32, so this is a bf16 GEMM with float32 accumulation (Debian's OpenBLAS is built without
// cblas_sbgemm). It buys accuracy parity with autocast, not speed; in a ResNet the matmul is the
// small head, and the convolutions run oneDNN's native bf16 kernels (conv_onednn.cpp).
//
// Small float32 products (at most kSmallGemm multiply-adds, such as a classifier head) go to
// oneDNN's sgemm instead, which runs on the OpenMP threads the convolutions keep spinning:
// OpenBLAS's own pthreads would first have to get the cores from them, which made the ResNet
// head's [8, 512] x [512, 102] take 1.5-3.4 ms inside a training step against 0.09 ms.
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/kernels/bf16.h"

namespace sepal::cpu {

namespace {

constexpr int64_t kSmallGemm = int64_t(1) << 22;

// C = A B for row-major float32 matrices (A m x k, B k x n, each possibly transposed).
void sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
           const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (m * n * k <= kSmallGemm &&
      dnnl_sgemm(ta == CblasTrans ? 'T' : 'N', tb == CblasTrans ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c,
                 ldc) == dnnl_success)
    return;
  cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a,
              static_cast<int>(lda), b, static_cast<int>(ldb), 0.0f, c, static_cast<int>(ldc));
}
// Row-major view of a matrix for BLAS: transposed flag and leading dimension.
struct BlasMatrix {
  CBLAS_TRANSPOSE trans;
  int ld;
};
BlasMatrix blas_matrix(const Tensor& t) {
  int64_t rows = t.size(-2), cols = t.size(-1), rs = t.stride(-2), cs = t.stride(-1);
  if (cs == 1 && rs >= std::max<int64_t>(1, cols)) return {CblasNoTrans, static_cast<int>(rs)};
  (void)rows;
  return {CblasTrans, static_cast<int>(cs)};
}

// One batch of t ([rows, cols] at `base` with t's last two strides), rounded to bfloat16, row-major.
void to_bf16_rows(const Tensor& t, const float* base, std::vector<float>& out) {
  const int64_t rows = t.size(1), cols = t.size(2), rs = t.stride(1), cs = t.stride(2);
  out.resize(static_cast<size_t>(rows * cols));
#pragma omp parallel for if (rows * cols >= (1 << 16))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = kernels::bf16_round(base[r * rs + c * cs]);
}

void matmul_bf16(const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
  std::vector<float> abf, bbf;
  for (int64_t i = 0; i < batch; ++i) {
    to_bf16_rows(a, a.data_ptr<float>() + i * a.stride(0), abf);
    to_bf16_rows(b, b.data_ptr<float>() + i * b.stride(0), bbf);
    sgemm(CblasNoTrans, CblasNoTrans, m, n, k, abf.data(), k, bbf.data(), n, out.data_ptr<float>() + i * m * n, n);
  }
}

}  // namespace

void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out, Precision precision) {
  if (precision == Precision::BFloat16 && a.dtype() == DType::Float32) return matmul_bf16(a, b, out);
  const int64_t batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
  BlasMatrix ma = blas_matrix(a), mb = blas_matrix(b);
  dispatch_floating(a.dtype(), "matmul", [&]<typename T>() {
    const T* pa = a.data_ptr<T>();
    const T* pb = b.data_ptr<T>();
    T* pc = out.data_ptr<T>();
    for (int64_t i = 0; i < batch; ++i) {
      const T* ai = pa + i * a.stride(0);
      const T* bi = pb + i * b.stride(0);
      T* ci = pc + i * m * n;
      if constexpr (std::is_same_v<T, float>)
        sgemm(ma.trans, mb.trans, m, n, k, ai, ma.ld, bi, mb.ld, ci, n);
      else
        cblas_dgemm(CblasRowMajor, ma.trans, mb.trans, m, n, k, 1.0, ai, ma.ld, bi, mb.ld, 0.0, ci, n);
    }
  });
}

}  // namespace sepal::cpu
