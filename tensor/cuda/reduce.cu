// reduce.cu: CUDA row reductions. in is contiguous [rows, n], out is [rows]. One block per row
// (blocks loop over rows past the grid cap); each thread folds a strided slice of its row, then
// a shared-memory tree combines the block's partials. Sum/Mean accumulate in double (floating
// types) or int64; Max/Min propagate NaN; ArgMax/ArgMin return the first index of the extreme
// (of the first NaN when there is one): the semantics of RowReducer in cpu/cpu_backend.cpp.
#include <algorithm>
#include <string>
#include <type_traits>

#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/elementwise.cuh"

namespace sepal::cuda {

namespace {

template <typename T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

enum class Fold { Sum, Max, Min };

// A partial result; trivially constructible because it lives in __shared__ memory.
template <typename T>
struct Partial {
  acc_t<T> sum;
  T best;
  int64_t index;  // index of `best` in the row; -1 while no element has been seen
};

template <typename T>
__host__ __device__ __forceinline__ bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

template <Fold F, typename T>
__host__ __device__ __forceinline__ bool strictly_better(T v, T best) {
  if constexpr (F == Fold::Max) return v > best;
  else return v < best;
}

// Max/Min of two partials covering disjoint, interleaved index sets: NaN wins, then the better
// value, and on a tie (or two NaNs) the smaller index, so the result is the row's first extreme.
template <Fold F, typename T>
__host__ __device__ __forceinline__ Partial<T> combine(const Partial<T>& x, const Partial<T>& y) {
  if constexpr (F == Fold::Sum) {
    Partial<T> r = x;
    r.sum = x.sum + y.sum;
    return r;
  } else {
    if (y.index < 0) return x;
    if (x.index < 0) return y;
    const bool x_nan = is_nan(x.best), y_nan = is_nan(y.best);
    if (x_nan || y_nan) {
      if (x_nan && y_nan) return x.index < y.index ? x : y;
      return x_nan ? x : y;
    }
    if (strictly_better<F>(y.best, x.best)) return y;
    if (strictly_better<F>(x.best, y.best)) return x;
    return x.index < y.index ? x : y;
  }
}

// Folds element v (index i) into a thread's partial. A thread sees its indices in increasing
// order, so keeping the first extreme (or the first NaN) gives that thread's first index.
template <Fold F, typename T>
__host__ __device__ __forceinline__ void fold(Partial<T>& acc, T v, int64_t i) {
  if constexpr (F == Fold::Sum) {
    acc.sum += static_cast<acc_t<T>>(v);
  } else if (acc.index < 0 || (!is_nan(acc.best) && (is_nan(v) || strictly_better<F>(v, acc.best)))) {
    acc.best = v;
    acc.index = i;
  }
}

template <typename T>
__host__ __device__ __forceinline__ Partial<T> empty_partial() {
  Partial<T> p;
  p.sum = 0;
  p.best = T{};
  p.index = -1;
  return p;
}

template <typename T, Fold F, int kThreads>
__global__ void __launch_bounds__(kThreads)
    reduce_rows_kernel(const T* in, int64_t rows, int64_t n, ReduceOp op, void* out) {
  static_assert((kThreads & (kThreads - 1)) == 0, "the tree needs a power-of-two block");
  __shared__ Partial<T> shared[kThreads];
  const int tid = static_cast<int>(threadIdx.x);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* p = in + row * n;
    Partial<T> acc = empty_partial<T>();
    for (int64_t i = tid; i < n; i += kThreads) fold<F>(acc, p[i], i);
    shared[tid] = acc;
    __syncthreads();
#pragma unroll
    for (int s = kThreads / 2; s > 0; s >>= 1) {
      if (tid < s) shared[tid] = combine<F>(shared[tid], shared[tid + s]);
      __syncthreads();
    }
    if (tid == 0) {
      const Partial<T> r = shared[0];
      if constexpr (F == Fold::Sum) {
        if (op == ReduceOp::Mean)
          static_cast<T*>(out)[row] = static_cast<T>(static_cast<double>(r.sum) / static_cast<double>(n));
        else
          static_cast<T*>(out)[row] = static_cast<T>(r.sum);
      } else {
        if (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin)
          static_cast<int64_t*>(out)[row] = r.index;
        else
          static_cast<T*>(out)[row] = r.best;
      }
    }
    __syncthreads();  // shared[] is rewritten for the next row
  }
}

template <typename T, Fold F>
void launch_reduce(const T* in, int64_t rows, int64_t n, ReduceOp op, void* out) {
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(rows, kMaxBlocks));
  // Enough threads for the row, no more: short rows use one warp, long rows 512 threads.
  if (n <= 32)
    reduce_rows_kernel<T, F, 32><<<grid, 32>>>(in, rows, n, op, out);
  else if (n <= 128)
    reduce_rows_kernel<T, F, 128><<<grid, 128>>>(in, rows, n, op, out);
  else
    reduce_rows_kernel<T, F, 512><<<grid, 512>>>(in, rows, n, op, out);
  SEPAL_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::reduce_rows(ReduceOp op, const Tensor& in, const Tensor& out) {
  DeviceGuard guard(index_);
  dispatch_all(in.dtype(), op_name(op), [&]<typename T>() {
    if (in.dim() != 2 || !in.is_contiguous() || !out.is_contiguous() || out.numel() != in.size(0))
      throw Error(std::string(op_name(op)) + ": cuda reduce_rows expects contiguous [rows, n] and [rows], got " +
                  shape_str(in.shape()) + " and " + shape_str(out.shape()));
    const int64_t rows = in.size(0), n = in.size(1);
    if (rows == 0) return;
    if (n == 0) throw ShapeError(std::string(op_name(op)) + ": cannot reduce an empty row");
    const T* data = in.data_ptr<T>();
    const bool arg = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
    void* dst = arg ? static_cast<void*>(out.data_ptr<int64_t>()) : static_cast<void*>(out.data_ptr<T>());
    switch (op) {
      case ReduceOp::Sum:
      case ReduceOp::Mean:
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, uint8_t>)
          throw DTypeError(std::string(op_name(op)) + ": unsupported dtype " + dtype_name(in.dtype()));
        else
          launch_reduce<T, Fold::Sum>(data, rows, n, op, dst);
        break;
      case ReduceOp::Max:
      case ReduceOp::ArgMax: launch_reduce<T, Fold::Max>(data, rows, n, op, dst); break;
      case ReduceOp::Min:
      case ReduceOp::ArgMin: launch_reduce<T, Fold::Min>(data, rows, n, op, dst); break;
    }
  });
}

}  // namespace sepal::cuda
