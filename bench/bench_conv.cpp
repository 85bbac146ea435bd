// bench_conv.cpp: CPU convolution speed against PyTorch (bench/conv_torch.py times the same
// convolution). The shape is a ResNet layer1 3x3 convolution: input [8, 64, 56, 56], weight
// [64, 64, 3, 3], stride 1, padding 1, float32, no bias. One training step of it is the forward
// plus the gradients of the input and of the weight.
//   BM_ConvStep:    y = conv2d(x, w); y.backward(g) through autograd, grads reset each time
//                   (what torch's y = F.conv2d(x, w); y.backward(g) does);
//   BM_ConvStepChannelsLast: the same with x and g channels-last (MemoryFormat::ChannelsLast), as
//                   a channels-last ResNet runs it: oneDNN's nhwc kernels, no activation reorders
//                   (torch's counterpart: conv_torch.py --channels-last);
//   BM_ConvForward: the forward alone;
//   BM_ConvKernels: the three backend kernels called directly (no autograd, no bias);
//   BM_ConvKernels/bf16_{native,emulated}: the same in bf16 autocast precision, with oneDNN's bf16
//                   primitives or float32 primitives on rounded operands (tensor/cpu_settings.h).
// Threads: OpenMP's (oneDNN runs on it); set OMP_NUM_THREADS to compare with torch.set_num_threads.
// BM_ConvStep also reports process_cpu_ms, the CPU time of all threads per step.
//
// The per-layer table (bench/vs_torch.py ops runs the same in PyTorch, parsing the names):
//   BM_Conv/{fwd,bwd_data,bwd_weight}/<b8_224|b128_32>/<layer>/<shape tag>: each backend pass
//       alone, for every distinct ResNet-18 convolution at batch 8, 224 px and batch 128, 32 px
//       (bench_common.h's table); output allocated each time; counter GFLOP/s.
//   BM_BatchNorm/{fwd,bwd}/<shape>: training-mode batch norm over ResNet-18's activation shapes
//       (backend kernels, outputs allocated each time); counter bytes_per_second (fwd reads x
//       twice, writes y once: 3 x 4 bytes/element; bwd reads x, dy twice, writes dx: 5 x 4).
//   BM_MaxPool/{fwd,bwd}/<shape>: the stem's 3x3/2 max pool.
//   BM_AdaptiveAvgPool/{fwd,bwd}/<shape>: the head's global average pool (to 1x1).
//   BM_ConvKernelsCuda/{heuristic,autotuned,tf32}: the three passes on the GPU (skipped without
//       one) under each cuDNN algorithm choice.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <string>
#include <vector>

#include "autograd/nn_functions.h"
#include "bench/bench_common.h"
#include "sepal.h"
#include "tensor/cpu_settings.h"

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

using sepal_bench::process_cpu_ms;
void context(benchmark::State& state) { sepal_bench::thread_context(state); }

void conv_step(benchmark::State& state, MemoryFormat format) {
  Problem p;
  Tensor x = raw::contiguous(p.x, format).detach().requires_grad_(true), w = p.w.detach().requires_grad_(true);
  const Tensor g = raw::contiguous(p.g, format);
  double cpu_ms = 0;
  for (auto _ : state) {
    const double start = process_cpu_ms();
    Tensor y = conv2d(x, w, Tensor(), p.o);
    y.backward(g);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
    w.zero_grad();
    cpu_ms += process_cpu_ms() - start;
  }
  state.counters["process_cpu_ms"] = benchmark::Counter(cpu_ms, benchmark::Counter::kAvgIterations);
  context(state);
}

void BM_ConvStep(benchmark::State& state) { conv_step(state, MemoryFormat::Contiguous); }
void BM_ConvStepChannelsLast(benchmark::State& state) { conv_step(state, MemoryFormat::ChannelsLast); }

void BM_ConvForward(benchmark::State& state) {
  Problem p;
  for (auto _ : state) {
    Tensor y = conv2d(p.x, p.w, Tensor(), p.o);
    benchmark::DoNotOptimize(y.raw_data());
  }
  context(state);
}

