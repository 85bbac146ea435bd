// bench_step.cpp: the whole ResNet-18 step on the CPU (and on CUDA when a device is present), as
// the flowers trainer runs it: the head is Sequential(Linear(512, 102), LogSoftmax(1)) trained
// with NLLLoss and Adam (lr 1e-3, the fused kernel); one step = forward, loss, backward,
// opt.step(), opt.zero_grad(). bench/vs_torch.py runs the same workloads in PyTorch.
//   BM_Step/finetune/b8_224      every parameter trains, the model in train mode (batch statistics)
//   BM_Step/feature_extract/b8_224
//                                only the head trains; the frozen backbone runs in eval mode
//                                (BatchNorm uses its running statistics) and records no graph
//   BM_Step/eval/b8_224          the forward alone under NoGradGuard, eval mode (validation)
//   BM_Step/finetune/b128_32     finetune on 32 px images, batch 128 (CIFAR-sized)
//   BM_Step/{eval,feature_extract,finetune}_unfused/b8_224
//                                the same with Conv+BatchNorm folding and BatchNorm+ReLU fusion off
//                                (nn::set_conv_bn_folding), the baseline their speed-up is read
//                                against in the same run
//   BM_Step/{finetune,feature_extract,eval}_nchw/b8_224, finetune_nchw/b128_32
//                                the same with channels-last activations off (nn::set_channels_last):
//                                NCHW everywhere, oneDNN reordering around every convolution
//   BM_Step/<workload>/bf16      the same under bf16 autocast (autograd/autocast.h: convolutions and
//                                matmuls in bfloat16, float32 accumulation, everything else float32)
//   BM_StepCuda/...              the same on CUDA (skipped without a device), plus finetune at
//                                batch 64 and 256, 224 px, in float32, with TF32 (/tf32) and in bf16
//                                (/bf16)
// Each repetition times one step (Iterations(1)); run with --benchmark_repetitions=10 and read
// the median. The model, optimizer and batch of each workload are built once per process and
// warmed up with two steps (oneDNN primitives created, allocator cache filled, Adam state made).
// Counters: images/s (items_per_second), conv_GFLOP/s (the convolution FLOPs of the step over its
// time: 3 passes per convolution when training, minus conv1's unneeded input gradient) and
// process_cpu_ms (CPU time of all threads per step).
//
// Profile instead of benchmarking: `bench_step --profile N [--workload finetune/b8_224] [--device
// cpu|cuda] [--precision fp32|bf16]` builds the workload (two warm-up steps), runs N steps under a
// profile::Session and prints the time per op kind and per layer (tensor/profiler.h), then exits
// without running any benchmark, so the benchmark timings never run with the profiler on.
// bench/profile_torch.py prints PyTorch's profile of the same workload in the same format and
// joins the two.
#include <benchmark/benchmark.h>

#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autograd/autocast.h"
#include "bench/bench_common.h"
#include "sepal.h"

namespace {

using namespace sepal;
using sepal_bench::process_cpu_ms;

enum class Mode { Finetune, FeatureExtract, Eval };

struct Workload {
  std::shared_ptr<nn::ResNet> model;
  std::unique_ptr<optim::Adam> opt;
  Tensor images, labels;
  Mode mode;
  Precision precision;
  double conv_flops = 0;  // per step

