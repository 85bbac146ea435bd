// state.h: an optimizer's state as plain in-memory structures, the form the checkpoint format
// stores and the resume planner compares. Everything is keyed by parameter *name* (never by
// position): OptimizerStateDict holds the optimizer type, each group's options and member
// names, and each stepped parameter's ParamState. Loading one into a live optimizer checks it
// name by name and shape by shape and describes every difference in an OptimizerLoadReport:
// per parameter (missing, unexpected, reshaped, bad state) and per group (members added or
// removed, options changed), in place of PyTorch's "loaded state dict contains a parameter
// group that doesn't match the size of optimizer's group".
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "optim/options.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

namespace sepal::optim {

// One parameter's optimizer state, created on the first step() that finds it with a gradient.
struct ParamState {
  int64_t step = 0;  // updates applied to this parameter (Adam's bias-correction step)
  // The optimizer's buffers, each the parameter's shape, in the optimizer's order: Adam
  // "exp_avg", "exp_avg_sq", "max_exp_avg_sq" (amsgrad); SGD "momentum_buffer" (momentum != 0).
  std::vector<std::pair<std::string, Tensor>> buffers;

  const Tensor* find(const std::string& name) const;  // nullptr when absent
  Tensor* find(const std::string& name);
  void set(const std::string& name, const Tensor& tensor);  // adds or replaces
};

struct GroupStateDict {
  Options options;                  // every option of the group, including "lr" (and "initial_lr")
  std::vector<std::string> params;  // member names in group order
};

// An optimizer's whole state. Tensors share storage with the live optimizer (as
// Module::state_dict does): take clone() for a snapshot that later steps do not change.
struct OptimizerStateDict {
  std::string type;  // "Adam", "AdamW", "SGD"
  std::vector<GroupStateDict> groups;
  std::map<std::string, ParamState> state;  // by parameter name; only parameters stepped so far

  OptimizerStateDict clone() const;  // the same, with every tensor copied
};

enum class ParamIssue : uint8_t {
  Missing,     // a live parameter the saved groups do not list: its state starts fresh
  Unexpected,  // a saved parameter (member or state) the live optimizer does not have: dropped
  Reshaped,    // saved state whose shape differs from the live parameter's: starts fresh
  BadState,    // saved state lacking a required buffer or holding an unknown one: starts fresh
};
const char* issue_name(ParamIssue issue);

struct ParamReport {
  std::string name;
  ParamIssue issue;
  std::string detail;  // "exp_avg [102, 512] vs parameter [1000, 512]"
};

struct OptionChange {
  std::string name;
  std::optional<double> saved, live;  // nullopt: the option is absent on that side
};

struct GroupReport {
  size_t index = 0;
  std::vector<std::string> added;    // live members the saved group does not list
  std::vector<std::string> removed;  // saved members the live group does not hold
  std::vector<OptionChange> options; // options whose saved value replaces a different live one
  bool members_changed() const { return !added.empty() || !removed.empty(); }
};

// What loading a state dict finds (and, when it loads, does). ok() means a full resume: same
// type and group count, every parameter in the same group, no parameter issue. Option changes
// do not count against ok(): a resumed optimizer takes the saved options (a scheduler's lr).
struct OptimizerLoadReport {
  std::string saved_type, live_type;
  size_t saved_groups = 0, live_groups = 0;
  std::vector<ParamReport> params;  // per parameter, in live order, then unexpected ones
  std::vector<GroupReport> groups;  // only groups with a change
  std::vector<std::string> loaded;  // parameters whose saved state is (or would be) restored
  std::vector<std::string> fresh;   // live parameters whose state starts fresh

  bool ok() const;
  bool has(const std::string& name, ParamIssue issue) const;
  const GroupReport* group(size_t index) const;  // nullptr when the group has no change
  std::string str() const;  // one line per finding; "" when there is nothing to report
};

// Thrown by a strict load that finds a mismatch; carries the full report.
class OptimizerStateError : public Error {
 public:
  OptimizerStateError(const std::string& what, OptimizerLoadReport report)
      : Error(what), report_(std::move(report)) {}
  const OptimizerLoadReport& report() const { return report_; }

 private:
  OptimizerLoadReport report_;
};

}  // namespace sepal::optim
