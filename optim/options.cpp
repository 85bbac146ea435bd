// options.cpp: the typed options' fields in the name-keyed form (names, kinds, how each is read
// and set), their range checks, and the value checks of the name-keyed form.
#include "optim/options.h"

#include <cmath>

#include "tensor/error.h"

namespace sepal::optim {

namespace {

void at_least_zero(double value, const char* what, const std::string& where) {
  if (value < 0) throw Error(where + ": invalid " + what + " " + std::to_string(value) + " (must be >= 0)");
}

}  // namespace

void check_option_value(const std::string& name, OptionKind kind, double value, const std::string& where) {
  if (!std::isfinite(value))
    throw Error(where + ": option '" + name + "' must be finite, got " + std::to_string(value));
  if (kind == OptionKind::Bool && value != 0.0 && value != 1.0)
    throw Error(where + ": option '" + name + "' is a flag (true/false, 1/0), got " + std::to_string(value));
}

void missing_option(const std::string& type, const std::string& name, const std::string& where) {
  throw Error(where + ": " + type + " requires option '" + name + "' (give it in the defaults or the group)");
}

// ---- Adam, AdamW ----
template <typename Self>
const std::vector<OptionField<Self>>& AdamOptionsBase<Self>::fields() {
  static const std::vector<OptionField<Self>> fields = {
      {"lr", OptionKind::Real, [](const Self& o) { return o.lr(); }, [](Self& o, double v) { o.lr(v); }},
      {"beta1", OptionKind::Real, [](const Self& o) { return std::get<0>(o.betas()); },
       [](Self& o, double v) { o.betas({v, std::get<1>(o.betas())}); }},
      {"beta2", OptionKind::Real, [](const Self& o) { return std::get<1>(o.betas()); },
       [](Self& o, double v) { o.betas({std::get<0>(o.betas()), v}); }},
      {"eps", OptionKind::Real, [](const Self& o) { return o.eps(); }, [](Self& o, double v) { o.eps(v); }},
      {"weight_decay", OptionKind::Real, [](const Self& o) { return o.weight_decay(); },
       [](Self& o, double v) { o.weight_decay(v); }},
      {"amsgrad", OptionKind::Bool, [](const Self& o) { return o.amsgrad() ? 1.0 : 0.0; },
       [](Self& o, double v) { o.amsgrad(v != 0.0); }},
      {"maximize", OptionKind::Bool, [](const Self& o) { return o.maximize() ? 1.0 : 0.0; },
       [](Self& o, double v) { o.maximize(v != 0.0); }},
  };
  return fields;
}

template <typename Self>
void AdamOptionsBase<Self>::validate(const std::string& where) const {
  if (lr_ < 0) throw Error(where + ": invalid learning rate " + std::to_string(lr_) + " (must be >= 0)");
  at_least_zero(eps_, "eps", where);
  const double betas[] = {std::get<0>(betas_), std::get<1>(betas_)};
  for (int i = 0; i < 2; ++i)
    if (!(betas[i] >= 0 && betas[i] < 1))
      throw Error(where + ": invalid beta" + std::to_string(i + 1) + " " + std::to_string(betas[i]) +
                  " (must be in [0, 1))");
  at_least_zero(weight_decay_, "weight_decay", where);
}

template class AdamOptionsBase<AdamOptions>;
template class AdamOptionsBase<AdamWOptions>;

// ---- SGD ----
const std::vector<OptionField<SGDOptions>>& SGDOptions::fields() {
  using O = SGDOptions;
  static const std::vector<OptionField<O>> fields = {
      {"lr", OptionKind::Real, [](const O& o) { return o.lr(); }, [](O& o, double v) { o.lr(v); }},
      {"momentum", OptionKind::Real, [](const O& o) { return o.momentum(); }, [](O& o, double v) { o.momentum(v); }},
      {"dampening", OptionKind::Real, [](const O& o) { return o.dampening(); },
       [](O& o, double v) { o.dampening(v); }},
      {"weight_decay", OptionKind::Real, [](const O& o) { return o.weight_decay(); },
       [](O& o, double v) { o.weight_decay(v); }},
      {"nesterov", OptionKind::Bool, [](const O& o) { return o.nesterov() ? 1.0 : 0.0; },
       [](O& o, double v) { o.nesterov(v != 0.0); }},
      {"maximize", OptionKind::Bool, [](const O& o) { return o.maximize() ? 1.0 : 0.0; },
       [](O& o, double v) { o.maximize(v != 0.0); }},
  };
  return fields;
}

void SGDOptions::validate(const std::string& where) const {
  if (lr_ < 0) throw Error(where + ": invalid learning rate " + std::to_string(lr_) + " (must be >= 0)");
  at_least_zero(momentum_, "momentum", where);
  at_least_zero(weight_decay_, "weight_decay", where);
  if (nesterov_ && (momentum_ <= 0 || dampening_ != 0))
    throw Error(where + ": Nesterov momentum requires a momentum > 0 and zero dampening (momentum " +
                std::to_string(momentum_) + ", dampening " + std::to_string(dampening_) + ")");
}

}  // namespace sepal::optim
