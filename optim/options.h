// options.h: the typed options of SGD, Adam and AdamW, libtorch style: each option is a getter
// and a chainable setter, so a misspelt option is a compile error.
//
//   optim::AdamOptions().lr(1e-3).betas({0.9, 0.999}).eps(1e-8).weight_decay(0).amsgrad(true)
//   optim::SGDOptions(0.1).momentum(0.9).dampening(0).weight_decay(1e-4).nesterov(true)
//
// The name-keyed form, Options (a map of doubles), is what state dicts and checkpoints store:
// every option by name, flags as 1 or 0, Adam's betas as "beta1" and "beta2". to_options and
// from_options below are the one conversion between the two; from_options checks every value
// (present, finite, flags 0 or 1, then the struct's validate()) with errors naming the option.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace sepal::optim {

// Option values by name (the state-dict form). Booleans are 1 or 0.
using Options = std::map<std::string, double>;

enum class OptionKind : uint8_t { Real, Bool };

// An option name an optimizer's name-keyed form accepts; `optional` ones may be absent
// ("initial_lr", which a scheduler sets), the others are in every complete set.
struct OptionSpec {
  std::string name;
  OptionKind kind = OptionKind::Real;
  bool optional = false;
};

// One option of the typed struct O as it appears in the name-keyed form.
template <typename O>
struct OptionField {
  const char* name;
  OptionKind kind;
  double (*get)(const O&);
  void (*set)(O&, double);
};

// A getter `name()` and a chainable setter `name(value)` over the member `name_` (libtorch's
// TORCH_ARG). The enclosing class names itself `Self`; what follows the macro is the default.
#define SEPAL_OPTION(T, name)                                      \
 public:                                                           \
  Self& name(const T& value) {                                     \
    name##_ = value;                                               \
    return static_cast<Self&>(*this);                              \
  }                                                                \
  const T& name() const { return name##_; }                        \
                                                                   \
 private:                                                          \
  T name##_

using Betas = std::tuple<double, double>;  // Adam's (beta1, beta2)

// The options Adam and AdamW share; Self is AdamOptions or AdamWOptions (the setters return it).
template <typename Self>
class AdamOptionsBase {
 public:
  static const std::vector<OptionField<Self>>& fields();
  // Range checks (lr, eps, weight_decay >= 0, betas in [0, 1)); throws sepal::Error naming the
  // option, prefixed by `where`.
  void validate(const std::string& where) const;
  bool operator==(const AdamOptionsBase&) const = default;

  SEPAL_OPTION(double, lr) = 1e-3;
  SEPAL_OPTION(Betas, betas) = {0.9, 0.999};
  SEPAL_OPTION(double, eps) = 1e-8;
  SEPAL_OPTION(double, weight_decay) = 0.0;
  SEPAL_OPTION(bool, amsgrad) = false;
  SEPAL_OPTION(bool, maximize) = false;
};

// Adam's options (defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0 as an L2
// term, amsgrad and maximize off).
class AdamOptions : public AdamOptionsBase<AdamOptions> {
 public:
  explicit AdamOptions(double lr = 1e-3) { this->lr(lr); }
  bool operator==(const AdamOptions&) const = default;
};

// AdamW's options: Adam's, with weight_decay (decoupled) defaulting to 1e-2 as in PyTorch.
class AdamWOptions : public AdamOptionsBase<AdamWOptions> {
 public:
  explicit AdamWOptions(double lr = 1e-3) { this->lr(lr).weight_decay(1e-2); }
  bool operator==(const AdamWOptions&) const = default;
};

// SGD's options: lr is required (no default, as in PyTorch and libtorch).
class SGDOptions {
  using Self = SGDOptions;

 public:
  explicit SGDOptions(double lr) : lr_(lr) {}
  static const std::vector<OptionField<SGDOptions>>& fields();
  // Range checks (lr, momentum, weight_decay >= 0; Nesterov needs momentum > 0 and no dampening).
  void validate(const std::string& where) const;
  bool operator==(const SGDOptions&) const = default;

  SEPAL_OPTION(double, lr);
  SEPAL_OPTION(double, momentum) = 0.0;
  SEPAL_OPTION(double, dampening) = 0.0;
  SEPAL_OPTION(double, weight_decay) = 0.0;
  SEPAL_OPTION(bool, nesterov) = false;
  SEPAL_OPTION(bool, maximize) = false;
};

// ---- the name-keyed form ----

// Checks one value of the name-keyed form: finite, and 0 or 1 for a flag; `where` prefixes errors.
void check_option_value(const std::string& name, OptionKind kind, double value, const std::string& where);
// Throws "`where`: <type> requires option '<name>'".
[[noreturn]] void missing_option(const std::string& type, const std::string& name, const std::string& where);

// The name-keyed form of `options`: every option of O by name.
template <typename O>
Options to_options(const O& options) {
  Options out;
  for (const OptionField<O>& f : O::fields()) out[f.name] = f.get(options);
  return out;
}

// The typed form of a complete name-keyed set (`type` names the optimizer in errors). Names that
// are not O's options (a scheduler's "initial_lr") are ignored: the optimizer checks names.
template <typename O>
O from_options(const Options& options, const std::string& type, const std::string& where) {
  O out(0.0);
  for (const OptionField<O>& f : O::fields()) {
    auto it = options.find(f.name);
    if (it == options.end()) missing_option(type, f.name, where);
    check_option_value(f.name, f.kind, it->second, where);
    f.set(out, it->second);
  }
  out.validate(where);
  return out;
}

// The name-keyed specs of O (all required) plus the optional "initial_lr".
template <typename O>
std::vector<OptionSpec> option_specs() {
  std::vector<OptionSpec> out;
  for (const OptionField<O>& f : O::fields()) out.push_back({f.name, f.kind, false});
  out.push_back({"initial_lr", OptionKind::Real, true});
  return out;
}

}  // namespace sepal::optim
