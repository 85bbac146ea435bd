// cuda_settings.cpp: see cuda_settings.h. Atomics, so any thread may flip a switch.
#include "tensor/cuda_settings.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <string>

#include "tensor/error.h"

namespace sepal::cuda {

namespace {
std::atomic<bool> g_allow_tf32{false};
std::atomic<bool> g_cudnn_benchmark{false};
}  // namespace

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow, std::memory_order_relaxed); }
bool allow_tf32() { return g_allow_tf32.load(std::memory_order_relaxed); }
void set_cudnn_benchmark(bool enable) { g_cudnn_benchmark.store(enable, std::memory_order_relaxed); }
bool cudnn_benchmark() { return g_cudnn_benchmark.load(std::memory_order_relaxed); }

size_t cache_limit_from_env(const char* value) {
  if (!value || !*value) return std::numeric_limits<size_t>::max();
  const std::string text(value);
  const bool digits = text.find_first_not_of("0123456789") == std::string::npos;
  errno = 0;
  const unsigned long long mib = digits ? std::strtoull(value, nullptr, 10) : 0;
  if (!digits || errno != 0 || mib > (std::numeric_limits<size_t>::max() >> 20))
    throw Error("SEPAL_CUDA_CACHE_LIMIT_MB: expected a whole number of MiB (0 caches nothing), got '" + text + "'");
  return static_cast<size_t>(mib) << 20;
}

}  // namespace sepal::cuda
