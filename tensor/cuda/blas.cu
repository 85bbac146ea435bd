// blas.cu: CUDA matmul through cuBLAS. sepal's matrices are row-major and cuBLAS's column-major,
// so C = A @ B is computed as C^T = B^T A^T: a row-major matrix is its transpose in column-major
// order, and a transposed view (stride(-2) == 1) is the matrix itself in column-major order.
// One cublasXgemmStridedBatched call covers every batch, batch strides may be 0 (a broadcast
// operand). The handle is the calling thread's (handles.h): math mode CUBLAS_DEFAULT_MATH (no
// TF32, so float32 matches the CPU) unless sepal::cuda::set_allow_tf32(true). bfloat16 precision
// (autocast) stages both operands as bfloat16 with their strides (bf16.cuh) and runs
// cublasGemmStridedBatchedEx with a float32 output and CUBLAS_COMPUTE_32F accumulation.
#include <cublas_v2.h>

#include <algorithm>
#include <climits>
#include <string>
#include <type_traits>

#include "tensor/cuda/bf16.cuh"
#include "tensor/cuda/check.h"
#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/handles.h"

namespace sepal::cuda {

namespace {

// How one operand is handed to cuBLAS (column-major view of the row-major matrix).
struct GemmOperand {
  cublasOperation_t op;
  int64_t ld;
};

// A [rows, cols] matrix with strides (rs, cs). Row-major (cs == 1): its memory is the column-major
// transpose, passed untransposed (CUBLAS_OP_N) with ld = rs >= cols. Column-major (rs == 1):
// passed transposed (CUBLAS_OP_T) with ld = cs >= rows. A dim of size 1 never moves the pointer,
// so its stride is free (raw::matmul leaves e.g. [1, k] views with a 0 row stride).
GemmOperand gemm_operand(const Tensor& t, const char* which) {
  const int64_t rows = t.size(-2), cols = t.size(-1), rs = t.stride(-2), cs = t.stride(-1);
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= std::max<int64_t>(1, cols)))
    return {CUBLAS_OP_N, rows == 1 ? std::max<int64_t>(1, cols) : rs};
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= std::max<int64_t>(1, rows)))
    return {CUBLAS_OP_T, cols == 1 ? std::max<int64_t>(1, rows) : cs};
  throw Error(std::string("matmul: cuda operand ") + which + " " + shape_str(t.shape()) +
              " with strides " + shape_str(t.strides()) + " is neither row- nor column-major");
}

int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw Error(std::string("matmul: ") + what + " " + std::to_string(v) +
                " exceeds the int range cuBLAS accepts");
  return static_cast<int>(v);
}

}  // namespace

void CudaBackend::matmul(const Tensor& a, const Tensor& bm, const Tensor& out, Precision precision) {
  DeviceGuard guard(index_);
  if (a.dim() != 3 || bm.dim() != 3 || out.dim() != 3 || !out.is_contiguous())
    throw Error("matmul: cuda backend expects 3-D operands and a contiguous output, got " +
                shape_str(a.shape()) + " @ " + shape_str(bm.shape()) + " -> " + shape_str(out.shape()));
  const int64_t batch = a.size(0), m = a.size(1), k = a.size(2), n = bm.size(2);
  if (batch == 0 || m == 0 || n == 0) return;
  const GemmOperand ga = gemm_operand(a, "a"), gb = gemm_operand(bm, "b");
  const int im = to_int(m, "m"), in = to_int(n, "n"), ik = to_int(k, "k");
  const int lda = to_int(ga.ld, "leading dimension"), ldb = to_int(gb.ld, "leading dimension");
  const int count = to_int(batch, "batch");
  const long long stride_a = a.stride(0), stride_b = bm.stride(0), stride_c = m * n;
  cublasHandle_t handle = cublas_handle(index_);
  if (precision == Precision::BFloat16 && a.dtype() == DType::Float32) {
    const int64_t span_a = storage_span(a), span_b = storage_span(bm);
    Bf16Buffer a16(*this, span_a), b16(*this, span_b);
    round_to_bf16(a.data_ptr<float>(), a16.data(), span_a);
    round_to_bf16(bm.data_ptr<float>(), b16.data(), span_b);
    const float alpha = 1.0f, beta = 0.0f;
    SEPAL_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, gb.op, ga.op, in, im, ik, &alpha, b16.data(), CUDA_R_16BF,
                                                  ldb, stride_b, a16.data(), CUDA_R_16BF, lda, stride_a, &beta,
                                                  out.data_ptr<float>(), CUDA_R_32F, in, stride_c, count,
                                                  CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return;
  }
  dispatch_floating(a.dtype(), "matmul", [&]<typename T>() {
    const T alpha = 1, beta = 0;
    const T* pa = a.data_ptr<T>();
    const T* pb = bm.data_ptr<T>();
    T* pc = out.data_ptr<T>();
    // column-major: C^T [n, m] = op(B^T) [n, k] * op(A^T) [k, m], ldc = n
    if constexpr (std::is_same_v<T, float>)
      SEPAL_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, gb.op, ga.op, in, im, ik, &alpha, pb, ldb,
                                                   stride_b, pa, lda, stride_a, &beta, pc, in,
                                                   stride_c, count));
    else
      SEPAL_CUBLAS_CHECK(cublasDgemmStridedBatched(handle, gb.op, ga.op, in, im, ik, &alpha, pb, ldb,
                                                   stride_b, pa, lda, stride_a, &beta, pc, in,
                                                   stride_c, count));
  });
}

}  // namespace sepal::cuda
