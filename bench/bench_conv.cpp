// bench_conv.cpp: CPU convolution speed against PyTorch (bench/conv_torch.py times the same
// convolution). The shape is a ResNet layer1 3x3 convolution: input [8, 64, 56, 56], weight
// [64, 64, 3, 3], stride 1, padding 1, float32, no bias. One training step of it is the forward
// plus the gradients of the input and of the weight.
//   BM_ConvStep:    y = conv2d(x, w); y.backward(g) through autograd, grads reset each time
//                   (what torch's y = F.conv2d(x, w); y.backward(g) does);
//   BM_ConvForward: the forward alone;
//   BM_ConvKernels: the three backend kernels called directly (no autograd, no bias).
// Threads: OpenMP's (oneDNN runs on it); set OMP_NUM_THREADS to compare with torch.set_num_threads.
// BM_ConvStep also reports process_cpu_ms, the CPU time of all threads per step.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <sys/resource.h>

#include <algorithm>
#include <vector>

#include "autograd/nn_functions.h"
#include "sepal.h"

namespace {

using namespace sepal;

struct Problem {
  Tensor x, w, g;
  Conv2dOptions o{{1, 1}, {1, 1}};
  Problem() {
    Generator gen(1);
    x = randn({8, 64, 56, 56}, DType::Float32, &gen);
    w = randn({64, 64, 3, 3}, DType::Float32, &gen);
    g = randn({8, 64, 56, 56}, DType::Float32, &gen);
  }
};

void context(benchmark::State& state) { state.counters["threads"] = omp_get_max_threads(); }

// CPU time of the whole process (every thread), in ms. With OMP_WAIT_POLICY=passive (no spinning
// at barriers) it is the work done, which other load on a shared machine barely changes.
double process_cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec * 1e-3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

void BM_ConvStep(benchmark::State& state) {
  Problem p;
  Tensor x = p.x.detach().requires_grad_(true), w = p.w.detach().requires_grad_(true);
  double cpu_ms = 0;
  for (auto _ : state) {
    const double start = process_cpu_ms();
    Tensor y = conv2d(x, w, Tensor(), p.o);
    y.backward(p.g);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
    w.zero_grad();
    cpu_ms += process_cpu_ms() - start;
  }
  state.counters["process_cpu_ms"] = benchmark::Counter(cpu_ms, benchmark::Counter::kAvgIterations);
  context(state);
}

void BM_ConvForward(benchmark::State& state) {
  Problem p;
  for (auto _ : state) {
    Tensor y = conv2d(p.x, p.w, Tensor(), p.o);
    benchmark::DoNotOptimize(y.raw_data());
  }
  context(state);
}

void BM_ConvKernels(benchmark::State& state) {
  Problem p;
  Backend& be = backend_for(Device::cpu());
  Conv2dArgs a;
  a.padding[0] = a.padding[1] = 1;
  Tensor y = empty(p.g.shape()), dx = empty(p.x.shape()), dw = empty(p.w.shape());
  for (auto _ : state) {
    be.conv2d_forward(p.x, p.w, y, a);
    be.conv2d_backward_input(p.g, p.w, dx, a);
    be.conv2d_backward_weight(p.g, p.x, dw, a);
  }
  context(state);
}

}  // namespace

// Each repetition times single steps; the minimum over repetitions is the least-disturbed time on
// a shared machine, the median the typical one (conv_torch.py prints both likewise).
double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
BENCHMARK(BM_ConvStep)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(40)
    ->ComputeStatistics("min", min_of)->ReportAggregatesOnly();
BENCHMARK(BM_ConvForward)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(40)
    ->ComputeStatistics("min", min_of)->ReportAggregatesOnly();
BENCHMARK(BM_ConvKernels)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(40)
    ->ComputeStatistics("min", min_of)->ReportAggregatesOnly();
BENCHMARK_MAIN();
