// golden_weights.h: the deterministic weights and images of scripts/golden/make_resnet_golden.py,
// computed here exactly as the script computes them (same integer hash, same double arithmetic,
// then rounded to float32), so the golden files need not store 11.7M parameters.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <sepal.h>

#include "layers/state_dict.h"

namespace sepal::testing {

inline std::vector<int64_t> formula_ints(const std::string& name, int64_t n) {
  uint64_t base = 0xCBF29CE484222325ULL;  // FNV-1a
  for (unsigned char b : name) base = (base ^ b) * 0x100000001B3ULL;
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) {
    uint64_t h = base ^ (static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ULL);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    out[i] = static_cast<int64_t>(h % 2001) - 1000;
  }
  return out;
}

// weights_for(name, shape) of the script: BatchNorm statistics and affine parameters, biases and
// He-uniform-scaled conv/linear weights; num_batches_tracked is int64 zero.
inline Tensor weights_for(const std::string& name, const Shape& shape) {
  const std::string leaf = name.substr(name.rfind('.') + 1);
  if (leaf == "num_batches_tracked") return zeros(shape, DType::Int64);
  std::vector<int64_t> ints = formula_ints(name, numel_of(shape));
  std::vector<float> values(ints.size());
  double fan_in = 1;
  for (size_t d = 1; d < shape.size(); ++d) fan_in *= static_cast<double>(shape[d]);
  const double bound = std::sqrt(6.0 / fan_in);
  for (size_t i = 0; i < ints.size(); ++i) {
    double v = static_cast<double>(ints[i]);
    double x;
    if (leaf == "running_var") x = 1.0 + std::abs(v) * 0.001 * 0.5;
    else if (leaf == "running_mean" || leaf == "bias") x = v * 0.001 * 0.1;
    else if (shape.size() == 1) x = 1.0 + v * 0.001 * 0.1;
    else x = v * 0.001 * bound;
    values[i] = static_cast<float>(x);
  }
  return from_vector(values, shape, TensorOptions());
}

inline Tensor images_for(const std::string& name, const Shape& shape) {
  std::vector<int64_t> ints = formula_ints(name, numel_of(shape));
  std::vector<float> values(ints.size());
  for (size_t i = 0; i < ints.size(); ++i) values[i] = static_cast<float>(static_cast<double>(ints[i]) * 0.002);
  return from_vector(values, shape, TensorOptions());
}

// A state dict for `model` filled with weights_for.
inline nn::StateDict golden_state(const nn::StateDict& model_state) {
  nn::StateDict sd;
  for (const auto& [name, t] : model_state) sd.insert(name, weights_for(name, t.shape()));
  return sd;
}

// max |a - b| over all elements (both moved to the CPU in float64).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  if (x.size() != y.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

}  // namespace sepal::testing
