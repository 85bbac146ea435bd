// resume_decide.h: the resume planner's decision, kept apart from its comparisons. The
// comparisons (resume_compare.h) turn a checkpoint and the live model, optimizer and scheduler
// into plain facts; decide() maps a policy and those facts to an action and the reasons for it,
// and looks at nothing else, so each policy can be tested on facts built by hand:
//
//   ResumeFacts f;
//   f.tensors.unchanged = 10;
//   f.tensors.reshaped = 1;                      // a head of another size
//   f.optimizer.has_saved = true;
//   decide(ResumePolicy::Auto, f).action;        // ResumeAction::Refuse
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "checkpoint/resume.h"

namespace sepal::checkpoint {

// How many parameters and buffers (of both sides) have each change (TensorDiff::change).
struct TensorFacts {
  size_t unchanged = 0, moved_group = 0, now_trainable = 0, now_frozen = 0;  // on both sides, same shape
  size_t reshaped = 0, added = 0, removed = 0;  // the model differs: another shape, New, Removed
  size_t common() const { return unchanged + moved_group + now_trainable + now_frozen; }
  size_t total() const { return common() + reshaped + added + removed; }
};
TensorFacts count_changes(const std::vector<TensorDiff>& tensors);

struct OptimizerFacts {
  bool has_saved = false;               // the checkpoint holds optimizer state
  std::string saved_type, live_type;    // "Adam", ...; saved "" when none
  std::vector<GroupDiff> groups;        // as in ResumePlan::groups
  std::string objection;  // the optimizer's reason not to take the saved state as is ("" = none, or not asked)
};

struct SchedulerFacts {
  bool changed = false;       // SchedulerCheck::changed
  bool inconsistent = false;  // SchedulerCheck::inconsistent
};

struct ResumeFacts {
  TensorFacts tensors;
  OptimizerFacts optimizer;
  SchedulerFacts scheduler;
};

// What differs, one line each: `shape` the model's structure, `config` the trainable set, the
// optimizer (type, groups, options, objection) and the scheduler. Both empty: nothing changed.
struct ChangeReasons {
  std::vector<std::string> shape, config;
  bool none() const { return shape.empty() && config.empty(); }
};
ChangeReasons change_reasons(const ResumeFacts& facts);

struct ResumeDecision {
  ResumeAction action = ResumeAction::Refuse;
  std::vector<std::string> reasons;  // why (and, when refused, how to proceed), as ResumePlan::reasons
};
// The policies' rules are in resume.h.
ResumeDecision decide(ResumePolicy policy, const ResumeFacts& facts);

}  // namespace sepal::checkpoint
