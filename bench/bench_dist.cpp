// bench_dist.cpp: data-parallel training (dist/) under `mpirun -np N bench_dist` (or as one
// process, on the single-process communicator). bench/dist_bench.sh runs it as 1 and 2 ranks and
// prints the comparison; docs/distributed.md has the numbers and the scaling model built on them.
//   BM_AllReduce/<bytes>         Communicator::all_reduce of a float32 buffer of 1, 4, 16 and 64 MiB
//                                (a barrier before each, untimed). Counters: algbw_GBps = bytes /
//                                time, busbw_GBps = algbw * 2(N-1)/N (nccl-tests' bus bandwidth,
//                                comparable across N; 0 with one rank), ranks.
//   BM_ResNet18Step/<b>/<px>     one data-parallel fine-tuning step of ResNet-18 (102 classes, every
//                                parameter trains, BatchNorm in train mode with rank 0's buffers
//                                broadcast, Adam lr 1e-3) on random data, b images of px x px per
//                                rank: before_forward, forward, NLL loss sum, DataParallel::backward
//                                (exact averaging, bucketed all-reduce overlapped with backward),
//                                opt.step, zero_grad. Default {8, 64} and {4, 64}; others with
//                                --steps=8/224,4/224 (read before Google Benchmark's flags).
//                                Counters: images_per_s of the whole job (N * b / step time),
//                                exposed_comm_ms (GradientReducer::last_exposed_seconds: the
//                                all-reduce backward did not hide), grad_MB (10^6 bytes per step), ranks.
// With repetitions, the min aggregate (the least disturbed repetition) joins mean, median and stddev.
// Every rank runs every benchmark; only rank 0 reports (--benchmark_out too). The time of an
// iteration is the mean over the ranks (in whole nanoseconds, so the sum is exact and the same on
// every rank): every rank then sees the same times and runs the same number of iterations, which
// keeps their collectives matched.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "dist/data_parallel.h"
#include "sepal.h"

namespace {

using namespace sepal;
using Clock = std::chrono::steady_clock;
using sepal_bench::min_of;

std::unique_ptr<dist::Communicator> g_comm;

// Seconds since `start`, averaged over the ranks (a collective: every rank calls it).
double mean_seconds_since(Clock::time_point start) {
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  std::vector<double> sum{std::round(ns)};
  g_comm->all_reduce_host(sum);
  return sum[0] * 1e-9 / g_comm->size();
}

void BM_AllReduce(benchmark::State& state) {
  if (g_comm->size() == 1) {
    state.SkipWithError("one rank: the all-reduce is the identity (run under mpirun -np N)");
    return;
  }
  const int64_t bytes = state.range(0);
  const Tensor buffer = zeros({bytes / 4});  // zeros stay zeros however often they are summed
  double seconds = 0;
  for (auto _ : state) {
    g_comm->barrier();
    const auto start = Clock::now();
    g_comm->all_reduce(buffer);
    const double s = mean_seconds_since(start);
    state.SetIterationTime(s);
    seconds += s;
  }
  const int n = g_comm->size();
  const double algbw = static_cast<double>(bytes) * state.iterations() / seconds * 1e-9;
  state.counters["algbw_GBps"] = algbw;
  state.counters["busbw_GBps"] = algbw * 2.0 * (n - 1) / n;
  state.counters["ranks"] = n;
}

struct Step {
  std::shared_ptr<nn::ResNet> model;
  std::unique_ptr<optim::Adam> opt;
  std::unique_ptr<dist::DataParallel> dp;
  Tensor images, labels;
  int64_t grad_bytes = 0;

  Step(int64_t batch, int64_t px) {
    Generator gen(7);
    model = nn::resnet18(1000, &gen);
    model->replace_module("fc", std::make_shared<nn::Sequential>(nn::ModuleList{
                                    std::make_shared<nn::Linear>(512, 102, true, &gen), std::make_shared<nn::LogSoftmax>(1)}));
    model->train();
    opt = std::make_unique<optim::Adam>(model->named_parameters(), optim::AdamOptions(1e-3));
    dp = std::make_unique<dist::DataParallel>(*g_comm, *model);  // takes rank 0's parameters
    Generator data(100 + g_comm->rank());  // each rank its own shard
    images = randn({batch, 3, px, px}, {}, &data);
    labels = randint(0, 102, {batch}, TensorOptions(DType::Int64), &data);
    for (const auto& [name, p] : model->named_parameters()) grad_bytes += p.numel() * p.element_size();
    for (int i = 0; i < 2; ++i) run();  // warm-up: oneDNN primitives, allocator cache, Adam state
  }

