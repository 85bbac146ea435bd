// module.h: Module, the base of every layer, modelled on the libtorch C++ frontend. A module
// registers its parameters, buffers and children by name; named_parameters()/named_buffers()
// list them in registration order with dotted names identical to torchvision's
// ("layer1.0.conv1.weight", "bn1.running_mean"). Those names are a parameter's identity
// everywhere: in optimizers, their state and checkpoints. to(device) moves tensors in place, so
// handles held elsewhere (an optimizer's) keep pointing at the live parameters.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "layers/state_dict.h"
#include "tensor/profiler.h"
#include "tensor/tensor.h"

namespace sepal::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module;
using ModulePtr = std::shared_ptr<Module>;
using NamedModules = std::vector<std::pair<std::string, ModulePtr>>;

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The layer's computation. Modules with one tensor in and one out override this.
  virtual Tensor forward(const Tensor& input) = 0;
  // forward() under this module's profiler scope (the name its parent registered it under), so a
  // profile books its ops to "layer1.0.conv1": how parents call their children, (*conv1_)(x).
  Tensor operator()(const Tensor& input) {
    const profile::Scope scope(scope_name_);
    return forward(input);
  }
  // The name a profile books this module's work under (what operator() opens).
  const std::string& scope_name() const { return scope_name_; }

  // ---- parameters, buffers, children (registration order, dotted names) ----
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  const NamedModules& named_children() const { return children_; }
  // This module ("") and every descendant, depth first, with dotted names.
  NamedModules named_modules();
  // A direct child by name; throws naming the module and its children when absent.
  ModulePtr child(const std::string& name) const;
  // A descendant by dotted path ("layer4.1.conv2"); throws when absent.
  ModulePtr find(const std::string& dotted_path) const;
  // Replaces an existing child (model.replace_module("fc", Sequential(...)) swaps the head) and
  // repoints the member bound to it at registration, so forward() uses the new module at once.
  void replace_module(const std::string& name, ModulePtr module);

  // ---- modes and devices ----
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  Module& to(Device device);
  Module& to(DType dtype);  // floating parameters and buffers only
  // Freezes (false) or unfreezes (true) every parameter of this module and its children.
  Module& requires_grad_(bool enabled);
  void zero_grad(bool set_to_none = true);
  int64_t num_parameters(bool trainable_only = false) const;

  // ---- state ----
  // Parameters then buffers of each module, depth first, sharing storage with the module.
  StateDict state_dict() const;
  // Copies matching tensors in (converting dtype and device). Keys must match; a size mismatch
  // is never loaded. strict: throws sepal::Error listing every problem and changes nothing.
  // Non-strict: loads what matches and returns the report of what did not.
  LoadReport load_state_dict(const StateDict& state, bool strict = true);

  const std::string& type_name() const { return type_name_; }
  // A PyTorch-like tree: "ResNet(\n  (conv1): Conv2d(3, 64, ...)\n ...)".
  std::string str() const;
  // One line describing this module's configuration, e.g. "3, 64, kernel_size=(7, 7)".
  virtual std::string extra_repr() const { return ""; }

 protected:
  // Registers a parameter (a leaf; requires_grad as given) and returns it.
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  // Registers a buffer (state without gradient: running statistics, counters) and returns it.
  Tensor register_buffer(const std::string& name, Tensor tensor);
  // Registers a child and returns it. With a `slot` (a ModulePtr member of this module), *slot
  // points at the child from now on, through replace_module too, so forward() can call it
  // without looking it up by name. A slot is a plain ModulePtr because replace_module accepts a
  // module of any type (a BatchNorm2d may become an Identity).
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module, ModulePtr* slot = nullptr) {
    add_child(name, module, slot);
    return module;
  }
  // The registered parameter or buffer `name` of this module (not its children).
  Tensor& param(const std::string& name);
  Tensor& buffer(const std::string& name);

 private:
  void add_child(const std::string& name, ModulePtr module, ModulePtr* slot);
  void collect(const std::string& prefix, bool params, bool recurse, NamedTensors* out) const;

  std::string type_name_;
  std::string scope_name_;  // the name this module was last registered under as a child ("" at the top)
  bool training_ = true;
  NamedTensors params_;
  NamedTensors buffers_;
  NamedModules children_;
  std::vector<ModulePtr*> child_slots_;  // parallel to children_: the member bound to each, or null
};

}  // namespace sepal::nn
