// cuda_test_util.h: helpers of the CUDA tests: the CUDA device, host copies of tensors, and
// CPU-versus-CUDA comparisons (within a tolerance, or bit for bit) that say where they differ.
// Convention: a test that needs a GPU skips itself without one (GTEST_SKIP), and outside
// tests/cuda its suite or name contains "Cuda": scripts/gpu-check.sh selects the GPU tests of the
// other test programs by that word.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <sepal.h>

namespace sepal::testing {

inline Device gpu() { return Device::cuda(0); }

// A contiguous CPU copy of t in its own dtype.
inline Tensor host_copy(const Tensor& t) { return raw::contiguous(raw::to_device(t, Device::cpu())); }

// Fills `count` cached blocks of the size `numel` elements of `dtype` take with a sentinel (NaN,
// or 123 for integer types) and frees them, so the next outputs of that size start as the
// sentinel (the caching allocator hands the blocks back) and an element a kernel forgets to
// write cannot pass for a plausible value.
inline void poison_cache(int64_t numel, DType dtype, int count = 8) {
  const double sentinel = is_floating(dtype) ? std::nan("") : 123.0;
  std::vector<Tensor> blocks;
  for (int i = 0; i < count; ++i)
    blocks.push_back(full({numel}, sentinel, TensorOptions().dtype(dtype).device(gpu())));
}

// Success when both have one shape and one dtype, else a failure naming the difference.
inline ::testing::AssertionResult same_shape_and_dtype(const Tensor& expected, const Tensor& actual) {
  if (expected.shape() != actual.shape())
    return ::testing::AssertionFailure() << "shapes differ: expected " << shape_str(expected.shape())
                                         << ", got " << shape_str(actual.shape());
  if (expected.dtype() != actual.dtype())
    return ::testing::AssertionFailure() << "dtypes differ: expected " << dtype_name(expected.dtype())
                                         << ", got " << dtype_name(actual.dtype());
  return ::testing::AssertionSuccess();
}

// Same shape and dtype, and |actual - expected| <= atol + rtol * |expected| element by element
// (NaN matches NaN, infinities must match exactly). Values compare in float64.
inline ::testing::AssertionResult all_close(const Tensor& expected, const Tensor& actual, double rtol,
                                            double atol) {
  if (auto differ = same_shape_and_dtype(expected, actual); !differ) return differ;
  std::vector<double> e = expected.to_vector<double>(), a = actual.to_vector<double>();
  int64_t bad = 0, first = -1;
  double worst = 0.0;
  for (size_t i = 0; i < e.size(); ++i) {
    bool ok;
    if (std::isnan(e[i]) || std::isnan(a[i])) ok = std::isnan(e[i]) && std::isnan(a[i]);
    else if (std::isinf(e[i]) || std::isinf(a[i])) ok = e[i] == a[i];
    else {
      double err = std::abs(a[i] - e[i]);
      worst = std::max(worst, err);
      ok = err <= atol + rtol * std::abs(e[i]);
    }
    if (!ok) {
      if (first < 0) first = static_cast<int64_t>(i);
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os.precision(17);
  os << bad << " of " << e.size() << " elements differ (rtol " << rtol << ", atol " << atol
     << "); first at flat index " << first << ": expected " << e[first] << ", got " << a[first]
     << "; largest finite difference " << worst;
  return ::testing::AssertionFailure() << os.str();
}

// Same shape, dtype and bytes (so -0.0 differs from 0.0 and NaN payloads must agree).
inline ::testing::AssertionResult bitwise_equal(const Tensor& expected, const Tensor& actual) {
  if (auto differ = same_shape_and_dtype(expected, actual); !differ) return differ;
  Tensor e = host_copy(expected), a = host_copy(actual);
  const size_t width = e.element_size();
  const char* pe = static_cast<const char*>(e.raw_data());
  const char* pa = static_cast<const char*>(a.raw_data());
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < e.numel(); ++i) {
    if (std::memcmp(pe + i * width, pa + i * width, width) != 0) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::vector<double> ev = e.to_vector<double>(), av = a.to_vector<double>();
  std::ostringstream os;
  os.precision(17);
  os << bad << " of " << e.numel() << " elements differ bitwise; first at flat index " << first
     << ": expected " << ev[first] << ", got " << av[first];
  return ::testing::AssertionFailure() << os.str();
}

}  // namespace sepal::testing
