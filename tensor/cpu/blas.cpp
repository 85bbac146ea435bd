// blas.cpp: CPU matmul through OpenBLAS (cblas_sgemm / cblas_dgemm), batch by batch; operands may
// be row-major or transposed views, passed to BLAS as transpose flags without a copy.
#include <cblas.h>

#include "tensor/cpu/cpu_backend.h"

namespace sepal::cpu {

namespace {
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

}  // namespace

void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out) {
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
        cblas_sgemm(CblasRowMajor, ma.trans, mb.trans, m, n, k, 1.0f, ai, ma.ld, bi, mb.ld, 0.0f, ci, n);
      else
        cblas_dgemm(CblasRowMajor, ma.trans, mb.trans, m, n, k, 1.0, ai, ma.ld, bi, mb.ld, 0.0, ci, n);
    }
  });
}

}  // namespace sepal::cpu
