// cpu_backend.cpp: the CPU backend. Elementwise kernels instantiate the shared functors of
// kernels/elementwise_ops.h through cpu_map (loops.h); reductions run one row per thread or split
// a long row across threads (reduce.cpp); matmul calls OpenBLAS (blas.cpp).
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/loops.h"
#include "tensor/error.h"

namespace sepal::cpu {

namespace {

void* aligned_host_alloc(size_t nbytes) { return std::aligned_alloc(64, (nbytes + 63) / 64 * 64); }
void host_free(void* p) { std::free(p); }

}  // namespace

CpuBackend::CpuBackend() : allocator_(aligned_host_alloc, host_free, size_t(4) << 30) {}

void* CpuBackend::allocate(size_t nbytes) {
  void* p = allocator_.allocate(std::max<size_t>(nbytes, 1));
  if (!p) throw Error("cpu: out of memory allocating " + std::to_string(nbytes) + " bytes");
  return p;
}

void CpuBackend::deallocate(void* ptr, size_t) { allocator_.deallocate(ptr); }

void CpuBackend::copy_from_host(void* dst, const void* src, size_t n) { std::memcpy(dst, src, n); }

void CpuBackend::copy_to_host(void* dst, const void* src, size_t n) { std::memcpy(dst, src, n); }

void CpuBackend::synchronize() {}

void CpuBackend::fill(const Tensor& out, double value) {
  dispatch_all(out.dtype(), "fill", [&]<typename T>() {
    T v = static_cast<T>(value);
    cpu::cpu_map<T>([v]() { return v; }, out, {});
  });
}

void CpuBackend::arange(const Tensor& out, double start, double step) {
  dispatch_all(out.dtype(), "arange", [&]<typename T>() {
    T* p = out.data_ptr<T>();
    const int64_t n = out.numel();
#pragma omp parallel for if (n > cpu::kParallelGrain)
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
}

void CpuBackend::random(const Tensor& out, const RandomArgs& a) {
  dispatch_all(out.dtype(), "random", [&]<typename T>() {
    kernels::RandomFill<T> gen{a.seed, a.offset, a.kind, a.a, a.b};
    T* p = out.data_ptr<T>();
    const int64_t n = out.numel();
#pragma omp parallel for if (n > cpu::kParallelGrain / 8)
    for (int64_t i = 0; i < n; ++i) p[i] = gen(i);
  });
}

namespace {

// dst = src between row-major NCHW and channels-last NHWC of one dtype (the edges of a
// channels-last network: the input images, a row-major copy of its activations): per image, a
// transpose of an [R, K] matrix ([C, H*W] one way, [H*W, C] the other) in 32 x 32 tiles, instead
// of the generic loop whose innermost dim is then C (3 for images). False when it does not apply.
bool copy_between_layouts(const Tensor& src, const Tensor& dst) {
  if (src.dtype() != dst.dtype() || src.dim() != 4 || src.numel() == 0) return false;
  const bool to_channels_last = src.is_contiguous() && dst.memory_format() == MemoryFormat::ChannelsLast;
  const bool to_row_major = src.memory_format() == MemoryFormat::ChannelsLast && dst.is_contiguous();
  if (!to_channels_last && !to_row_major) return false;
  const int64_t N = src.size(0), C = src.size(1), HW = src.size(2) * src.size(3);
  const int64_t R = to_channels_last ? C : HW, K = to_channels_last ? HW : C;
  dispatch_all(src.dtype(), "copy", [&]<typename T>() {
    constexpr int64_t kTile = 32;
    const T* in = src.data_ptr<T>();
    T* out = dst.data_ptr<T>();
    const int64_t r_tiles = (R + kTile - 1) / kTile, k_tiles = (K + kTile - 1) / kTile;
#pragma omp parallel for collapse(2) if (src.numel() > cpu::kParallelGrain)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t tile = 0; tile < r_tiles * k_tiles; ++tile) {
        const int64_t r0 = (tile / k_tiles) * kTile, k0 = (tile % k_tiles) * kTile;
        const int64_t r1 = std::min(R, r0 + kTile), k1 = std::min(K, k0 + kTile);
        const T* a = in + n * R * K;
        T* b = out + n * R * K;
        for (int64_t k = k0; k < k1; ++k)
          for (int64_t r = r0; r < r1; ++r) b[k * R + r] = a[r * K + k];
      }
  });
  return true;
}

}  // namespace

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  if (copy_between_layouts(src, dst)) return;
  dispatch_all(dst.dtype(), "copy", [&]<typename D>() {
    dispatch_all(src.dtype(), "copy", [&]<typename S>() {
      cpu::cpu_map<D, S>(kernels::CastForward<D, S>{}, dst, {&src});
    });
  });
}

void CpuBackend::unary(UnaryOp op, const UnaryArgs& args, const Tensor& in, const Tensor& out) {
  dispatch_floating(in.dtype(), op_name(op), [&]<typename T>() {
    kernels::ScalarArgs<T> p{static_cast<T>(args.a), static_cast<T>(args.b)};
    switch (op) {
#define SEPAL_CASE(Name, ...) \
case UnaryOp::Name: cpu::cpu_map<T, T>(kernels::UnaryForward<kernels::Name, T>{p}, out, {&in}); break;
      SEPAL_UNARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
    }
  });
}

void CpuBackend::unary_backward(UnaryOp op, const UnaryArgs& args, const Tensor& grad, const Tensor& in,
                      const Tensor& result, const Tensor& grad_in) {
  dispatch_floating(in.dtype(), op_name(op), [&]<typename T>() {
    kernels::ScalarArgs<T> p{static_cast<T>(args.a), static_cast<T>(args.b)};
    switch (op) {
#define SEPAL_CASE(Name, ...)                                                                            \
case UnaryOp::Name:                                                                                      \
  cpu::cpu_map<T, T, T, T>(kernels::UnaryBackward<kernels::Name, T>{p}, grad_in, {&grad, &in, &result}); \
  break;
      SEPAL_UNARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
    }
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_arithmetic(a.dtype(), op_name(op), [&]<typename T>() {
    switch (op) {
#define SEPAL_CASE(Name, ...) \
case BinaryOp::Name: cpu::cpu_map<T, T, T>(kernels::BinaryForward<kernels::Name, T>{}, out, {&a, &b}); break;
      SEPAL_BINARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
    }
  });
}

void CpuBackend::binary_backward(BinaryOp op, int input, const Tensor& grad, const Tensor& a, const Tensor& b,
                       const Tensor& grad_in) {
  dispatch_floating(a.dtype(), op_name(op), [&]<typename T>() {
    switch (op) {
#define SEPAL_CASE(Name, ...)                                                                         \
case BinaryOp::Name:                                                                                  \
  if (input == 0)                                                                                     \
    cpu::cpu_map<T, T, T, T>(kernels::BinaryBackwardA<kernels::Name, T>{}, grad_in, {&grad, &a, &b}); \
  else                                                                                                \
    cpu::cpu_map<T, T, T, T>(kernels::BinaryBackwardB<kernels::Name, T>{}, grad_in, {&grad, &a, &b}); \
  break;
      SEPAL_BINARY_OPS(SEPAL_CASE)
#undef SEPAL_CASE
    }
  });
}

void CpuBackend::compare(CompareOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_all(a.dtype(), op_name(op), [&]<typename T>() {
    switch (op) {
#define SEPAL_CASE(Name, ...)                                                                \
case CompareOp::Name:                                                                        \
  cpu::cpu_map<bool, T, T>(kernels::CompareForward<kernels::Name, T>{}, out, {&a, &b}); \
  break;
      SEPAL_COMPARE_OPS(SEPAL_CASE)
#undef SEPAL_CASE
    }
  });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_all(a.dtype(), "where", [&]<typename T>() {
    cpu::cpu_map<T, bool, T, T>(kernels::WhereForward<T>{}, out, {&cond, &a, &b});
  });
}

}  // namespace sepal::cpu

namespace sepal {
// Never destroyed, like the CUDA backends: a tensor held by a static object (a benchmark's
// cached workload, a user's global model) is freed during static destruction, possibly after a
// function-local static backend would already be gone.
Backend& cpu_backend() {
  static auto* backend = new cpu::CpuBackend();
  return *backend;
}
}  // namespace sepal
