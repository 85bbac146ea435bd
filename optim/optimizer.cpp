// optimizer.cpp: the Optimizer base: option specs and defaults, parameter groups and their
// validation, zero_grad, and step(), which collects each group's members that have a gradient
// and hands them to the subclass. State dicts are in state_dict.cpp.
#include "optim/optimizer.h"

#include "autograd/grad_mode.h"
#include "tensor/profiler.h"
#include "tensor/raw.h"

namespace sepal::optim {

namespace {

std::string describe(const Tensor& t) {
  return std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()) + " on " + t.device().str();
}

}  // namespace

std::optional<double> ParamGroup::initial_lr() const {
  auto it = options_.find("initial_lr");
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

Optimizer::Optimizer(std::string type, std::vector<OptionSpec> specs, Options defaults)
    : type_(std::move(type)), specs_(std::move(specs)), defaults_(std::move(defaults)) {
  check_option_names(defaults_, type_ + " defaults");
}

void Optimizer::check_defaults() const { check_options(defaults_, type_ + " defaults"); }

void Optimizer::check_option_names(const Options& options, const std::string& where) const {
  for (const auto& [name, value] : options) {
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs_)
      if (s.name == name) spec = &s;
    if (!spec) {
      std::string known;
      for (const OptionSpec& s : specs_) known += (known.empty() ? "" : ", ") + s.name;
      throw Error(where + ": unknown option '" + name + "' for " + type_ + " (known options: " + known + ")");
    }
    check_option_value(name, spec->kind, value, where);
  }
}

// The defaults with `overrides` applied; names checked, required options present, ranges checked.
Options Optimizer::complete(const Options& overrides, const std::string& where) const {
  check_option_names(overrides, where);
  Options out = defaults_;
  for (const auto& [name, value] : overrides) out[name] = value;
  for (const OptionSpec& s : specs_)
    if (!s.optional && !out.count(s.name)) missing_option(type_, s.name, where);
  check_options(out, where);
  return out;
}

const ParamGroup& Optimizer::param_group(size_t index) const {
  if (index >= groups_.size())
    throw IndexError(type_ + ": parameter group " + std::to_string(index) + " out of range (" +
                     std::to_string(groups_.size()) + " groups)");
  return groups_[index];
}

std::optional<size_t> Optimizer::group_of(const std::string& name) const {
  auto it = group_of_.find(name);
  if (it == group_of_.end()) return std::nullopt;
  return it->second;
}

nn::NamedTensors Optimizer::auto_named(const std::vector<Tensor>& params) const {
  nn::NamedTensors out;
  for (size_t i = 0; i < params.size(); ++i) out.emplace_back("param." + std::to_string(members_.size() + i), params[i]);
  return out;
}

void Optimizer::add_param_group(const nn::NamedTensors& params) { add_group(params, {}); }

void Optimizer::add_param_group(const std::vector<Tensor>& params) { add_group(auto_named(params), {}); }

void Optimizer::add_group(const nn::NamedTensors& params, const Options& options) {
  const std::string where = type_ + ".add_param_group (group " + std::to_string(groups_.size()) + ")";
  ParamGroup group;
  group.index_ = groups_.size();
  group.options_ = complete(options, where);
  std::unordered_set<std::string> names;
  std::unordered_set<const TensorImpl*> tensors;
  for (const auto& [name, t] : params) {
    const std::string what = where + ": parameter '" + name + "'";
    if (name.empty()) throw Error(where + ": a parameter has an empty name (names identify parameters and their state)");
    if (!t.defined()) throw Error(what + " is an undefined tensor");
    if (!t.is_leaf())
      throw Error(what + " is not a leaf tensor (it is the result of an op); optimize the leaf it was computed from, or detach() it");
    if (!is_floating(t.dtype()))
      throw Error(what + " has dtype " + dtype_name(t.dtype()) + "; only float32 and float64 tensors can be optimized");
    if (auto g = group_of(name))
      throw Error(what + ": the name is already in parameter group " + std::to_string(*g));
    if (members_.count(t.impl()))
      throw Error(what + " is already in another parameter group (under another name)");
    if (!names.insert(name).second) throw Error(what + " appears twice in this group");
    if (!tensors.insert(t.impl()).second) throw Error(what + " is the same tensor as another member of this group");
    group.names_.push_back(name);
    group.params_.push_back(t);
  }
  for (size_t i = 0; i < group.names_.size(); ++i) {
    group_of_[group.names_[i]] = groups_.size();
    members_.insert(group.params_[i].impl());
  }
  groups_.push_back(std::move(group));
}

