// module.cpp: registration, traversal, modes, device moves, state_dict and load_state_dict.
#include "layers/module.h"

#include <sstream>

#include "autograd/grad_mode.h"
#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal::nn {

namespace {
void check_name(const std::string& name, const std::string& owner) {
  if (name.empty() || name.find('.') != std::string::npos)
    throw Error(owner + ": invalid name '" + name + "' (must be non-empty and contain no '.')");
}

// Points every handle of `t` at new data (moved or converted) without changing its identity.
void rebind(const Tensor& t, const Tensor& replacement) {
  TensorImpl* impl = t.impl();
  impl->storage = replacement.storage();
  impl->shape = replacement.shape();
  impl->strides = replacement.strides();
  impl->offset = replacement.offset();
  impl->dtype = replacement.dtype();
}
}  // namespace

std::string LoadReport::str() const {
  std::ostringstream os;
  auto list = [&os](const char* what, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    os << "\n\t" << what << ": ";
    for (size_t i = 0; i < keys.size(); ++i) os << (i ? ", " : "") << '"' << keys[i] << '"';
    os << ".";
  };
  list("Missing key(s) in state_dict", missing_keys);
  list("Unexpected key(s) in state_dict", unexpected_keys);
  for (const auto& m : size_mismatches) os << "\n\t" << m << ".";
  return os.str();
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_name(name, type_name_ + ".register_parameter");
  for (const auto& [n, t] : params_)
    if (n == name) throw Error(type_name_ + ": parameter '" + name + "' is already registered");
  if (tensor.grad_fn()) tensor = tensor.detach();
  tensor.requires_grad_(requires_grad);
  params_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_name(name, type_name_ + ".register_buffer");
  for (const auto& [n, t] : buffers_)
    if (n == name) throw Error(type_name_ + ": buffer '" + name + "' is already registered");
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_child(const std::string& name, ModulePtr module, ModulePtr* slot) {
  check_name(name, type_name_ + ".register_module");
  if (!module) throw Error(type_name_ + ": cannot register a null module as '" + name + "'");
  for (const auto& [n, m] : children_)
    if (n == name) throw Error(type_name_ + ": a child named '" + name + "' is already registered (use replace_module)");
  if (slot) *slot = module;
  module->scope_name_ = name;
  children_.emplace_back(name, std::move(module));
  child_slots_.push_back(slot);
}

void Module::replace_module(const std::string& name, ModulePtr module) {
  if (!module) throw Error(type_name_ + ".replace_module: the new module for '" + name + "' is null");
  for (size_t i = 0; i < children_.size(); ++i)
    if (children_[i].first == name) {
      if (child_slots_[i]) *child_slots_[i] = module;
      module->scope_name_ = name;
      children_[i].second = std::move(module);
      return;
    }
  throw Error(type_name_ + ".replace_module: no child named '" + name + "'");
}

Tensor& Module::param(const std::string& name) {
  for (auto& [n, t] : params_)
    if (n == name) return t;
  throw Error(type_name_ + ": no parameter named '" + name + "'");
}

Tensor& Module::buffer(const std::string& name) {
  for (auto& [n, t] : buffers_)
    if (n == name) return t;
  throw Error(type_name_ + ": no buffer named '" + name + "'");
}

ModulePtr Module::child(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == name) return m;
  std::string names;
  for (const auto& [n, m] : children_) names += (names.empty() ? "" : ", ") + n;
  throw Error(type_name_ + ": no child module named '" + name + "' (children: " + (names.empty() ? "none" : names) + ")");
}

ModulePtr Module::find(const std::string& dotted_path) const {
  size_t dot = dotted_path.find('.');
  ModulePtr next = child(dotted_path.substr(0, dot));
  return dot == std::string::npos ? next : next->find(dotted_path.substr(dot + 1));
}

void Module::collect(const std::string& prefix, bool params, bool recurse, NamedTensors* out) const {
  for (const auto& [n, t] : params ? params_ : buffers_) out->emplace_back(prefix + n, t);
  if (!recurse) return;
  for (const auto& [n, m] : children_) m->collect(prefix + n + ".", params, true, out);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, recurse, &out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, recurse, &out);
  return out;
}

