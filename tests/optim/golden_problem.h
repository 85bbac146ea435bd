// golden_problem.h: the C++ side of scripts/golden/make_optim_golden.py: the same parameters,
// initial values, gradient formula, no-gradient schedule and optimizer configurations, so a
// trajectory run here can be compared with PyTorch's step by step.
#pragma once
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sepal.h>

namespace sepal::testing {

constexpr int kGoldenSteps = 120;
constexpr int kGoldenAddAfter = 40;  // group 2 is added before step 41
inline const std::vector<int> kGoldenRecord = {1, 10, 40, 41, 80, 120};

struct GoldenParam {
  std::string name;
  Shape shape;
  int id;
  int group;
};

inline const std::vector<GoldenParam>& golden_params() {
  static const std::vector<GoldenParam> params = {
      {"a.weight", {4, 5}, 0, 0}, {"a.bias", {5}, 1, 0}, {"b.weight", {3, 7}, 2, 1},
      {"b.bias", {7}, 3, 1},      {"c.weight", {6}, 4, 2}};
  return params;
}

inline Tensor golden_initial(const GoldenParam& p) {
  std::vector<double> v(static_cast<size_t>(numel_of(p.shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((7 * int64_t(i) + 5 * p.id + 3) % 19 - 9) * 0.1;
  return raw::cast(from_vector<double>(v, p.shape), DType::Float32);
}

inline bool golden_no_grad(int id, int k) {
  if (id == 1) return k % 3 == 1;
  if (id == 3) return k <= 4 || k % 5 == 0;
  if (id == 4) return k % 4 == 2;
  return false;
}

// float32(sign * 2 * (p - t) + shift), computed in float64 as the script does.
inline Tensor golden_gradient(const Tensor& param, int id, int k, double sign) {
  std::vector<double> p = param.to_vector<double>();
  std::vector<float> g(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    const int64_t ii = static_cast<int64_t>(i);
    const double t = static_cast<double>((5 * ii + 3 * id + 1) % 11 - 5) * 0.2;
    const double s = static_cast<double>((13 * ii + 7 * k + 11 * id) % 17 - 8) * 0.01;
    g[i] = static_cast<float>(sign * 2.0 * (p[i] - t) + s);
  }
  return from_vector<float>(g, param.shape());
}

struct GoldenConfig {
  std::string name, type;
  optim::Options defaults, group1, group2;
  double sign;
};

inline const std::vector<GoldenConfig>& golden_configs() {
  static const std::vector<GoldenConfig> configs = {
      {"adam", "Adam", {{"lr", 0.01}}, {{"lr", 0.003}, {"beta1", 0.8}, {"beta2", 0.99}}, {{"lr", 0.02}}, 1.0},
      {"adam_amsgrad_wd", "Adam", {{"lr", 0.01}, {"amsgrad", 1}, {"weight_decay", 0.1}}, {{"lr", 0.003}},
       {{"lr", 0.02}, {"amsgrad", 0}}, 1.0},
      {"adam_maximize", "Adam", {{"lr", 0.01}, {"maximize", 1}, {"weight_decay", 0.05}}, {{"lr", 0.003}, {"eps", 1e-6}},
       {{"lr", 0.02}}, -1.0},
      {"adamw", "AdamW", {{"lr", 0.01}}, {{"lr", 0.003}, {"weight_decay", 0.1}}, {{"lr", 0.02}}, 1.0},
      {"adamw_amsgrad", "AdamW", {{"lr", 0.01}, {"amsgrad", 1}, {"weight_decay", 0.05}}, {{"lr", 0.003}},
       {{"lr", 0.02}, {"beta1", 0.85}, {"beta2", 0.995}}, 1.0},
      {"adamw_maximize", "AdamW", {{"lr", 0.01}, {"maximize", 1}, {"amsgrad", 1}, {"weight_decay", 0.02}},
       {{"lr", 0.003}}, {{"lr", 0.02}}, -1.0},
      {"sgd_momentum", "SGD", {{"lr", 0.05}, {"momentum", 0.9}, {"dampening", 0.1}, {"weight_decay", 0.01}},
       {{"lr", 0.02}, {"momentum", 0.5}}, {{"lr", 0.03}}, 1.0},
      {"sgd_nesterov", "SGD", {{"lr", 0.05}, {"momentum", 0.9}, {"nesterov", 1}, {"weight_decay", 0.001}},
       {{"lr", 0.02}}, {{"lr", 0.03}, {"momentum", 0.6}}, 1.0},
      {"sgd_maximize", "SGD", {{"lr", 0.05}, {"maximize", 1}, {"weight_decay", 0.01}}, {{"lr", 0.02}},
       {{"lr", 0.03}, {"momentum", 0.7}}, -1.0},
  };
  return configs;
}

inline std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& type, const optim::Options& defaults,
                                                        optim::AdamImpl impl = optim::AdamImpl::Fused) {
  if (type == "SGD") return std::make_unique<optim::SGD>(nn::NamedTensors{}, defaults);
  std::unique_ptr<optim::Adam> adam;
  if (type == "Adam") adam = std::make_unique<optim::Adam>(nn::NamedTensors{}, defaults);
  else adam = std::make_unique<optim::AdamW>(nn::NamedTensors{}, defaults);
  adam->set_implementation(impl);
  return adam;
}

// One run of the golden problem. on_step(k, params) is called after every step.
struct GoldenRun {
  std::map<std::string, Tensor> params;
  std::unique_ptr<optim::Optimizer> opt;

  GoldenRun(const GoldenConfig& cfg, optim::AdamImpl impl = optim::AdamImpl::Fused, Device device = Device::cpu()) {
    for (const GoldenParam& p : golden_params()) {
      Tensor t = raw::to_device(golden_initial(p), device);
      t.requires_grad_(true);
      params[p.name] = t;
    }
    opt = make_optimizer(cfg.type, cfg.defaults, impl);
    opt->add_param_group({{"a.weight", params["a.weight"]}, {"a.bias", params["a.bias"]}});
    opt->add_param_group({{"b.weight", params["b.weight"]}, {"b.bias", params["b.bias"]}}, cfg.group1);
  }

  // Sets the gradients of step k and steps.
  void step(const GoldenConfig& cfg, int k) {
    if (k == kGoldenAddAfter + 1) opt->add_param_group({{"c.weight", params["c.weight"]}}, cfg.group2);
    for (const GoldenParam& p : golden_params()) {
      if (p.group == 2 && k <= kGoldenAddAfter) continue;
      Tensor& t = params[p.name];
      if (golden_no_grad(p.id, k)) t.zero_grad(true);
      else t.set_grad(raw::to_device(golden_gradient(t, p.id, k, cfg.sign), t.device()));
    }
    opt->step();
  }
};

}  // namespace sepal::testing
