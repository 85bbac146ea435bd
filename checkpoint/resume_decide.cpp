// resume_decide.cpp: decide() and the reasons it gives: the resume policies' rules (resume.h),
// applied to the facts the comparisons found. Looks at no tensor, optimizer or scheduler.
#include "checkpoint/resume_decide.h"

namespace sepal::checkpoint {

namespace {

std::string count_text(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

TensorFacts count_changes(const std::vector<TensorDiff>& tensors) {
  TensorFacts f;
  for (const TensorDiff& t : tensors) {
    switch (t.change) {
      case ParamChange::Reshaped: ++f.reshaped; break;
      case ParamChange::New: ++f.added; break;
      case ParamChange::Removed: ++f.removed; break;
      case ParamChange::NowTrainable: ++f.now_trainable; break;
      case ParamChange::NowFrozen: ++f.now_frozen; break;
      case ParamChange::MovedGroup: ++f.moved_group; break;
      case ParamChange::Unchanged: ++f.unchanged; break;
    }
  }
  return f;
}

ChangeReasons change_reasons(const ResumeFacts& facts) {
  ChangeReasons r;
  const TensorFacts& t = facts.tensors;
  const OptimizerFacts& o = facts.optimizer;
  if (t.reshaped) r.shape.push_back(count_text(t.reshaped, "tensor changed shape or dtype", "tensors changed shape or dtype"));
  if (t.added) r.shape.push_back(count_text(t.added, "tensor of the model is not in the checkpoint", "tensors of the model are not in the checkpoint"));
  if (t.removed) r.shape.push_back(count_text(t.removed, "tensor of the checkpoint is not in the model", "tensors of the checkpoint are not in the model"));
  if (t.now_trainable) r.config.push_back(count_text(t.now_trainable, "parameter is trainable now that was frozen", "parameters are trainable now that were frozen"));
  if (t.now_frozen) r.config.push_back(count_text(t.now_frozen, "parameter is frozen now that was trainable", "parameters are frozen now that were trainable"));
  if (t.moved_group) r.config.push_back(count_text(t.moved_group, "parameter moved to another optimizer group", "parameters moved to another optimizer group"));
  if (o.has_saved) {
    if (o.saved_type != o.live_type) r.config.push_back("the optimizer changed from " + o.saved_type + " to " + o.live_type);
    for (const GroupDiff& g : o.groups) {
      const std::string head = "optimizer group " + std::to_string(g.index);
      if (g.is_new) r.config.push_back(head + " is new");
      else if (g.is_removed) r.config.push_back(head + " is gone");
      else if (!g.added.empty() || !g.removed.empty()) r.config.push_back(head + " has other members");
      if (!g.options.empty()) {
        std::string names;
        for (const OptionDiff& opt : g.options) names += (names.empty() ? "" : ", ") + opt.name;
        r.config.push_back(head + " has other options (" + names + ")");
      }
    }
  }
  if (facts.scheduler.changed) r.config.push_back("the scheduler changed");
  if (facts.scheduler.inconsistent) r.config.push_back("the saved scheduler does not match the saved learning rates");
  if (!o.objection.empty()) r.config.push_back(o.objection);
  return r;
}

ResumeDecision decide(ResumePolicy policy, const ResumeFacts& facts) {
  ChangeReasons r = change_reasons(facts);
  const bool has_opt = facts.optimizer.has_saved;
  ResumeDecision d;
  auto refuse = [&](std::vector<std::string> why, const std::string& how) {
    d.action = ResumeAction::Refuse;
    d.reasons = std::move(why);
    if (!how.empty()) d.reasons.push_back(how);
  };
  auto act = [&](ResumeAction action, std::vector<std::string> why) {
    d.action = action;
    d.reasons = std::move(why);
  };
  switch (policy) {
    case ResumePolicy::Strict: {
      if (!has_opt) r.config.push_back("the checkpoint holds no optimizer state");
      if (r.none()) {
        act(ResumeAction::Full, {"nothing changed"});
      } else {
        std::vector<std::string> why = r.shape;
        why.insert(why.end(), r.config.begin(), r.config.end());
        refuse(why, "strict resumes only an identical configuration; to proceed use policy merge (or auto)");
      }
      return d;
    }
    case ResumePolicy::Auto:
      if (!r.shape.empty()) {
        std::vector<std::string> why = r.shape;
        why.push_back("auto does not load a checkpoint into a model of another shape");
        refuse(why, "to proceed: policy merge loads the " + std::to_string(facts.tensors.common()) +
                        " matching tensors and their optimizer state and keeps the other tensors as "
                        "initialised; policy weights-only loads the same weights with a fresh optimizer");
      } else if (!has_opt) {
        act(ResumeAction::WeightsOnly, {"the checkpoint holds no optimizer state"});
      } else if (!r.config.empty()) {
        act(ResumeAction::Merge, r.config);
      } else {
        act(ResumeAction::Full, {"nothing changed"});
      }
      return d;
    case ResumePolicy::Merge:
    case ResumePolicy::WeightsOnly: {
      if (facts.tensors.common() == 0 && facts.tensors.total() > 0) {
        refuse({"no tensor of the checkpoint matches the model by name, shape and dtype (the wrong checkpoint?)"}, "");
        return d;
      }
      std::vector<std::string> why = {std::string("policy ") + to_string(policy) + " was asked for"};
      why.insert(why.end(), r.shape.begin(), r.shape.end());
      why.insert(why.end(), r.config.begin(), r.config.end());
      if (r.none() && has_opt)
        why.push_back("nothing changed: a full resume (policy auto) would also restore the scheduler");
      act(policy == ResumePolicy::Merge ? ResumeAction::Merge : ResumeAction::WeightsOnly, why);
      return d;
    }
  }
  return d;
}

}  // namespace sepal::checkpoint
