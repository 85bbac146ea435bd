// bench_conv.cpp: CPU convolution speed against PyTorch (bench/conv_torch.py times the same
// convolution). The shape is a ResNet layer1 3x3 convolution: input [8, 64, 56, 56], weight
// [64, 64, 3, 3], stride 1, padding 1, float32, no bias. One training step of it is the forward
// plus the gradients of the input and of the weight.
//   BM_ConvStep:    y = conv2d(x, w); y.backward(g) through autograd, grads reset each time
//                   (what torch's y = F.conv2d(x, w); y.backward(g) does);
//   BM_ConvForward: the forward alone;
//   BM_ConvKernels: the three backend kernels called directly (no autograd, no bias).
// Threads: OpenMP's (oneDNN runs on it); set OMP_NUM_THREADS to compare with torch.set_num_threads.
#include <benchmark/benchmark.h>
#include <omp.h>

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

void BM_ConvStep(benchmark::State& state) {
  Problem p;
  Tensor x = p.x.detach().requires_grad_(true), w = p.w.detach().requires_grad_(true);
  for (auto _ : state) {
    Tensor y = conv2d(x, w, Tensor(), p.o);
    y.backward(p.g);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
    w.zero_grad();
  }
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

BENCHMARK(BM_ConvStep)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_ConvForward)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_ConvKernels)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK_MAIN();
