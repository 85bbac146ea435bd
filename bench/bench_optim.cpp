// bench_optim.cpp: the Adam step over ResNet-18's 11,689,512 parameters (62 tensors, the
// named_parameters of nn::resnet18() with every gradient set), fused (one multi-tensor kernel)
// versus per tensor (raw ops, about 14 kernels per tensor, PyTorch's single-tensor algorithm),
// on the CPU and on CUDA (the "Cuda" benchmarks skip without a device); plus the memory-traffic
// reference, one OpenMP pass over arrays of the same total size that reads four and writes
// three (what any Adam step must move). bench/optim_vs_torch.py turns the numbers into ratios
// and times torch.optim.Adam(foreach=True) on the same shapes.
//
// Speed = bytes per second at 28 bytes per parameter (read param, grad, exp_avg, exp_avg_sq;
// write param, exp_avg, exp_avg_sq; 4 bytes each), reported as bytes_per_second.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "sepal.h"

namespace {

constexpr int64_t kBytesPerParam = 28;

struct Model {
  std::shared_ptr<sepal::nn::ResNet> net;
  sepal::nn::NamedTensors params;
  int64_t count = 0;
};

// ResNet-18's parameters on `device`, each with a small random gradient.
Model resnet18_with_grads(sepal::Device device) {
  Model m;
  sepal::Generator gen(5);
  m.net = sepal::nn::resnet18(1000, &gen);
  m.net->to(device);
  m.params = m.net->named_parameters();
  for (auto& [name, p] : m.params) {
    p.set_grad(sepal::raw::unary(sepal::UnaryOp::MulScalar, sepal::randn(p.shape(), device, &gen), {1e-3}));
    m.count += p.numel();
  }
  return m;
}

void set_counters(benchmark::State& state, const Model& m) {
  state.SetBytesProcessed(state.iterations() * kBytesPerParam * m.count);
  state.counters["params"] = static_cast<double>(m.count);
  state.counters["tensors"] = static_cast<double>(m.params.size());
  state.counters["threads"] = omp_get_max_threads();
}

void adam_step(benchmark::State& state, sepal::Device device, sepal::optim::AdamImpl impl) {
  if (device.is_cuda() && !sepal::cuda_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  Model m = resnet18_with_grads(device);
  sepal::optim::Adam opt(m.params, sepal::optim::AdamOptions(1e-3));
  opt.set_implementation(impl);
  sepal::Backend& backend = sepal::backend_for(device);
  opt.step();  // creates the state (first touch of exp_avg / exp_avg_sq) outside the timing
  backend.synchronize();
  for (auto _ : state) {
    opt.step();
    backend.synchronize();
  }
  set_counters(state, m);
}

void BM_AdamFused_ResNet18(benchmark::State& s) { adam_step(s, sepal::Device::cpu(), sepal::optim::AdamImpl::Fused); }
void BM_AdamPerTensor_ResNet18(benchmark::State& s) {
  adam_step(s, sepal::Device::cpu(), sepal::optim::AdamImpl::PerTensor);
}
void BM_AdamFusedCuda_ResNet18(benchmark::State& s) {
  adam_step(s, sepal::Device::cuda(), sepal::optim::AdamImpl::Fused);
}
void BM_AdamPerTensorCuda_ResNet18(benchmark::State& s) {
  adam_step(s, sepal::Device::cuda(), sepal::optim::AdamImpl::PerTensor);
}
BENCHMARK(BM_AdamFused_ResNet18)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AdamPerTensor_ResNet18)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AdamFusedCuda_ResNet18)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AdamPerTensorCuda_ResNet18)->UseRealTime()->Unit(benchmark::kMicrosecond);

// ---- the traffic reference: read 4 arrays, write 3, one parallel vectorised pass ----
struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], FreeDeleter>;

// n floats starting `skew` cache lines into a 64-byte-aligned block, so that the four arrays
// do not share their offset within a 4 KiB page (4K aliasing stalls loads behind stores to
// another array's same offset).
struct SkewedBuffer {
  Buffer block;
  float* data;
};
SkewedBuffer make_buffer(int64_t n, float value, int skew) {
  const int64_t pad = 16 * skew;
  Buffer b(static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>((n + pad + 15) / 16 * 16) * sizeof(float))));
  float* d = b.get() + pad;
#pragma omp parallel for schedule(static)  // first touch by the threads that will use the pages
  for (int64_t i = 0; i < n; ++i) d[i] = value + static_cast<float>(i % 1024) * 1e-6f;
  return {std::move(b), d};
}

void one_pass(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float mi = 0.9f * m[i] + 0.1f * g[i];
    const float vi = 0.999f * v[i] + 0.001f * g[i];
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] - 1e-3f * (mi + vi);
  }
}

void BM_AdamOnePass_ResNet18(benchmark::State& state) {
  Model m;  // only the count: ResNet-18's parameters as one flat array per operand
  m.net = sepal::nn::resnet18();
  m.params = m.net->named_parameters();
  for (const auto& [name, p] : m.params) m.count += p.numel();
  const int64_t n = m.count;
  SkewedBuffer p = make_buffer(n, 1.0f, 0), g = make_buffer(n, 1e-3f, 5), mm = make_buffer(n, 0.0f, 11),
               v = make_buffer(n, 0.0f, 17);
  one_pass(p.data, g.data, mm.data, v.data, n);
  for (auto _ : state) {
    one_pass(p.data, g.data, mm.data, v.data, n);
    benchmark::DoNotOptimize(p.data);
    benchmark::ClobberMemory();
  }
  set_counters(state, m);
}
BENCHMARK(BM_AdamOnePass_ResNet18)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  benchmark::AddCustomContext("cuda_devices", std::to_string(sepal::cuda_device_count()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
