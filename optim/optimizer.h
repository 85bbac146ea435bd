// optimizer.h: Optimizer, the base of SGD, Adam and AdamW, with PyTorch's semantics and
// parameters identified by name. An optimizer holds parameter groups, each a list of named
// parameters plus its own options (typed, optim/options.h; a group added without options takes
// the optimizer's defaults); step() updates every member whose grad is set and skips the others,
// exactly like torch.optim; per-parameter state is keyed by the parameter's name and created on
// the first step that finds it with a gradient.
//
//   auto model = nn::resnet18(102);
//   optim::Adam opt(model->named_parameters(), optim::AdamOptions(1e-3));
//   opt.add_param_group(head_params, opt.defaults().lr(1e-2).weight_decay(1e-4));
//   loss.backward(); opt.step(); opt.zero_grad();
//
// Parameters may also be given as a plain std::vector<Tensor> (libtorch's form): they are then
// named "param.<k>", k counting every parameter of the optimizer in the order added (0, 1, ...
// for the first group, continuing in later ones), as PyTorch numbers them in its state dicts.
// The names key the state and the checkpoint records, so a resume must add them in the same order.
//
// Deliberate differences from PyTorch: a parameter with requires_grad false (frozen) is never
// updated even when it holds a stale gradient, so it never gets state; a parameter twice in one
// group or a duplicate name is an error, not a warning.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "layers/module.h"
#include "optim/options.h"
#include "optim/state.h"

namespace sepal::optim {

class ParamGroup {
 public:
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<Tensor>& params() const { return params_; }
  // The group's options in the name-keyed form (what state dicts store); the optimizer's
  // group_options(index) gives them typed.
  const Options& options() const { return options_; }
  size_t size() const { return params_.size(); }
  double lr() const { return options_.at("lr"); }
  // The lr a scheduler started this group from (recorded when the scheduler adopts the group).
  std::optional<double> initial_lr() const;
  size_t index() const { return index_; }

 private:
  friend class Optimizer;
  size_t index_ = 0;
  std::vector<std::string> names_;
  std::vector<Tensor> params_;
  Options options_;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  const std::string& type() const { return type_; }
  // The defaults in the name-keyed form; each optimizer's defaults() gives them typed.
  const Options& default_options() const { return defaults_; }

  // ---- groups ----
  // Adds a group of parameters with the default options (each optimizer also takes a group with
  // its own typed options). Throws sepal::Error naming the culprit, and adds nothing, when a
  // parameter is undefined, not a leaf, not floating, already in a group (or twice in this one),
  // or its name is empty or taken. Plain tensors are named "param.<k>" (see above).
  void add_param_group(const nn::NamedTensors& params);
  void add_param_group(const std::vector<Tensor>& params);
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const ParamGroup& param_group(size_t index) const;
  size_t num_param_groups() const { return groups_.size(); }
  double lr(size_t group = 0) const { return param_group(group).lr(); }
  void set_lr(size_t group, double lr) { set_option(group, "lr", lr); }
  // Records the lr a scheduler starts `group` from (ParamGroup::initial_lr; state dicts keep it).
  void set_initial_lr(size_t group, double lr) { set_option(group, "initial_lr", lr); }
  // The group holding parameter `name`, or nullopt.
  std::optional<size_t> group_of(const std::string& name) const;

  // ---- training ----
  // Clears (set_to_none, the default: step() then skips them) or zeroes every member's grad.
  void zero_grad(bool set_to_none = true);
  // One update of every member that requires grad and has a gradient; runs without recording a
  // graph. A gradient must have its parameter's shape, dtype and device.
  void step();

  // ---- state ----
  const ParamState* state(const std::string& name) const;  // nullptr before its first update
  size_t num_states() const { return state_.size(); }
  OptimizerStateDict state_dict() const;
  // Compares `saved` with this optimizer without changing anything (the resume planner's view).
  // Throws sepal::Error only when `saved` is malformed or of another optimizer type.
  OptimizerLoadReport check_state_dict(const OptimizerStateDict& saved) const;
  // strict: loads only an ok() report, else throws OptimizerStateError (with the report) and
  // changes nothing. Non-strict: restores the state of every parameter present on both sides
  // with matching shapes, starts the others fresh, and takes each group's options from the
  // saved group of the same index. Loaded tensors are copies on the parameter's device/dtype.
  OptimizerLoadReport load_state_dict(const OptimizerStateDict& saved, bool strict = true);

 protected:
  // `specs`: the name-keyed options (option_specs<O>()); `defaults`: to_options of the typed ones.
  Optimizer(std::string type, std::vector<OptionSpec> specs, Options defaults);
  // Range-checks the defaults; each subclass constructor calls it (it uses check_options).
  void check_defaults() const;
  // Adds a group with a complete name-keyed option set (to_options of the typed options).
  void add_group(const nn::NamedTensors& params, const Options& options);
  // `params` named "param.<k>", k counting on from the optimizer's parameters.
  nn::NamedTensors auto_named(const std::vector<Tensor>& params) const;
  // Replaces one group's options (name-keyed, complete), validated; initial_lr is kept.
  void replace_options(size_t group, const Options& options);
  // The defaults and a group's options as the subclass's typed options O.
  template <typename O>
  O typed_defaults() const {
    return from_options<O>(defaults_, type_, type_ + " defaults");
  }
  template <typename O>
  O typed_options(size_t group) const {
    return from_options<O>(param_group(group).options(), type_, type_ + " group " + std::to_string(group));
  }
  // Sets one option of one group, validated.
  void set_option(size_t group, const std::string& name, double value);

  // A member with a gradient and its state (created empty on first use; step not yet counted).
  struct Active {
    const std::string* name;
    Tensor param;
    Tensor grad;
    ParamState* state;
  };
  // Updates one group's active members (each with a gradient of the parameter's shape).
  virtual void step_group(const ParamGroup& group, std::vector<Active>& active) = 0;
  // Range and consistency checks of a complete option set (from_options of the subclass's
  // typed options); `where` prefixes messages.
  virtual void check_options(const Options& options, const std::string& where) const = 0;
  // The buffer names this optimizer keeps, and those a group with `options` needs at load.
  virtual std::vector<std::string> known_buffers() const = 0;
  virtual std::vector<std::string> required_buffers(const Options& options) const = 0;

  // The state of `a`, with buffer `name` created as zeros like the parameter when absent.
  static Tensor& buffer_or_zeros(const Active& a, const std::string& name);

 private:
  void check_option_names(const Options& options, const std::string& where) const;
  Options complete(const Options& overrides, const std::string& where) const;

  std::string type_;
  std::vector<OptionSpec> specs_;
  Options defaults_;
  std::vector<ParamGroup> groups_;
  std::unordered_map<std::string, size_t> group_of_;  // member name -> group
  std::unordered_set<const TensorImpl*> members_;      // tensor identity
  std::map<std::string, ParamState> state_;
};

}  // namespace sepal::optim