  Workload(Mode m, int64_t batch, int64_t size, Device device, Precision p) : mode(m), precision(p) {
    Generator gen(7);
    model = nn::resnet18(1000, &gen);
    model->replace_module("fc", std::make_shared<nn::Sequential>(nn::ModuleList{
                                    std::make_shared<nn::Linear>(512, 102, true, &gen), std::make_shared<nn::LogSoftmax>(1)}));
    model->to(device);
    images = randn({batch, 3, size, size}, TensorOptions().device(device), &gen);
    labels = randint(0, 102, {batch}, TensorOptions(DType::Int64).device(device), &gen);
    const double fwd = sepal_bench::resnet18_forward_conv_flops(batch, size);
    if (mode == Mode::Eval) {
      model->eval();
      conv_flops = fwd;
    } else if (mode == Mode::FeatureExtract) {
      // as the trainer's feature-extract mode: backbone frozen and in eval mode, head trains
      for (auto& [name, p] : model->named_parameters()) {
        Tensor t = p;
        t.requires_grad_(name.rfind("fc.", 0) == 0);
      }
      model->train();
      for (const auto& [name, child] : model->named_children())
        if (name != "fc") child->eval();
      conv_flops = fwd;
    } else {
      model->train();
      const sepal_bench::ConvShape stem = sepal_bench::resnet18_convs(batch, size).front();
      conv_flops = 3 * fwd - stem.flops();  // no input gradient for the images
    }
    if (mode != Mode::Eval) {
      nn::NamedTensors trainable;
      for (auto& [name, p] : model->named_parameters())
        if (p.requires_grad()) trainable.emplace_back(name, p);
      opt = std::make_unique<optim::Adam>(trainable, optim::AdamOptions(1e-3));
    }
    for (int i = 0; i < 2; ++i) step();
  }