NamedModules Module::named_modules() {
  NamedModules out;
  // iterative depth-first walk; the root is held by a non-owning alias
  std::vector<std::pair<std::string, Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [prefix, m] = stack.back();
    stack.pop_back();
    out.emplace_back(prefix, ModulePtr(ModulePtr(), m));
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      stack.emplace_back(prefix.empty() ? it->first : prefix + "." + it->first, it->second.get());
  }
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

Module& Module::to(Device device) {
  NoGradGuard no_grad;
  for (auto* list : {&params_, &buffers_})
    for (auto& [n, t] : *list) {
      if (t.device() == device) continue;
      rebind(t, raw::to_device(t, device));
      if (t.grad().defined()) rebind(t.grad(), raw::to_device(t.grad(), device));
    }
  for (auto& [n, m] : children_) m->to(device);
  return *this;
}

Module& Module::to(DType dtype) {
  if (!is_floating(dtype)) throw DTypeError(std::string("Module.to: expected a floating dtype, got ") + dtype_name(dtype));
  NoGradGuard no_grad;
  for (auto* list : {&params_, &buffers_})
    for (auto& [n, t] : *list) {
      if (!is_floating(t.dtype()) || t.dtype() == dtype) continue;
      rebind(t, raw::cast(t, dtype));
      if (t.grad().defined()) rebind(t.grad(), raw::cast(t.grad(), dtype));
    }
  for (auto& [n, m] : children_) m->to(dtype);
  return *this;
}

Module& Module::requires_grad_(bool enabled) {
  for (auto& [n, t] : named_parameters()) t.requires_grad_(enabled);
  return *this;
}

void Module::zero_grad(bool set_to_none) {
  for (auto& [n, t] : named_parameters()) t.zero_grad(set_to_none);
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters())
    if (!trainable_only || t.requires_grad()) n += t.numel();
  return n;
}

StateDict Module::state_dict() const {
  StateDict sd;
  // torchvision's order: each module's parameters, then its buffers, then its children
  std::vector<std::pair<std::string, const Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [prefix, m] = stack.back();
    stack.pop_back();
    for (const auto& [n, t] : m->params_) sd.insert(prefix + n, t);
    for (const auto& [n, t] : m->buffers_) sd.insert(prefix + n, t);
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      stack.emplace_back(prefix + it->first + ".", it->second.get());
  }
  return sd;
}

LoadReport Module::load_state_dict(const StateDict& state, bool strict) {
  StateDict mine = state_dict();
  LoadReport report;
  std::vector<std::pair<Tensor, Tensor>> copies;  // (destination, source)
  for (const auto& [name, dst] : mine) {
    const Tensor* src = state.find(name);
    if (!src) {
      // files from before BatchNorm counted batches (torchvision < 0.4, some timm exports) lack
      // num_batches_tracked; like PyTorch, keep the current value instead of failing
      bool optional = name == "num_batches_tracked" || name.ends_with(".num_batches_tracked");
      if (!optional) report.missing_keys.push_back(name);
      continue;
    }
    // PyTorch 0.3 saved 0-dim values (num_batches_tracked, scalar parameters) as [1]; like
    // PyTorch's _load_from_state_dict, such a one-element vector loads into a 0-dim tensor
    if (dst.dim() == 0 && src->dim() == 1 && src->size(0) == 1) {
      copies.emplace_back(dst, src->reshape({}));
      continue;
    }
    if (src->shape() != dst.shape()) {
      report.size_mismatches.push_back("size mismatch for " + name + ": checkpoint " + shape_str(src->shape()) +
                                       ", model " + shape_str(dst.shape()));
      continue;
    }
    copies.emplace_back(dst, *src);
  }
  for (const auto& [name, t] : state)
    if (!mine.contains(name)) report.unexpected_keys.push_back(name);
  if (strict && !report.ok())
    throw Error("Error(s) in loading state_dict for " + type_name_ + ":" + report.str());
  NoGradGuard no_grad;
  for (auto& [dst, src] : copies) raw::copy_(dst, src);
  return report;
}

std::string Module::str() const {
  std::ostringstream os;
  os << type_name_ << "(" << extra_repr();
  if (!children_.empty()) {
    os << "\n";
    for (const auto& [n, m] : children_) {
      std::string child = m->str();
      std::string indented;
      for (char c : child) {
        indented += c;
        if (c == '\n') indented += "  ";
      }
      os << "  (" << n << "): " << indented << "\n";
    }
  }
  os << ")";
  return os.str();
}

}  // namespace sepal::nn