void BM_ConvKernels(benchmark::State& state, Precision precision, cpu::Bf16Kernels kernels) {
  Problem p;
  Backend& be = backend_for(Device::cpu());
  Conv2dArgs a;
  a.padding[0] = a.padding[1] = 1;
  a.precision = precision;
  cpu::set_bf16_kernels(kernels);
  Tensor y = empty(p.g.shape()), dx = empty(p.x.shape()), dw = empty(p.w.shape());
  double cpu_ms = 0;
  for (auto _ : state) {
    const double start = process_cpu_ms();
    be.conv2d_forward(p.x, p.w, y, a);
    be.conv2d_backward_input(p.g, p.w, dx, a);
    be.conv2d_backward_weight(p.g, p.x, dw, a);
    cpu_ms += process_cpu_ms() - start;
  }
  cpu::set_bf16_kernels(cpu::Bf16Kernels::Auto);
  state.counters["process_cpu_ms"] = benchmark::Counter(cpu_ms, benchmark::Counter::kAvgIterations);
  context(state);
}


// ---- the per-layer table: every distinct ResNet-18 convolution, pass by pass ----
enum class ConvPass { Forward, BackwardData, BackwardWeight };

void BM_ConvPass(benchmark::State& state, const sepal_bench::ConvShape& s, ConvPass pass) {
  Generator gen(3);
  Tensor x = randn({s.n, s.c, s.h, s.w}, DType::Float32, &gen);
  Tensor w = randn({s.k, s.c, s.r, s.r}, DType::Float32, &gen);
  Tensor g = randn({s.n, s.k, s.out_h(), s.out_w()}, DType::Float32, &gen);
  Conv2dArgs a;
  a.stride[0] = a.stride[1] = s.s;
  a.padding[0] = a.padding[1] = s.p;
  Backend& be = backend_for(Device::cpu());
  auto run = [&] {
    if (pass == ConvPass::Forward) {
      Tensor y = empty(g.shape());
      be.conv2d_forward(x, w, y, a);
    } else if (pass == ConvPass::BackwardData) {
      Tensor dx = empty(x.shape());
      be.conv2d_backward_input(g, w, dx, a);
    } else {
      Tensor dw = empty(w.shape());
      be.conv2d_backward_weight(g, x, dw, a);
    }
  };
  run();  // creates the oneDNN primitive outside the timing
  for (auto _ : state) run();
  state.counters["GFLOP/s"] = benchmark::Counter(s.flops() * 1e-9 * static_cast<double>(state.iterations()),
                                                 benchmark::Counter::kIsRate);
  state.counters["uses"] = s.uses;
  context(state);
}

void BM_BatchNorm(benchmark::State& state, Shape shape, bool backward) {
  Generator gen(4);
  const int64_t C = shape[1];
  Tensor x = randn(shape, DType::Float32, &gen), dy = randn(shape, DType::Float32, &gen);
  Tensor w = ones({C}), b = zeros({C}), rm = zeros({C}), rv = ones({C});
  Tensor mean = empty({C}), invstd = empty({C}), y = empty(shape);
  Backend& be = backend_for(Device::cpu());
  const BatchNormArgs args{true, 0.1, 1e-5};
  be.batch_norm_forward(x, w, b, rm, rv, y, mean, invstd, args);
  for (auto _ : state) {
    if (!backward) {
      Tensor out = empty(shape), m = empty({C}), is = empty({C});
      be.batch_norm_forward(x, w, b, rm, rv, out, m, is, args);
    } else {
      Tensor dx = empty(shape), dw = empty({C}), db = empty({C});
      be.batch_norm_backward(dy, x, w, mean, invstd, dx, dw, db, true, Tensor());
    }
  }
  state.SetBytesProcessed(state.iterations() * x.numel() * 4 * (backward ? 5 : 3));
  context(state);
}

