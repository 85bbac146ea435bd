// bench_core.cpp: the core speed goals. c = a + b on 16M floats against copying the same bytes,
// and a 1024x1024 float32 matmul against OpenBLAS's own cblas_sgemm (bench/core_ratios.py
// turns the numbers into the two ratios and checks them). Unary ops (relu, exp, relu's backward)
// run through the same elementwise loop, for before/after comparisons of that loop.
//
// "Speed" of a memory-bound op is bytes moved per second, counting the bytes the op must read
// and write once: a copy of N floats moves 2 x 4N bytes (read src, write dst), c = a + b moves
// 3 x 4N bytes (read a and b, write c). Both are reported as bytes_per_second. Four copies are
// measured (std::memcpy on one thread, one memcpy per OpenMP thread, a vectorised OpenMP loop,
// an OpenMP loop of streaming stores); the fastest of them is the reference. Matmul speed is
// 2 n^3 flops per product per second (counter FLOP).
//
// Both sides use the same threads: OpenMP (sepal's elementwise loops, the parallel copy) and
// OpenBLAS (sepal's matmul, the direct sgemm) each default to every core; the counts are printed
// in the benchmark context. All times are wall-clock (UseRealTime), as the work is multithreaded.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
#define SEPAL_BENCH_STREAMING 1
#endif

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "sepal.h"

namespace {

constexpr int64_t kElems = int64_t(16) << 20;  // 16M floats = 64 MiB
constexpr int64_t kBytes = kElems * int64_t(sizeof(float));
constexpr int64_t kMatN = 1024;

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], FreeDeleter>;

// A 64-byte-aligned buffer of n floats, every page touched (no page faults while timed).
Buffer make_buffer(int64_t n, float value) {
  Buffer b(static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(n) * sizeof(float))));
  for (int64_t i = 0; i < n; ++i) b[i] = value + static_cast<float>(i % 1024) * 1e-3f;
  return b;
}

// 2 n^3 flops per product, shown as FLOP per second (e.g. "FLOP=200G/s"; raw FLOP/s in JSON).
benchmark::Counter matmul_flops_rate() {
  const double flops = 2.0 * double(kMatN) * double(kMatN) * double(kMatN);
  return benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void set_matmul_counters(benchmark::State& state) {
  state.counters["FLOP"] = matmul_flops_rate();
  state.counters["threads"] = omp_get_max_threads();
}

// ---- memory-bound: copy vs c = a + b ----

void BM_Copy16M(benchmark::State& state) {
  Buffer src = make_buffer(kElems, 1.0f), dst = make_buffer(kElems, 0.0f);
  for (auto _ : state) {
    std::memcpy(dst.get(), src.get(), kBytes);
    benchmark::DoNotOptimize(dst.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * kBytes);
  state.counters["threads"] = 1;
}
BENCHMARK(BM_Copy16M)->UseRealTime()->Unit(benchmark::kMillisecond);

// The same copy split into one contiguous memcpy per OpenMP thread.
void BM_CopyOmp16M(benchmark::State& state) {
  Buffer src = make_buffer(kElems, 1.0f), dst = make_buffer(kElems, 0.0f);
  float* d = dst.get();
  const float* s = src.get();
  for (auto _ : state) {
#pragma omp parallel
    {
      const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t chunk = (kElems + threads - 1) / threads;
      const int64_t begin = std::min(kElems, chunk * t), end = std::min(kElems, begin + chunk);
      if (begin < end) std::memcpy(d + begin, s + begin, static_cast<size_t>(end - begin) * sizeof(float));
    }
    benchmark::DoNotOptimize(d);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * kBytes);
  state.counters["threads"] = omp_get_max_threads();
}
BENCHMARK(BM_CopyOmp16M)->UseRealTime()->Unit(benchmark::kMillisecond);

// The same copy as a plain vectorised loop over all OpenMP threads (ordinary cached stores, where
// glibc's memcpy switches to non-temporal stores for blocks this large).
__attribute__((optimize("no-tree-loop-distribute-patterns")))  // keep GCC from calling memcpy
void copy_loop(float* __restrict d, const float* __restrict s, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) d[i] = s[i];
}

void BM_CopyLoop16M(benchmark::State& state) {
  Buffer src = make_buffer(kElems, 1.0f), dst = make_buffer(kElems, 0.0f);
  for (auto _ : state) {
    copy_loop(dst.get(), src.get(), kElems);
    benchmark::DoNotOptimize(dst.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * kBytes);
  state.counters["threads"] = omp_get_max_threads();
}
BENCHMARK(BM_CopyLoop16M)->UseRealTime()->Unit(benchmark::kMillisecond);

// The same copy with non-temporal (streaming) stores over all OpenMP threads: no read of the
// destination lines before they are written, the fastest copy on many x86 machines.
#ifdef SEPAL_BENCH_STREAMING
void copy_stream(float* d, const float* s, int64_t n) {
#pragma omp parallel
  {
#if defined(__AVX512F__)
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; i += 16) _mm512_stream_ps(d + i, _mm512_load_ps(s + i));
#elif defined(__AVX__)
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; i += 8) _mm256_stream_ps(d + i, _mm256_load_ps(s + i));
#else
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; i += 4) _mm_stream_ps(d + i, _mm_load_ps(s + i));
#endif
    _mm_sfence();  // each thread drains its own write-combining buffers
  }
}
#endif