void Optimizer::replace_options(size_t group, const Options& options) {
  param_group(group);  // range check
  const std::string where = type_ + ".set_group_options (group " + std::to_string(group) + ")";
  check_option_names(options, where);
  Options next = options;
  if (auto initial = groups_[group].initial_lr()) next.emplace("initial_lr", *initial);
  check_options(next, where);
  groups_[group].options_ = std::move(next);
}

void Optimizer::set_option(size_t group, const std::string& name, double value) {
  param_group(group);  // range check
  const std::string where = type_ + ".set_option (group " + std::to_string(group) + ")";
  check_option_names({{name, value}}, where);
  Options next = groups_[group].options_;
  next[name] = value;
  check_options(next, where);
  groups_[group].options_ = std::move(next);
}

void Optimizer::zero_grad(bool set_to_none) {
  const profile::Scope scope("optimizer", profile::Phase::Optimizer);
  for (ParamGroup& g : groups_)
    for (Tensor& p : g.params_) p.zero_grad(set_to_none);
}

void Optimizer::step() {
  NoGradGuard no_grad;
  const profile::Scope scope("optimizer", profile::Phase::Optimizer);
  // Check every gradient before changing anything, so a bad one leaves the optimizer as it was.
  struct Pending {
    size_t group;
    const std::string* name;
    Tensor param, grad;
  };
  std::vector<Pending> pending;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& group = groups_[gi];
    for (size_t i = 0; i < group.params_.size(); ++i) {
      const Tensor& p = group.params_[i];
      Tensor grad = p.grad();
      if (!grad.defined() || !p.requires_grad()) continue;  // no gradient, or frozen
      const std::string& name = group.names_[i];
      if (grad.shape() != p.shape() || grad.dtype() != p.dtype() || grad.device() != p.device())
        throw Error(type_ + ".step: the gradient of '" + name + "' (group " + std::to_string(gi) + ") is " +
                    describe(grad) + " but the parameter is " + describe(p));
      if (!p.is_contiguous())
        throw Error(type_ + ".step: parameter '" + name + "' (group " + std::to_string(gi) +
                    ") must be contiguous, got strides " + shape_str(p.strides()));
      pending.push_back({gi, &name, p, grad.is_contiguous() ? grad : raw::contiguous(grad)});
    }
  }
  for (size_t gi = 0, k = 0; gi < groups_.size(); ++gi) {
    std::vector<Active> active;
    for (; k < pending.size() && pending[k].group == gi; ++k)
      active.push_back({pending[k].name, pending[k].param, pending[k].grad, &state_[*pending[k].name]});
    if (!active.empty()) step_group(groups_[gi], active);
  }
}

const ParamState* Optimizer::state(const std::string& name) const {
  auto it = state_.find(name);
  return it == state_.end() ? nullptr : &it->second;
}

Tensor& Optimizer::buffer_or_zeros(const Active& a, const std::string& name) {
  if (Tensor* t = a.state->find(name)) return *t;
  a.state->set(name, zeros(a.param.shape(), TensorOptions().dtype(a.param.dtype()).device(a.param.device())));
  return *a.state->find(name);
}

// ---- ParamState ----
const Tensor* ParamState::find(const std::string& name) const {
  for (const auto& [n, t] : buffers)
    if (n == name) return &t;
  return nullptr;
}
Tensor* ParamState::find(const std::string& name) {
  for (auto& [n, t] : buffers)
    if (n == name) return &t;
  return nullptr;
}
void ParamState::set(const std::string& name, const Tensor& tensor) {
  if (Tensor* t = find(name)) *t = tensor;
  else buffers.emplace_back(name, tensor);
}

}  // namespace sepal::optim