void BM_MaxPool(benchmark::State& state, Shape shape, bool backward) {
  Generator gen(5);
  Tensor x = randn(shape, DType::Float32, &gen);
  Pool2dArgs a;
  a.kernel[0] = a.kernel[1] = 3;
  a.stride[0] = a.stride[1] = 2;
  a.padding[0] = a.padding[1] = 1;
  const Shape out_shape{shape[0], shape[1], (shape[2] - 1) / 2 + 1, (shape[3] - 1) / 2 + 1};
  Tensor y = empty(out_shape), idx = empty(out_shape, DType::Int64), g = randn(out_shape, DType::Float32, &gen);
  Backend& be = backend_for(Device::cpu());
  be.max_pool2d_forward(x, y, idx, a);
  for (auto _ : state) {
    if (!backward) {
      Tensor out = empty(out_shape), i = empty(out_shape, DType::Int64);
      be.max_pool2d_forward(x, out, i, a);
    } else {
      Tensor dx = empty(shape);
      be.max_pool2d_backward(g, idx, dx);
    }
  }
  context(state);
}

// Adaptive average pooling to 1x1 (ResNet's head), forward or backward.
void BM_AdaptiveAvgPool(benchmark::State& state, Shape shape, bool backward) {
  Generator gen(6);
  Tensor x = randn(shape, DType::Float32, &gen);
  const Shape out_shape{shape[0], shape[1], 1, 1};
  Tensor g = randn(out_shape, DType::Float32, &gen);
  Backend& be = backend_for(Device::cpu());
  for (auto _ : state) {
    if (!backward) {
      Tensor y = empty(out_shape);
      be.adaptive_avg_pool2d_forward(x, y);
    } else {
      Tensor dx = empty(shape);
      be.adaptive_avg_pool2d_backward(g, dx);
    }
  }
  context(state);
}

std::string shape_tag(const Shape& s) {
  std::string t;
  for (int d = 0; d < 4; ++d) {
    t += "nchw"[d];
    t += std::to_string(s[d]);
  }
  return t;
}

