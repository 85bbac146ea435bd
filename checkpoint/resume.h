// resume.h: the resume planner. plan_resume() compares a checkpoint with the live model and the
// optimizer (and scheduler) configured for this run, parameter by parameter and group by group,
// and decides what to do under a policy; ResumePlan::str() says what it found and what it will
// do, like a diff a person can act on. apply_resume() carries the plan out.
//
//   auto ckpt = checkpoint::load_checkpoint(path);
//   auto plan = checkpoint::plan_resume(ckpt, *model, opt, &sched, ResumePolicy::Auto);
//   std::cout << plan.str();                  // a dry run stops here
//   checkpoint::apply_resume(plan, ckpt, *model, opt, &sched);   // throws ResumeRefused if refused
//
// Actions:
//   Full        nothing changed: weights, optimizer state and options (scheduled lrs), and the
//               scheduler are restored; the run continues exactly (restore meta's generators,
//               loader position, epoch, history and best as well: see continues_run()).
//   Merge       the trainable set, the groups, their options or the scheduler changed: weights
//               load where name and shape match; step/exp_avg/exp_avg_sq are kept for each
//               parameter present on both sides with the same shape and trainable now (whatever
//               group it is in now); new and newly trainable parameters start fresh in the group
//               the new configuration puts them in; every group keeps the new configuration's
//               options (learning rates included); the scheduler is left as configured (fresh,
//               on the new lrs). Parameters whose shape changed keep their live (initial) values.
//   WeightsOnly weights load where name and shape match; optimizer state is cleared, options and
//               scheduler stay as configured.
//   Refuse      nothing is changed; apply_resume throws ResumeRefused with the plan.
// Policies:
//   Strict      Full when nothing changed, else Refuse.
//   Merge       Merge (Full's effect when nothing changed is the same minus scheduler state; an
//               explicit merge never refuses unless the checkpoint has no parameter in common).
//   WeightsOnly WeightsOnly.
//   Auto        Full when nothing changed; Merge when only the trainable set, the groups, their
//               options, the optimizer type or the scheduler changed; WeightsOnly when the
//               checkpoint has no optimizer state; Refuse when a parameter or buffer changed
//               shape or dtype, or was added or removed (a different model: choose merge or
//               weights-only explicitly).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "checkpoint/resume_policy.h"  // ResumePolicy, parse_resume_policy, to_string

namespace sepal::checkpoint {

enum class ResumeAction : uint8_t { Full, Merge, WeightsOnly, Refuse };
const char* action_name(ResumeAction action);  // "full resume", "merge", "weights only", "refuse"

enum class ParamChange : uint8_t {
  Unchanged,     // same shape and dtype, same trainability, same group
  MovedGroup,    // trainable on both sides, in another group now
  NowTrainable,  // was frozen (or in no group), is trainable now
  NowFrozen,     // was trainable, is frozen (or in no group) now
  New,           // in the model, not in the checkpoint
  Removed,       // in the checkpoint, not in the model
  Reshaped,      // shape or dtype differs (a 1000-class head replaced by a 102-class one)
};
const char* change_name(ParamChange change);

// One parameter or buffer. "Trainable" means requires_grad and in an optimizer group.
struct TensorDiff {
  std::string name;
  bool buffer = false;  // a buffer (running statistics): only Unchanged/New/Removed/Reshaped
  ParamChange change = ParamChange::Unchanged;
  std::vector<int64_t> saved_shape, live_shape;  // empty on the side where it is absent
  DType saved_dtype = DType::Float32, live_dtype = DType::Float32;
  bool saved_trainable = false, live_trainable = false;
  int64_t saved_group = -1, live_group = -1;
  bool has_saved_state = false;  // the checkpoint holds optimizer state for it
  bool keeps_state = false;      // the chosen action restores that state
  bool loads_weights = false;    // the chosen action copies the saved tensor into the model
};

struct OptionDiff {
  std::string name;
  std::optional<double> saved, live;  // saved: the configured value (lr: initial_lr when scheduled)
};

struct GroupDiff {
  int64_t index = 0;
  bool is_new = false, is_removed = false;  // only in the live optimizer / only in the checkpoint
  size_t saved_size = 0, live_size = 0;
  std::vector<std::string> added, removed;  // members relative to the saved group
  std::vector<OptionDiff> options;          // configured options that differ
  double live_lr = 0;                       // the lr this group will train with
  std::optional<double> saved_lr;           // the saved group's current (scheduled) lr
  bool changed() const { return is_new || is_removed || !added.empty() || !removed.empty() || !options.empty(); }
};

struct SchedulerCheck {
  std::string saved_type, live_type;  // "" when absent
  bool changed = false;               // type, hyperparameters or presence differ
  bool inconsistent = false;          // the saved scheduler disagrees with the saved optimizer's lrs
  std::vector<std::string> findings;  // differences and inconsistencies, one line each
  std::string decision;               // what the chosen action does with the scheduler
};

struct ResumePlan {
  std::string source;  // the checkpoint's description: "epoch 5, resnet18, feature-extract"
  ResumePolicy policy = ResumePolicy::Auto;
  ResumeAction action = ResumeAction::Refuse;
  std::vector<TensorDiff> tensors;  // parameters in live order, then removed ones, then buffers
  std::string saved_optimizer, live_optimizer;  // types; saved "" when the checkpoint has none
  std::vector<GroupDiff> groups;                // every group, live order, then removed ones
  SchedulerCheck scheduler;
  std::vector<std::string> reasons;  // why this action (and, when refused, how to proceed)

  bool refused() const { return action == ResumeAction::Refuse; }
  // Whether the caller should restore meta's epoch, generators, loader position, history and
  // best accuracy (true for Full only).
  bool continues_run() const { return action == ResumeAction::Full; }
  // Parameters (not buffers) with this change.
  std::vector<std::string> params_with(ParamChange change) const;
  const TensorDiff* find(const std::string& name) const;
  const GroupDiff* group(int64_t index) const;
  // The plan as text: a header with the action and reasons, then each kind of change with the
  // names (at most max_names per list, "... and N more"), groups, scheduler, what will happen.
  std::string str(size_t max_names = 12) const;
};

// Thrown by apply_resume for a refused plan; what() is the plan's text.
class ResumeRefused : public Error {
 public:
  explicit ResumeRefused(const ResumePlan& plan);
  const ResumePlan& plan() const { return plan_; }

 private:
  ResumePlan plan_;
};

// Compares (resume_compare.h), decides (decide() in resume_decide.h) and works out what the
// action does; changes nothing. `sched` may be null (no scheduler this run).
ResumePlan plan_resume(const Checkpoint& ckpt, const nn::Module& model, const optim::Optimizer& opt,
                       const optim::Scheduler* sched, ResumePolicy policy);

// Carries out `plan` (from plan_resume with these same objects). Throws ResumeRefused when
// refused (changing nothing), and sepal::Error when the objects do not match the plan. The plan
// has already checked what loading checks, so a failure part-way is not expected; should one
// happen, the objects may be partly loaded: build them afresh before trying again.
void apply_resume(const ResumePlan& plan, const Checkpoint& ckpt, nn::Module& model, optim::Optimizer& opt,
                  optim::Scheduler* sched);

}  // namespace sepal::checkpoint