void BM_CopyStream16M(benchmark::State& state) {
#ifndef SEPAL_BENCH_STREAMING
  state.SkipWithError("streaming stores are only written for x86-64 here");
  return;
#else
  Buffer src = make_buffer(kElems, 1.0f), dst = make_buffer(kElems, 0.0f);
  for (auto _ : state) {
    copy_stream(dst.get(), src.get(), kElems);  // kElems is a multiple of 16, buffers 64-aligned
    benchmark::DoNotOptimize(dst.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * kBytes);
  state.counters["threads"] = omp_get_max_threads();
#endif
}
BENCHMARK(BM_CopyStream16M)->UseRealTime()->Unit(benchmark::kMillisecond);

// c = a + b as users write it: a new c every iteration (the caching allocator recycles the
// previous c's block, so steady state allocates nothing).
void BM_Add16M(benchmark::State& state) {
  sepal::Generator gen(1);
  sepal::Tensor a = sepal::rand({kElems}, {}, &gen), b = sepal::rand({kElems}, {}, &gen);
  { sepal::Tensor warm = a + b; }  // first touch of the output block happens outside the timing
  for (auto _ : state) {
    sepal::Tensor c = a + b;
    benchmark::DoNotOptimize(c.raw_data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 3 * kBytes);
  state.counters["threads"] = omp_get_max_threads();
}
BENCHMARK(BM_Add16M)->UseRealTime()->Unit(benchmark::kMillisecond);

// Unary ops through the same loop (tensor/cpu/loops.h): relu is memory-bound like add (2 x 4N
// bytes), exp adds math per element; relu's backward reads grad, x and y (4 x 4N bytes).
template <typename F>
void run_unary(benchmark::State& state, int64_t tensors_moved, F op) {
  sepal::Generator gen(3);
  sepal::Tensor x = sepal::randn({kElems}, {}, &gen);
  { sepal::Tensor warm = op(x); }
  for (auto _ : state) {
    sepal::Tensor y = op(x);
    benchmark::DoNotOptimize(y.raw_data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * tensors_moved * kBytes);
  state.counters["threads"] = omp_get_max_threads();
}
void BM_Relu16M(benchmark::State& state) { run_unary(state, 2, [](const sepal::Tensor& x) { return x.relu(); }); }
void BM_Exp16M(benchmark::State& state) { run_unary(state, 2, [](const sepal::Tensor& x) { return x.exp(); }); }
void BM_ReluBackward16M(benchmark::State& state) {
  run_unary(state, 4, [](const sepal::Tensor& x) {
    return sepal::raw::unary_backward(sepal::UnaryOp::Relu, x, x, x);  // grad = x, result = x
  });
}
BENCHMARK(BM_Relu16M)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Exp16M)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReluBackward16M)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- compute-bound: sepal::matmul vs cblas_sgemm ----

void BM_Matmul1024(benchmark::State& state) {
  sepal::Generator gen(2);
  sepal::Tensor a = sepal::randn({kMatN, kMatN}, {}, &gen), b = sepal::randn({kMatN, kMatN}, {}, &gen);
  { sepal::Tensor warm = sepal::matmul(a, b); }
  for (auto _ : state) {
    sepal::Tensor c = sepal::matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
    benchmark::ClobberMemory();
  }
  set_matmul_counters(state);
}
BENCHMARK(BM_Matmul1024)->UseRealTime()->Unit(benchmark::kMillisecond);

// The BLAS library's own speed: row-major C = A B on preallocated buffers.
void BM_Sgemm1024(benchmark::State& state) {
  const int n = static_cast<int>(kMatN);
  Buffer a = make_buffer(kMatN * kMatN, 0.5f), b = make_buffer(kMatN * kMatN, -0.25f),
         c = make_buffer(kMatN * kMatN, 0.0f);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.get(), n, b.get(), n, 0.0f, c.get(), n);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.get(), n, b.get(), n, 0.0f, c.get(), n);
    benchmark::DoNotOptimize(c.get());
    benchmark::ClobberMemory();
  }
  set_matmul_counters(state);
}
BENCHMARK(BM_Sgemm1024)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- CUDA (skipped without a device) ----
// Each iteration ends with a device synchronize so wall time covers the kernel.

void BM_AddCuda16M(benchmark::State& state) {
  if (!sepal::cuda_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const sepal::Device dev = sepal::Device::cuda();
  sepal::Generator gen(1);
  sepal::Tensor a = sepal::rand({kElems}, dev, &gen), b = sepal::rand({kElems}, dev, &gen);
  sepal::Backend& backend = sepal::backend_for(dev);
  { sepal::Tensor warm = a + b; }
  backend.synchronize();
  for (auto _ : state) {
    sepal::Tensor c = a + b;
    backend.synchronize();
    benchmark::DoNotOptimize(c.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * 3 * kBytes);
}
BENCHMARK(BM_AddCuda16M)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_MatmulCuda1024(benchmark::State& state) {
  if (!sepal::cuda_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const sepal::Device dev = sepal::Device::cuda();
  sepal::Generator gen(2);
  sepal::Tensor a = sepal::randn({kMatN, kMatN}, dev, &gen), b = sepal::randn({kMatN, kMatN}, dev, &gen);
  sepal::Backend& backend = sepal::backend_for(dev);
  { sepal::Tensor warm = sepal::matmul(a, b); }
  backend.synchronize();
  for (auto _ : state) {
    sepal::Tensor c = sepal::matmul(a, b);
    backend.synchronize();
    benchmark::DoNotOptimize(c.raw_data());
  }
  state.counters["FLOP"] = matmul_flops_rate();
}
BENCHMARK(BM_MatmulCuda1024)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
  benchmark::AddCustomContext("cuda_devices", std::to_string(sepal::cuda_device_count()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
