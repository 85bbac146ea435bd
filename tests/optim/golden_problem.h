// golden_problem.h: the C++ side of scripts/golden/make_optim_golden.py: the same parameters,
// initial values, gradient formula, no-gradient schedule and optimizer configurations, so a
// trajectory run here can be compared with PyTorch's step by step.
#pragma once
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <variant>
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

// The script's configurations as typed options: the defaults, then groups 1 and 2 (each the
// defaults with the script's per-group overrides applied).
template <typename O>
struct GoldenOptions {
  O defaults, group1, group2;
};

struct GoldenConfig {
  std::string name, type;
  std::variant<GoldenOptions<optim::AdamOptions>, GoldenOptions<optim::AdamWOptions>, GoldenOptions<optim::SGDOptions>>
      options;
  double sign;

  double default_lr() const {
    return std::visit([](const auto& o) { return o.defaults.lr(); }, options);
  }
};

inline const std::vector<GoldenConfig>& golden_configs() {
  using A = optim::AdamOptions;
  using W = optim::AdamWOptions;
  using S = optim::SGDOptions;
  static const std::vector<GoldenConfig> configs = [] {
    const A amsgrad_wd = A(0.01).amsgrad(true).weight_decay(0.1);
    const A adam_max = A(0.01).maximize(true).weight_decay(0.05);
    const W w_amsgrad = W(0.01).amsgrad(true).weight_decay(0.05);
    const W w_max = W(0.01).maximize(true).amsgrad(true).weight_decay(0.02);
    const S momentum = S(0.05).momentum(0.9).dampening(0.1).weight_decay(0.01);
    const S nesterov = S(0.05).momentum(0.9).nesterov(true).weight_decay(0.001);
    const S sgd_max = S(0.05).maximize(true).weight_decay(0.01);
    return std::vector<GoldenConfig>{
        {"adam", "Adam", GoldenOptions<A>{A(0.01), A(0.003).betas({0.8, 0.99}), A(0.02)}, 1.0},
        {"adam_amsgrad_wd", "Adam",
         GoldenOptions<A>{amsgrad_wd, A(amsgrad_wd).lr(0.003), A(amsgrad_wd).lr(0.02).amsgrad(false)}, 1.0},
        {"adam_maximize", "Adam", GoldenOptions<A>{adam_max, A(adam_max).lr(0.003).eps(1e-6), A(adam_max).lr(0.02)},
         -1.0},
        {"adamw", "AdamW", GoldenOptions<W>{W(0.01), W(0.003).weight_decay(0.1), W(0.02)}, 1.0},
        {"adamw_amsgrad", "AdamW",
         GoldenOptions<W>{w_amsgrad, W(w_amsgrad).lr(0.003), W(w_amsgrad).lr(0.02).betas({0.85, 0.995})}, 1.0},
        {"adamw_maximize", "AdamW", GoldenOptions<W>{w_max, W(w_max).lr(0.003), W(w_max).lr(0.02)}, -1.0},
        {"sgd_momentum", "SGD", GoldenOptions<S>{momentum, S(momentum).lr(0.02).momentum(0.5), S(momentum).lr(0.03)},
         1.0},
        {"sgd_nesterov", "SGD", GoldenOptions<S>{nesterov, S(nesterov).lr(0.02), S(nesterov).lr(0.03).momentum(0.6)},
         1.0},
        {"sgd_maximize", "SGD", GoldenOptions<S>{sgd_max, S(sgd_max).lr(0.02), S(sgd_max).lr(0.03).momentum(0.7)},
         -1.0},
    };
  }();
  return configs;
}

// The optimizer of `cfg`'s type with its defaults (Adam's implementation `impl`).
inline std::unique_ptr<optim::Optimizer> make_optimizer(const GoldenConfig& cfg,
                                                        optim::AdamImpl impl = optim::AdamImpl::Fused) {
  return std::visit(
      [impl](const auto& o) -> std::unique_ptr<optim::Optimizer> {
        using O = std::decay_t<decltype(o.defaults)>;
        if constexpr (std::is_same_v<O, optim::SGDOptions>) {
          return std::make_unique<optim::SGD>(o.defaults);
        } else {
          using Opt = std::conditional_t<std::is_same_v<O, optim::AdamOptions>, optim::Adam, optim::AdamW>;
          auto adam = std::make_unique<Opt>(o.defaults);
          adam->set_implementation(impl);
          return adam;
        }
      },
      cfg.options);
}

// An optimizer of type `type` ("SGD", "Adam", "AdamW") with the default options at `lr`.
inline std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& type, double lr) {
  if (type == "SGD") return std::make_unique<optim::SGD>(optim::SGDOptions(lr));
  if (type == "Adam") return std::make_unique<optim::Adam>(optim::AdamOptions(lr));
  return std::make_unique<optim::AdamW>(optim::AdamWOptions(lr));
}

// Adds group 1 or 2 of `cfg` to `opt` (made by make_optimizer(cfg)).
inline void add_golden_group(optim::Optimizer& opt, const GoldenConfig& cfg, int group, const nn::NamedTensors& params) {
  std::visit(
      [&](const auto& o) {
        using O = std::decay_t<decltype(o.defaults)>;
        using Opt = std::conditional_t<std::is_same_v<O, optim::SGDOptions>, optim::SGD,
                                       std::conditional_t<std::is_same_v<O, optim::AdamOptions>, optim::Adam, optim::AdamW>>;
        dynamic_cast<Opt&>(opt).add_param_group(params, group == 1 ? o.group1 : o.group2);
      },
      cfg.options);
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
    opt = make_optimizer(cfg, impl);
    opt->add_param_group({{"a.weight", params["a.weight"]}, {"a.bias", params["a.bias"]}});
    add_golden_group(*opt, cfg, 1, {{"b.weight", params["b.weight"]}, {"b.bias", params["b.bias"]}});
  }

  // Sets the gradients of step k and steps.
  void step(const GoldenConfig& cfg, int k) {
    if (k == kGoldenAddAfter + 1) add_golden_group(*opt, cfg, 2, {{"c.weight", params["c.weight"]}});
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
