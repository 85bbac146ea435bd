// bench_common.h: helpers shared by the Google Benchmark programs: the CPU time of the process,
// the statistics added to every repetition series, the thread context, and the table of
// ResNet-18's distinct convolutions (which bench_conv times one by one, bench_step counts the
// FLOPs of, and bench/vs_torch.py rebuilds in PyTorch from the benchmark names).
#pragma once
#include <benchmark/benchmark.h>
#include <omp.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sepal_bench {

// CPU time of the whole process (every thread), in ms. With OMP_WAIT_POLICY=passive (no spinning
// at barriers) it is the work done, which other load on a shared machine barely changes.
inline double process_cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec * 1e-3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

inline double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

inline void thread_context(benchmark::State& state) { state.counters["threads"] = omp_get_max_threads(); }

// One convolution of ResNet-18 (no bias, dilation 1, groups 1): input [n, c, h, w], weight
// [k, c, r, r], stride s, padding p; `uses` = how many times one forward runs it.
struct ConvShape {
  std::string layer;  // where it sits: "layer2.0.conv1", or "layer2.3x3" for the repeated 3x3 convs
  int64_t n, c, h, w, k, r, s, p;
  int uses;
  int64_t out_h() const { return (h + 2 * p - r) / s + 1; }
  int64_t out_w() const { return (w + 2 * p - r) / s + 1; }
  // Multiply-adds times 2: the FLOPs of one pass (forward, backward-data and backward-weight each
  // do this many).
  double flops() const { return 2.0 * n * k * out_h() * out_w() * c * r * r; }
  // "n8c64h56w56k128r3s2p1": parsed by bench/vs_torch.py.
  std::string tag() const {
    std::string t = "n";  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "n" + std::string
    for (const auto& [key, v] : {std::pair<const char*, int64_t>{"", n}, {"c", c}, {"h", h}, {"w", w}, {"k", k},
                                 {"r", r}, {"s", s}, {"p", p}}) {
      t += key;
      t += std::to_string(v);
    }
    return t;
  }
};

// The distinct convolutions of ResNet-18 on a batch of n images of size x size.
inline std::vector<ConvShape> resnet18_convs(int64_t n, int64_t size) {
  std::vector<ConvShape> v;
  const int64_t stem = (size + 2 * 3 - 7) / 2 + 1;  // conv1 7x7/2 pad 3
  v.push_back({"conv1", n, 3, size, size, 64, 7, 2, 3, 1});
  int64_t h = (stem + 2 * 1 - 3) / 2 + 1;  // maxpool 3x3/2 pad 1
  v.push_back({"layer1.3x3", n, 64, h, h, 64, 3, 1, 1, 4});
  int64_t c = 64;
  for (int stage = 2; stage <= 4; ++stage) {
    const int64_t k = c * 2, l = stage;
    const std::string name = "layer" + std::to_string(l);
    v.push_back({name + ".0.conv1", n, c, h, h, k, 3, 2, 1, 1});
    v.push_back({name + ".0.downsample", n, c, h, h, k, 1, 2, 0, 1});
    h = (h + 2 - 3) / 2 + 1;
    v.push_back({name + ".3x3", n, k, h, h, k, 3, 1, 1, 3});
    c = k;
  }
  return v;
}

// FLOPs of the convolutions of one ResNet-18 forward (about 3.6 GFLOP, 1.8 G multiply-adds, per 224 px image).
inline double resnet18_forward_conv_flops(int64_t n, int64_t size) {
  double f = 0;
  for (const ConvShape& s : resnet18_convs(n, size)) f += s.flops() * s.uses;
  return f;
}

}  // namespace sepal_bench
