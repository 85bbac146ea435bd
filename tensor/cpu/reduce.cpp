// reduce.cpp: CPU row reductions (sum, mean, max, min, argmax, argmin over contiguous rows): one
// row per thread when there are enough rows, else each long row split across threads.
#include <omp.h>

#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/loops.h"
#include "tensor/error.h"

namespace sepal::cpu {

namespace {
template <typename T> using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// One row's reduction over [begin, end). Sum/Mean accumulate in double (floats) or int64.
template <typename T>
struct RowReducer {
  ReduceOp op;
  struct Partial {
    acc_t<T> sum = 0;
    T best{};
    int64_t best_index = -1;
  };
  Partial run(const T* row, int64_t begin, int64_t end) const {
    Partial p;
    if (op == ReduceOp::Sum || op == ReduceOp::Mean) {
      acc_t<T> s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t i = begin; i < end; ++i) s += static_cast<acc_t<T>>(row[i]);
      p.sum = s;
      return p;
    }
    bool want_max = op == ReduceOp::Max || op == ReduceOp::ArgMax;
    for (int64_t i = begin; i < end; ++i) {
      T v = row[i];
      bool is_nan = v != v;
      if (p.best_index < 0 || is_nan || (want_max ? v > p.best : v < p.best)) {
        p.best = v;
        p.best_index = i;
        if (is_nan) break;  // NaN propagates, as in PyTorch
      }
    }
    return p;
  }
  Partial combine(Partial x, const Partial& y) const {
    if (op == ReduceOp::Sum || op == ReduceOp::Mean) { x.sum += y.sum; return x; }
    if (y.best_index < 0) return x;
    if (x.best_index < 0) return y;
    bool want_max = op == ReduceOp::Max || op == ReduceOp::ArgMax;
    bool x_nan = x.best != x.best, y_nan = y.best != y.best;
    if (x_nan) return x;
    if (y_nan || (want_max ? y.best > x.best : y.best < x.best)) return y;
    return x;  // ties keep the first index
  }
  void store(const Partial& p, int64_t n, void* out, int64_t r) const {
    switch (op) {
      case ReduceOp::Sum: static_cast<T*>(out)[r] = static_cast<T>(p.sum); break;
      case ReduceOp::Mean: static_cast<T*>(out)[r] = static_cast<T>(static_cast<double>(p.sum) / static_cast<double>(n)); break;
      case ReduceOp::Max:
      case ReduceOp::Min: static_cast<T*>(out)[r] = p.best; break;
      case ReduceOp::ArgMax:
      case ReduceOp::ArgMin: static_cast<int64_t*>(out)[r] = p.best_index; break;
    }
  }
};

}  // namespace

void CpuBackend::reduce_rows(ReduceOp op, const Tensor& in, const Tensor& out) {
  dispatch_all(in.dtype(), op_name(op), [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, uint8_t>) {
      if (op == ReduceOp::Sum || op == ReduceOp::Mean)
        throw DTypeError(std::string(op_name(op)) + ": unsupported dtype " + dtype_name(in.dtype()));
    }
    const int64_t rows = in.size(0), n = in.size(1);
    const T* data = in.data_ptr<T>();
    void* dst = out.raw_data();
    RowReducer<T> reducer{op};
    const int threads = omp_get_max_threads();
    if (rows >= threads || rows * n < cpu::kParallelGrain) {
#pragma omp parallel for if (rows * n >= cpu::kParallelGrain)
      for (int64_t r = 0; r < rows; ++r) reducer.store(reducer.run(data + r * n, 0, n), n, dst, r);
      return;
    }
    // few long rows: split each row across threads, combine partials in thread order
    std::vector<typename RowReducer<T>::Partial> partials(threads);
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = data + r * n;
#pragma omp parallel num_threads(threads)
      {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t chunk = (n + nt - 1) / nt;
        int64_t begin = std::min(n, chunk * t), end = std::min(n, begin + chunk);
        partials[t] = reducer.run(row, begin, end);
      }
      typename RowReducer<T>::Partial total;
      for (auto& p : partials) total = reducer.combine(total, p);
      reducer.store(total, n, dst, r);
      for (auto& p : partials) p = {};
    }
  });
}

}  // namespace sepal::cpu
