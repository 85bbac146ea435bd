// cpu_backend.cpp: the CPU backend. Elementwise kernels instantiate the shared functors of
// kernels/elementwise_ops.h through cpu_map (loops.h); reductions run one row per thread or split
// a long row across threads; matmul calls OpenBLAS (cblas_sgemm / cblas_dgemm).
#include <cblas.h>
#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "tensor/backend.h"
#include "tensor/caching_allocator.h"
#include "tensor/cpu/loops.h"
#include "tensor/error.h"

namespace sepal {

namespace {

void* aligned_host_alloc(size_t nbytes) { return std::aligned_alloc(64, (nbytes + 63) / 64 * 64); }
void host_free(void* p) { std::free(p); }

template <typename T> using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

class CpuBackend final : public Backend {
 public:
  CpuBackend() : allocator_(aligned_host_alloc, host_free, size_t(4) << 30) {}

  void* allocate(size_t nbytes) override {
    void* p = allocator_.allocate(std::max<size_t>(nbytes, 1));
    if (!p) throw Error("cpu: out of memory allocating " + std::to_string(nbytes) + " bytes");
    return p;
  }
  void deallocate(void* ptr, size_t) override { allocator_.deallocate(ptr); }
  void copy_from_host(void* dst, const void* src, size_t n) override { std::memcpy(dst, src, n); }
  void copy_to_host(void* dst, const void* src, size_t n) override { std::memcpy(dst, src, n); }
  void synchronize() override {}

  void fill(const Tensor& out, double value) override {
    dispatch_all(out.dtype(), "fill", [&]<typename T>() {
      T v = static_cast<T>(value);
      cpu::cpu_map<T>([v]() { return v; }, out, {});
    });
  }

  void arange(const Tensor& out, double start, double step) override {
    dispatch_all(out.dtype(), "arange", [&]<typename T>() {
      T* p = out.data_ptr<T>();
      const int64_t n = out.numel();
#pragma omp parallel for if (n > cpu::kParallelGrain)
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
    });
  }

  void random(const Tensor& out, const RandomArgs& a) override {
    dispatch_all(out.dtype(), "random", [&]<typename T>() {
      kernels::RandomFill<T> gen{a.seed, a.offset, a.kind, a.a, a.b};
      T* p = out.data_ptr<T>();
      const int64_t n = out.numel();
#pragma omp parallel for if (n > cpu::kParallelGrain / 8)
      for (int64_t i = 0; i < n; ++i) p[i] = gen(i);
    });
  }

  void copy(const Tensor& src, const Tensor& dst) override {
    dispatch_all(dst.dtype(), "copy", [&]<typename D>() {
      dispatch_all(src.dtype(), "copy", [&]<typename S>() {
        cpu::cpu_map<D, S>(kernels::CastForward<D, S>{}, dst, {&src});
      });
    });
  }

  void unary(UnaryOp op, const UnaryArgs& args, const Tensor& in, const Tensor& out) override {
    dispatch_floating(in.dtype(), op_name(op), [&]<typename T>() {
      kernels::ScalarArgs<T> p{static_cast<T>(args.a), static_cast<T>(args.b)};
      switch (op) {
#define SEPAL_CASE(Name, Functor, text) \
  case UnaryOp::Name: cpu::cpu_map<T, T>(kernels::UnaryForward<Functor, T>{p}, out, {&in}); break;
        SEPAL_UNARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
      }
    });
  }

  void unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& grad, const Tensor& in,
                      const Tensor& result, const Tensor& grad_in) override {
    dispatch_floating(in.dtype(), op_name(op), [&]<typename T>() {
      kernels::ScalarArgs<T> p{static_cast<T>(args.a), static_cast<T>(args.b)};
      switch (op) {
#define SEPAL_CASE(Name, Functor, text)                                                      \
  case UnaryOp::Name:                                                                        \
    cpu::cpu_map<T, T, T, T>(kernels::UnaryBackward<Functor, T>{p}, grad_in, {&grad, &in, &result}); \
    break;
        SEPAL_UNARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
      }
    });
  }

  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override {
    dispatch_arithmetic(a.dtype(), op_name(op), [&]<typename T>() {
      switch (op) {
#define SEPAL_CASE(Name, Functor, text) \
  case BinaryOp::Name: cpu::cpu_map<T, T, T>(kernels::BinaryForward<Functor, T>{}, out, {&a, &b}); break;
        SEPAL_BINARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
      }
    });
  }

  void binary_backward(BinaryOp op, int input, const Tensor& grad, const Tensor& a, const Tensor& b,
                       const Tensor& grad_in) override {
    dispatch_floating(a.dtype(), op_name(op), [&]<typename T>() {
      switch (op) {
#define SEPAL_CASE(Name, Functor, text)                                                             \
  case BinaryOp::Name:                                                                              \
    if (input == 0)                                                                                 \
      cpu::cpu_map<T, T, T, T>(kernels::BinaryBackwardA<Functor, T>{}, grad_in, {&grad, &a, &b});   \
    else                                                                                            \
      cpu::cpu_map<T, T, T, T>(kernels::BinaryBackwardB<Functor, T>{}, grad_in, {&grad, &a, &b});   \
    break;
        SEPAL_BINARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
      }
    });
  }

  void compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out) override {
    dispatch_all(a.dtype(), op_name(op), [&]<typename T>() {
      switch (op) {
#define SEPAL_CASE(Name, Functor, text) \
  case CompareOp::Name: cpu::cpu_map<bool, T, T>(kernels::CompareForward<Functor, T>{}, out, {&a, &b}); break;
        SEPAL_COMPARE_OPS(SEPAL_CASE)
#undef SEPAL_CASE
      }
    });
  }

  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override {
    dispatch_all(a.dtype(), "where", [&]<typename T>() {
      cpu::cpu_map<T, bool, T, T>(kernels::WhereForward<T>{}, out, {&cond, &a, &b});
    });
  }

  void reduce_rows(ReduceOp op, const Tensor& in, const Tensor& out) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out) override;

 private:
  CachingAllocator allocator_;
};

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

}  // namespace

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace sepal