  void run() {
    dp->before_forward();
    const Tensor out = (*model)(images);
    const Tensor loss_sum = nll_loss(out, labels, Reduction::Sum);
    const int64_t correct = nn::count_correct(out.detach(), labels);
    if (dp->backward(loss_sum, images.size(0), correct, false).stepped) opt->step();
    opt->zero_grad();
  }
  double exposed_seconds() const { return dp->reducer() ? dp->reducer()->last_exposed_seconds() : 0.0; }
  double overlapped_buckets() const { return dp->reducer() ? static_cast<double>(dp->reducer()->last_overlapped_buckets()) : 0.0; }
};

std::map<std::pair<int64_t, int64_t>, std::unique_ptr<Step>> g_steps;  // built once, kept across runs

void BM_ResNet18Step(benchmark::State& state) {
  const int64_t batch = state.range(0), px = state.range(1);
  auto& step = g_steps[{batch, px}];
  if (!step) step = std::make_unique<Step>(batch, px);
  double seconds = 0, exposed = 0;
  for (auto _ : state) {
    const auto start = Clock::now();
    step->run();
    const double s = mean_seconds_since(start);
    state.SetIterationTime(s);
    seconds += s;
    exposed += step->exposed_seconds();
  }
  const int n = g_comm->size();
  state.counters["images_per_s"] = static_cast<double>(n * batch) * state.iterations() / seconds;
  state.counters["exposed_comm_ms"] = benchmark::Counter(exposed * 1e3, benchmark::Counter::kAvgIterations);
  state.counters["grad_MB"] = step->grad_bytes * 1e-6;
  // buckets whose all-reduce had started when backward ended (of 3 for ResNet-18)
  state.counters["overlapped_buckets"] = step->overlapped_buckets();
  state.counters["ranks"] = n;
}

// Ranks other than 0 run the benchmarks silently.
class NullReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  const std::optional<dist::LaunchInfo> launch = dist::detect_launch();
  g_comm = launch && dist::built_with_mpi() ? dist::make_mpi() : dist::make_single_process();
  const bool root = g_comm->rank() == 0;

  // Our flag (--steps=B/PX,...), and --benchmark_out* only on rank 0 (one writer of the file).
  std::string steps = "8/64,4/64";
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--steps=", 8) == 0) steps = argv[i] + 8;
    else if (root || std::strncmp(argv[i], "--benchmark_out", 15) != 0) args.push_back(argv[i]);
  }
  int nargs = static_cast<int>(args.size());

  for (const int64_t mib : {1, 4, 16, 64})
    benchmark::RegisterBenchmark("BM_AllReduce", BM_AllReduce)
        ->Arg(mib << 20)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->ComputeStatistics("min", min_of);
  auto* step = benchmark::RegisterBenchmark("BM_ResNet18Step", BM_ResNet18Step);
  for (size_t pos = 0; pos < steps.size();) {
    const size_t end = std::min(steps.find(',', pos), steps.size());
    const std::string spec = steps.substr(pos, end - pos);
    const size_t slash = spec.find('/');
    if (slash == std::string::npos) {
      if (root) std::fprintf(stderr, "bench_dist: --steps takes BATCH/PX[,BATCH/PX...], got '%s'\n", steps.c_str());
      return 2;
    }
    step->Args({std::stoll(spec.substr(0, slash)), std::stoll(spec.substr(slash + 1))});
    pos = end + 1;
  }
  step->UseManualTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("min", min_of);

  benchmark::Initialize(&nargs, args.data());
  if (benchmark::ReportUnrecognizedArguments(nargs, args.data())) return 1;
  benchmark::AddCustomContext("ranks", std::to_string(g_comm->size()));
  benchmark::AddCustomContext("backend", g_comm->backend_name());
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  if (root) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    NullReporter quiet;
    benchmark::RunSpecifiedBenchmarks(&quiet);
  }
  benchmark::Shutdown();
  g_steps.clear();  // before the communicator (MPI_Finalize)
  g_comm.reset();
  return 0;
}