  void step() {
    AutocastGuard autocast(precision);
    if (mode == Mode::Eval) {
      NoGradGuard no_grad;
      Tensor out = model->forward(images);
      benchmark::DoNotOptimize(out.raw_data());
    } else {
      nn::NLLLoss criterion;
      Tensor log_probs = model->forward(images);
      Tensor loss;
      {
        const profile::Scope scope("loss");  // a profile books the loss and its backward here
        loss = criterion(log_probs, labels);
      }
      loss.backward();
      opt->step();
      opt->zero_grad();
    }
    backend_for(images.device()).synchronize();
  }
};

// Built on first use and kept, so repetitions (and random interleaving) reuse them.
Workload& workload(Mode mode, int64_t batch, int64_t size, Device device, Precision precision) {
  static std::map<std::string, std::unique_ptr<Workload>> cache;
  const std::string key = std::to_string(static_cast<int>(mode)) + "/" + std::to_string(batch) + "/" +
                          std::to_string(size) + "/" + device.str() + "/" + precision_name(precision) +
                          (nn::conv_bn_folding() ? "" : "/unfused") + (nn::channels_last() ? "" : "/nchw");
  auto& w = cache[key];
  if (!w) w = std::make_unique<Workload>(mode, batch, size, device, precision);
  return *w;
}

void run_step(benchmark::State& state, Mode mode, int64_t batch, int64_t size, Device device, Precision precision,
              bool tf32 = false, bool fold = true, bool channels_last = true) {
  if (device.is_cuda() && !cuda_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  cuda::set_allow_tf32(tf32);
  nn::set_conv_bn_folding(fold);
  nn::set_channels_last(channels_last);
  Workload& w = workload(mode, batch, size, device, precision);
  double cpu_ms = 0;
  for (auto _ : state) {
    const double start = process_cpu_ms();
    w.step();
    cpu_ms += process_cpu_ms() - start;
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["conv_GFLOP/s"] =
      benchmark::Counter(w.conv_flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["process_cpu_ms"] = benchmark::Counter(cpu_ms, benchmark::Counter::kAvgIterations);
  sepal_bench::thread_context(state);
  cuda::set_allow_tf32(false);
  nn::set_conv_bn_folding(true);
  nn::set_channels_last(true);
}

struct Spec {
  const char* name;
  Mode mode;
  int64_t batch, size;
  bool fold = true;           // false: Conv+BatchNorm folding off, the baseline of the folded workloads
  bool channels_last = true;  // false: NCHW activations, the baseline of channels-last
};
const std::vector<Spec>& step_specs() {
  static const std::vector<Spec> specs{{"finetune/b8_224", Mode::Finetune, 8, 224},
                                       {"feature_extract/b8_224", Mode::FeatureExtract, 8, 224},
                                       {"eval/b8_224", Mode::Eval, 8, 224},
                                       {"finetune/b128_32", Mode::Finetune, 128, 32},
                                       {"feature_extract_unfused/b8_224", Mode::FeatureExtract, 8, 224, false},
                                       {"eval_unfused/b8_224", Mode::Eval, 8, 224, false},
                                       {"finetune_unfused/b8_224", Mode::Finetune, 8, 224, false},
                                       {"finetune_nchw/b8_224", Mode::Finetune, 8, 224, true, false},
                                       {"feature_extract_nchw/b8_224", Mode::FeatureExtract, 8, 224, true, false},
                                       {"eval_nchw/b8_224", Mode::Eval, 8, 224, true, false},
                                       {"finetune_nchw/b128_32", Mode::Finetune, 128, 32, true, false}};
  return specs;
}

void register_all() {
  for (const Spec& s : step_specs())
    for (const bool cuda : {false, true})
      for (const Precision precision : {Precision::Float32, Precision::BFloat16}) {
        const std::string name = std::string(cuda ? "BM_StepCuda/" : "BM_Step/") + s.name +
                                 (precision == Precision::BFloat16 ? "/bf16" : "");
        const Device device = cuda ? Device::cuda() : Device::cpu();
        benchmark::RegisterBenchmark(name.c_str(), [s, device, precision](benchmark::State& st) {
          run_step(st, s.mode, s.batch, s.size, device, precision, false, s.fold, s.channels_last);
        })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Iterations(1)
            ->ComputeStatistics("min", sepal_bench::min_of);
      }
  // GPU-sized finetune steps (the PyTorch comparison in bench/gpu_torch.py runs the same), with
  // float32 as on the CPU, with TF32 allowed and in bf16.
  for (const int64_t batch : {64, 256})
    for (const char* variant : {"", "/tf32", "/bf16"}) {
      const std::string name = "BM_StepCuda/finetune/b" + std::to_string(batch) + "_224" + variant;
      const bool tf32 = std::string(variant) == "/tf32";
      const Precision precision = std::string(variant) == "/bf16" ? Precision::BFloat16 : Precision::Float32;
      benchmark::RegisterBenchmark(name.c_str(), [batch, tf32, precision](benchmark::State& st) {
        run_step(st, Mode::Finetune, batch, 224, Device::cuda(), precision, tf32);
      })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->Iterations(1)
          ->ComputeStatistics("min", sepal_bench::min_of);
    }
}

// --profile N [--workload W] [--device D] [--precision P]: prints the profile of N steps of W;
// returns the exit status.
int profile_main(int argc, char** argv) {
  int64_t steps = 0;
  std::string name = "finetune/b8_224", device = "cpu", precision = "fp32";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--profile" && has_value) steps = std::atoll(argv[++i]);
    else if (a == "--workload" && has_value) name = argv[++i];
    else if (a == "--device" && has_value) device = argv[++i];
    else if (a == "--precision" && has_value) precision = argv[++i];
    else {
      std::cerr << "bench_step --profile: unknown argument '" << a
                << "' (usage: bench_step --profile N [--workload NAME] [--device cpu|cuda] [--precision fp32|bf16])\n";
      return 2;
    }
  }
  const Spec* spec = nullptr;
  for (const Spec& s : step_specs())
    if (name == s.name) spec = &s;
  if (steps < 1 || !spec) {
    std::cerr << "bench_step --profile: need N >= 1 and a workload of finetune/b8_224, feature_extract/b8_224, "
                 "eval/b8_224, finetune/b128_32 (got N = " << steps << ", workload '" << name << "')\n";
    return 2;
  }
  nn::set_conv_bn_folding(spec->fold);  // the _unfused workloads profile the modules one by one
  nn::set_channels_last(spec->channels_last);
  Workload& w = workload(spec->mode, spec->batch, spec->size, Device::parse(device), parse_precision(precision));
  profile::Session session;
  for (int64_t i = 0; i < steps; ++i) w.step();
  const profile::Profile p = session.finish(steps);
  std::cout << "sepal profile: BM_Step/" << name << " on " << device << ", " << precision << ", " << steps
            << " steps, " << omp_get_max_threads() << " threads\n\n"
            << profile::format_by_kind(p) << "\n" << profile::format_by_layer(p);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--profile") == 0) return profile_main(argc, argv);
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  benchmark::AddCustomContext("cuda_devices", std::to_string(cuda_device_count()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