void register_layer_table() {
  const std::pair<const char*, ConvPass> passes[] = {
      {"fwd", ConvPass::Forward}, {"bwd_data", ConvPass::BackwardData}, {"bwd_weight", ConvPass::BackwardWeight}};
  const struct {
    const char* tag;
    int64_t n, size;
  } inputs[] = {{"b8_224", 8, 224}, {"b128_32", 128, 32}};
  for (const auto& in : inputs)
    for (const sepal_bench::ConvShape& s : sepal_bench::resnet18_convs(in.n, in.size))
      for (const auto& [pass_name, pass] : passes) {
        std::string name = "BM_Conv/";  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "..." + std::string
        name += pass_name;
        name += "/";
        name += in.tag;
        name += "/" + s.layer + "/" + s.tag();
        benchmark::RegisterBenchmark(name.c_str(), [s, pass = pass](benchmark::State& st) { BM_ConvPass(st, s, pass); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
  // BatchNorm over each activation shape of ResNet-18 at batch 8, 224 px and batch 128, 32 px.
  const Shape bn_shapes[] = {{8, 64, 112, 112}, {8, 64, 56, 56},  {8, 128, 28, 28},  {8, 256, 14, 14},
                             {8, 512, 7, 7},    {128, 64, 16, 16}, {128, 64, 8, 8},   {128, 128, 4, 4},
                             {128, 256, 2, 2},  {128, 512, 1, 1}};
  for (const Shape& shape : bn_shapes)
    for (const bool backward : {false, true}) {
      std::string name = "BM_BatchNorm/";
      name += backward ? "bwd/" : "fwd/";
      name += shape_tag(shape);
      benchmark::RegisterBenchmark(name.c_str(), [shape, backward](benchmark::State& st) { BM_BatchNorm(st, shape, backward); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  for (const Shape& shape : {Shape{8, 64, 112, 112}, Shape{128, 64, 16, 16}})
    for (const bool backward : {false, true}) {
      std::string name = "BM_MaxPool/";
      name += backward ? "bwd/" : "fwd/";
      name += shape_tag(shape);
      benchmark::RegisterBenchmark(name.c_str(), [shape, backward](benchmark::State& st) { BM_MaxPool(st, shape, backward); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  for (const Shape& shape : {Shape{8, 512, 7, 7}, Shape{128, 512, 1, 1}})
    for (const bool backward : {false, true}) {
      std::string name = "BM_AdaptiveAvgPool/";
      name += backward ? "bwd/" : "fwd/";
      name += shape_tag(shape);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [shape, backward](benchmark::State& st) { BM_AdaptiveAvgPool(st, shape, backward); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
}

// ---- CUDA (skipped without a device): the three passes of the same convolution through cuDNN,
// under each algorithm choice: cuDNN's heuristic ranking (the default), autotuned
// (set_cudnn_benchmark: every algorithm timed once, the fastest kept) and TF32 allowed. Counter
// GFLOP/s over the three passes. gpu-check.sh compares with bench/gpu_torch.py's conv.
void BM_ConvKernelsCuda(benchmark::State& state, bool autotune, bool tf32) {
  if (!cuda_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const Device dev = Device::cuda();
  Problem p;
  Tensor x = p.x.to(dev), w = p.w.to(dev), g = p.g.to(dev);
  Tensor y = empty(g.shape(), TensorOptions().device(dev)), dx = empty(x.shape(), TensorOptions().device(dev));
  Tensor dw = empty(w.shape(), TensorOptions().device(dev));
  Conv2dArgs a;
  a.padding[0] = a.padding[1] = 1;
  cuda::set_cudnn_benchmark(autotune);
  cuda::set_allow_tf32(tf32);
  Backend& be = backend_for(dev);
  auto run = [&] {
    be.conv2d_forward(x, w, y, a);
    be.conv2d_backward_input(g, w, dx, a);
    be.conv2d_backward_weight(g, x, dw, a);
  };
  run();  // plans (and in autotune mode the timing of every algorithm) outside the measurement
  be.synchronize();
  for (auto _ : state) {
    run();
    be.synchronize();
  }
  cuda::set_cudnn_benchmark(false);
  cuda::set_allow_tf32(false);
  const double flops = 3.0 * 2.0 * 8 * 64 * 64 * 9 * 56 * 56;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

// Each repetition times single steps; the minimum over repetitions is the least-disturbed time on
// a shared machine, the median the typical one (conv_torch.py prints both likewise).
using sepal_bench::min_of;
BENCHMARK(BM_ConvStep)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(40)
    ->ComputeStatistics("min", min_of)->ReportAggregatesOnly();
BENCHMARK(BM_ConvStepChannelsLast)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(40)
    ->ComputeStatistics("min", min_of)->ReportAggregatesOnly();
BENCHMARK(BM_ConvForward)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(40)
    ->ComputeStatistics("min", min_of)->ReportAggregatesOnly();
BENCHMARK_CAPTURE(BM_ConvKernels, fp32, Precision::Float32, cpu::Bf16Kernels::Auto)->Unit(benchmark::kMillisecond)
    ->UseRealTime()->Iterations(1)->Repetitions(40)->ComputeStatistics("min", min_of)->ReportAggregatesOnly();
BENCHMARK_CAPTURE(BM_ConvKernels, bf16_native, Precision::BFloat16, cpu::Bf16Kernels::Native)
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(40)
    ->ComputeStatistics("min", min_of)->ReportAggregatesOnly();
BENCHMARK_CAPTURE(BM_ConvKernels, bf16_emulated, Precision::BFloat16, cpu::Bf16Kernels::Emulated)
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(40)
    ->ComputeStatistics("min", min_of)->ReportAggregatesOnly();
BENCHMARK_CAPTURE(BM_ConvKernelsCuda, heuristic, false, false)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ConvKernelsCuda, autotuned, true, false)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ConvKernelsCuda, tf32, false, true)->Unit(benchmark::kMicrosecond)->UseRealTime();

int main(int argc, char** argv) {
  register_layer_table();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
