// resume.cpp: plan_resume (compare, decide, explain) and apply_resume (carry out). The plan's
// optimizer verdicts come from Optimizer::check_state_dict on exactly the state apply_resume will
// load, so what the plan says is kept is what is kept. Text rendering is in resume_text.cpp.
#include "checkpoint/resume.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

namespace sepal::checkpoint {

namespace {

// Hyperparameters of a scheduler: every saved value and list except its progress.
const std::set<std::string> kSchedulerProgress = {"last_epoch", "step_count", "best", "num_bad_epochs",
                                                  "cooldown_counter", "base_lrs", "last_lr"};

// The lr a group was configured with: initial_lr when a scheduler recorded one, else lr.
std::optional<double> configured(const optim::Options& o, const std::string& name) {
  if (name == "lr") {
    if (auto it = o.find("initial_lr"); it != o.end()) return it->second;
  }
  if (auto it = o.find(name); it != o.end()) return it->second;
  return std::nullopt;
}

std::vector<OptionDiff> option_diffs(const optim::Options& saved, const optim::Options& live) {
  std::set<std::string> names;
  for (const auto& [k, v] : saved) names.insert(k);
  for (const auto& [k, v] : live) names.insert(k);
  names.erase("initial_lr");  // folded into lr
  std::vector<OptionDiff> out;
  for (const std::string& n : names) {
    auto s = configured(saved, n), l = configured(live, n);
    if (s != l) out.push_back({n, s, l});
  }
  return out;
}

// The optimizer state dict a merge or weights-only resume loads: the live type, groups and
// options, and (keep_state) the saved state of every live group member present in the
// checkpoint with the same shape. Optimizer::load_state_dict(.., strict=false) on it keeps the
// live options and starts every other member fresh.
optim::OptimizerStateDict merged_state(const Checkpoint& ckpt, const optim::Optimizer& opt, bool keep_state) {
  optim::OptimizerStateDict out;
  out.type = opt.type();
  for (const optim::ParamGroup& g : opt.param_groups()) out.groups.push_back({g.options(), g.names()});
  if (!keep_state || !ckpt.optimizer || ckpt.optimizer->type != opt.type()) return out;
  for (const optim::ParamGroup& g : opt.param_groups())
    for (size_t i = 0; i < g.size(); ++i) {
      auto st = ckpt.optimizer->state.find(g.names()[i]);
      if (st == ckpt.optimizer->state.end()) continue;
      bool same = true;
      for (const auto& [buf, t] : st->second.buffers) same = same && t.shape() == g.params()[i].shape();
      if (same) out.state.emplace(st->first, st->second);
    }
  return out;
}

}  // namespace

ResumePolicy parse_resume_policy(const std::string& text) {
  if (text == "auto") return ResumePolicy::Auto;
  if (text == "strict") return ResumePolicy::Strict;
  if (text == "merge") return ResumePolicy::Merge;
  if (text == "weights-only" || text == "weights_only") return ResumePolicy::WeightsOnly;
  throw Error("unknown resume policy '" + text + "' (expected auto, strict, merge or weights-only)");
}

const char* policy_name(ResumePolicy p) {
  switch (p) {
    case ResumePolicy::Auto: return "auto";
    case ResumePolicy::Strict: return "strict";
    case ResumePolicy::Merge: return "merge";
    case ResumePolicy::WeightsOnly: return "weights-only";
  }
  return "unknown";
}

const char* action_name(ResumeAction a) {
  switch (a) {
    case ResumeAction::Full: return "full resume";
    case ResumeAction::Merge: return "merge";
    case ResumeAction::WeightsOnly: return "weights only";
    case ResumeAction::Refuse: return "refuse";
  }
  return "unknown";
}

const char* change_name(ParamChange c) {
  switch (c) {
    case ParamChange::Unchanged: return "unchanged";
    case ParamChange::MovedGroup: return "moved to another group";
    case ParamChange::NowTrainable: return "now trainable";
    case ParamChange::NowFrozen: return "now frozen";
    case ParamChange::New: return "new";
    case ParamChange::Removed: return "removed";
    case ParamChange::Reshaped: return "reshaped";
  }
  return "unknown";
}

std::vector<std::string> ResumePlan::params_with(ParamChange change) const {
  std::vector<std::string> out;
  for (const TensorDiff& t : tensors)
    if (!t.buffer && t.change == change) out.push_back(t.name);
  return out;
}

const TensorDiff* ResumePlan::find(const std::string& name) const {
  for (const TensorDiff& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const GroupDiff* ResumePlan::group(int64_t index) const {
  for (const GroupDiff& g : groups)
    if (g.index == index) return &g;
  return nullptr;
}

ResumeRefused::ResumeRefused(const ResumePlan& plan) : Error(plan.str()), plan_(plan) {}

ResumePlan plan_resume(const Checkpoint& ckpt, const nn::Module& model, const optim::Optimizer& opt,
                       const optim::Scheduler* sched, ResumePolicy policy) {
  ResumePlan plan;
  plan.policy = policy;
  const TrainingMeta& m = ckpt.meta;
  plan.source = "epoch " + std::to_string(m.epoch) + (m.arch.empty() ? "" : ", " + m.arch) +
                (m.mode.empty() ? "" : ", " + m.mode) + (m.sepal_version.empty() ? "" : ", sepal " + m.sepal_version);

  // ---- parameters and buffers ----
  std::unordered_map<std::string, const ParamIdentity*> saved_params;
  for (const ParamIdentity& p : ckpt.params) saved_params.emplace(p.name, &p);
  const bool has_opt = ckpt.optimizer.has_value();
  std::set<std::string> live_names;
  for (const auto& [name, t] : model.named_parameters()) {
    live_names.insert(name);
    TensorDiff d;
    d.name = name;
    d.live_shape = t.shape();
    d.live_dtype = t.dtype();
    if (auto g = opt.group_of(name)) d.live_group = static_cast<int64_t>(*g);
    d.live_trainable = t.requires_grad() && d.live_group >= 0;
    auto it = saved_params.find(name);
    if (it == saved_params.end()) {
      d.change = ParamChange::New;
    } else {
      const ParamIdentity& s = *it->second;
      d.saved_shape = s.shape;
      d.saved_dtype = s.dtype;
      d.saved_group = s.group;
      d.saved_trainable = s.trainable && s.group >= 0;
      d.has_saved_state = has_opt && ckpt.optimizer->state.count(name) > 0;
      if (s.shape != d.live_shape || s.dtype != d.live_dtype) d.change = ParamChange::Reshaped;
      else if (d.saved_trainable && !d.live_trainable) d.change = ParamChange::NowFrozen;
      else if (!d.saved_trainable && d.live_trainable) d.change = ParamChange::NowTrainable;
      else if (d.saved_trainable && d.saved_group != d.live_group) d.change = ParamChange::MovedGroup;
      else d.change = ParamChange::Unchanged;
    }
    plan.tensors.push_back(std::move(d));
  }
  for (const ParamIdentity& s : ckpt.params)
    if (!live_names.count(s.name)) {
      TensorDiff d;
      d.name = s.name;
      d.change = ParamChange::Removed;
      d.saved_shape = s.shape;
      d.saved_dtype = s.dtype;
      d.saved_group = s.group;
      d.saved_trainable = s.trainable && s.group >= 0;
      d.has_saved_state = has_opt && ckpt.optimizer->state.count(s.name) > 0;
      plan.tensors.push_back(std::move(d));
    }
  std::set<std::string> live_buffers;
  for (const auto& [name, t] : model.named_buffers()) {
    live_buffers.insert(name);
    TensorDiff d;
    d.name = name;
    d.buffer = true;
    d.live_shape = t.shape();
    d.live_dtype = t.dtype();
    const Tensor* s = saved_params.count(name) ? nullptr : ckpt.model.find(name);
    if (!s) {
      d.change = ParamChange::New;
    } else {
      d.saved_shape = s->shape();
      d.saved_dtype = s->dtype();
      d.change = s->shape() != t.shape() || s->dtype() != t.dtype() ? ParamChange::Reshaped : ParamChange::Unchanged;
    }
    plan.tensors.push_back(std::move(d));
  }
  for (const auto& [name, t] : ckpt.model)
    if (!saved_params.count(name) && !live_buffers.count(name)) {
      TensorDiff d;
      d.name = name;
      d.buffer = true;
      d.change = ParamChange::Removed;
      d.saved_shape = t.shape();
      d.saved_dtype = t.dtype();
      plan.tensors.push_back(std::move(d));
    }

  // ---- optimizer groups ----
  plan.live_optimizer = opt.type();
  plan.saved_optimizer = has_opt ? ckpt.optimizer->type : "";
  const size_t live_groups = opt.num_param_groups();
  const size_t saved_groups = has_opt ? ckpt.optimizer->groups.size() : 0;
  for (size_t gi = 0; gi < std::max(live_groups, saved_groups); ++gi) {
    GroupDiff g;
    g.index = static_cast<int64_t>(gi);
    static const std::vector<std::string> none;
    const std::vector<std::string>& live = gi < live_groups ? opt.param_group(gi).names() : none;
    const std::vector<std::string>& old = gi < saved_groups ? ckpt.optimizer->groups[gi].params : none;
    g.is_new = gi >= saved_groups;
    g.is_removed = gi >= live_groups;
    g.live_size = live.size();
    g.saved_size = old.size();
    const std::set<std::string> live_set(live.begin(), live.end()), old_set(old.begin(), old.end());
    if (!g.is_new && !g.is_removed) {
      for (const std::string& n : live)
        if (!old_set.count(n)) g.added.push_back(n);
      for (const std::string& n : old)
        if (!live_set.count(n)) g.removed.push_back(n);
      g.options = option_diffs(ckpt.optimizer->groups[gi].options, opt.param_group(gi).options());
    }
    if (gi < live_groups) g.live_lr = opt.param_group(gi).lr();
    if (gi < saved_groups)
      if (auto it = ckpt.optimizer->groups[gi].options.find("lr"); it != ckpt.optimizer->groups[gi].options.end())
        g.saved_lr = it->second;
    plan.groups.push_back(std::move(g));
  }

  // ---- scheduler ----
  SchedulerCheck& sc = plan.scheduler;
  sc.saved_type = ckpt.scheduler ? ckpt.scheduler->type : "";
  sc.live_type = sched ? sched->type() : "";
  bool sched_inconsistent = false;
  if (sc.saved_type != sc.live_type) {
    sc.changed = true;
    sc.findings.push_back("type: saved " + (sc.saved_type.empty() ? std::string("(none)") : sc.saved_type) + ", now " +
                          (sc.live_type.empty() ? std::string("(none)") : sc.live_type));
  } else if (sched && ckpt.scheduler) {
    const optim::SchedulerStateDict live = sched->state_dict();
    const optim::SchedulerStateDict& saved = *ckpt.scheduler;
    std::set<std::string> keys;
    for (const auto& [k, v] : live.values) keys.insert(k);
    for (const auto& [k, v] : saved.values) keys.insert(k);
    for (const std::string& k : keys) {
      if (kSchedulerProgress.count(k)) continue;
      auto l = live.values.find(k), s = saved.values.find(k);
      if (l == live.values.end() || s == saved.values.end() || l->second != s->second) {
        sc.changed = true;
        sc.findings.push_back("setting " + k + ": saved " +
                              (s == saved.values.end() ? std::string("(absent)") : std::to_string(s->second)) + ", now " +
                              (l == live.values.end() ? std::string("(absent)") : std::to_string(l->second)));
      }
    }
    std::set<std::string> lists;
    for (const auto& [k, v] : live.lists) lists.insert(k);
    for (const auto& [k, v] : saved.lists) lists.insert(k);
    for (const std::string& k : lists) {
      if (kSchedulerProgress.count(k)) continue;
      auto l = live.lists.find(k), s = saved.lists.find(k);
      if (l == live.lists.end() || s == saved.lists.end() || l->second != s->second) {
        sc.changed = true;
        sc.findings.push_back("setting " + k + " differs");
      }
    }
  }
  // The saved scheduler against the saved optimizer's learning rates.
  if (ckpt.scheduler && has_opt) {
    const auto& saved = *ckpt.scheduler;
    const auto& groups = ckpt.optimizer->groups;
    if (auto b = saved.lists.find("base_lrs"); b != saved.lists.end()) {
      if (b->second.size() != groups.size()) {
        sched_inconsistent = true;
        sc.findings.push_back("the saved scheduler has " + std::to_string(b->second.size()) +
                              " base learning rates for " + std::to_string(groups.size()) + " saved optimizer groups");
      } else {
        for (size_t gi = 0; gi < groups.size(); ++gi) {
          auto init = groups[gi].options.find("initial_lr");
          if (init == groups[gi].options.end() || init->second != b->second[gi]) {
            sched_inconsistent = true;
            sc.findings.push_back("the saved scheduler's base lr of group " + std::to_string(gi) +
                                  " does not match that group's initial_lr");
          }
        }
      }
    }
    if (auto l = saved.lists.find("last_lr"); l != saved.lists.end()) {
      bool match = l->second.size() == groups.size();
      for (size_t gi = 0; match && gi < groups.size(); ++gi) {
        auto lr = groups[gi].options.find("lr");
        match = lr != groups[gi].options.end() && lr->second == l->second[gi];
      }
      if (!match) {
        sched_inconsistent = true;
        sc.findings.push_back("the saved scheduler's last learning rates differ from the saved optimizer's");
      }
    }
  }
  if (sched) {
    const std::vector<double>& last = sched->get_last_lr();
    bool match = last.size() == live_groups;
    for (size_t gi = 0; match && gi < live_groups; ++gi) match = last[gi] == opt.param_group(gi).lr();
    if (!match)
      sc.findings.push_back("note: the live scheduler's last learning rates differ from the optimizer's (groups added "
                            "after the scheduler are adopted at its next step)");
  }

  // ---- decide ----
  size_t reshaped = 0, added = 0, removed = 0, common = 0, now_trainable = 0, now_frozen = 0, moved = 0;
  for (const TensorDiff& t : plan.tensors) {
    switch (t.change) {
      case ParamChange::Reshaped: ++reshaped; break;
      case ParamChange::New: ++added; break;
      case ParamChange::Removed: ++removed; break;
      case ParamChange::NowTrainable: ++now_trainable; ++common; break;
      case ParamChange::NowFrozen: ++now_frozen; ++common; break;
      case ParamChange::MovedGroup: ++moved; ++common; break;
      case ParamChange::Unchanged: ++common; break;
    }
  }
  std::vector<std::string> shape_reasons, config_reasons;
  auto count_text = [](size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  if (reshaped) shape_reasons.push_back(count_text(reshaped, "tensor changed shape or dtype", "tensors changed shape or dtype"));
  if (added) shape_reasons.push_back(count_text(added, "tensor of the model is not in the checkpoint", "tensors of the model are not in the checkpoint"));
  if (removed) shape_reasons.push_back(count_text(removed, "tensor of the checkpoint is not in the model", "tensors of the checkpoint are not in the model"));
  if (now_trainable) config_reasons.push_back(count_text(now_trainable, "parameter is trainable now that was frozen", "parameters are trainable now that were frozen"));
  if (now_frozen) config_reasons.push_back(count_text(now_frozen, "parameter is frozen now that was trainable", "parameters are frozen now that were trainable"));
  if (moved) config_reasons.push_back(count_text(moved, "parameter moved to another optimizer group", "parameters moved to another optimizer group"));
  if (has_opt && plan.saved_optimizer != plan.live_optimizer)
    config_reasons.push_back("the optimizer changed from " + plan.saved_optimizer + " to " + plan.live_optimizer);
  for (const GroupDiff& g : plan.groups) {
    const std::string head = "optimizer group " + std::to_string(g.index);
    if (!has_opt) break;
    if (g.is_new) config_reasons.push_back(head + " is new");
    else if (g.is_removed) config_reasons.push_back(head + " is gone");
    else if (!g.added.empty() || !g.removed.empty()) config_reasons.push_back(head + " has other members");
    if (!g.options.empty()) {
      std::string names;
      for (const OptionDiff& o : g.options) names += (names.empty() ? "" : ", ") + o.name;
      config_reasons.push_back(head + " has other options (" + names + ")");
    }
  }
  if (sc.changed) config_reasons.push_back("the scheduler changed");
  if (sched_inconsistent) config_reasons.push_back("the saved scheduler does not match the saved learning rates");

  // Full resume also needs the optimizer to accept the saved state as is.
  std::optional<optim::OptimizerLoadReport> full_report;
  if (has_opt && shape_reasons.empty() && config_reasons.empty()) {
    try {
      full_report = opt.check_state_dict(*ckpt.optimizer);
      if (!full_report->ok()) config_reasons.push_back("the optimizer reports: " + full_report->str());
    } catch (const Error& e) {  // a saved state this optimizer cannot take as is (unknown options)
      full_report.reset();
      config_reasons.push_back(std::string("the optimizer cannot restore the saved state as is: ") + e.what());
    }
  }

  auto refuse = [&](std::vector<std::string> why, const std::string& how) {
    plan.action = ResumeAction::Refuse;
    plan.reasons = std::move(why);
    if (!how.empty()) plan.reasons.push_back(how);
  };
  const std::string how_shape = "to proceed: policy merge loads the " + std::to_string(common) +
                                " matching tensors and their optimizer state and keeps the other tensors as "
                                "initialised; policy weights-only loads the same weights with a fresh optimizer";
  switch (policy) {
    case ResumePolicy::Strict:
      if (!has_opt) config_reasons.push_back("the checkpoint holds no optimizer state");
      if (!shape_reasons.empty() || !config_reasons.empty()) {
        std::vector<std::string> why = shape_reasons;
        why.insert(why.end(), config_reasons.begin(), config_reasons.end());
        refuse(why, "strict resumes only an identical configuration; to proceed use policy merge (or auto)");
      } else {
        plan.action = ResumeAction::Full;
        plan.reasons.push_back("nothing changed");
      }
      break;
    case ResumePolicy::Auto:
      if (!shape_reasons.empty()) {
        std::vector<std::string> why = shape_reasons;
        why.push_back("auto does not load a checkpoint into a model of another shape");
        refuse(why, how_shape);
      } else if (!has_opt) {
        plan.action = ResumeAction::WeightsOnly;
        plan.reasons.push_back("the checkpoint holds no optimizer state");
      } else if (!config_reasons.empty()) {
        plan.action = ResumeAction::Merge;
        plan.reasons = config_reasons;
      } else {
        plan.action = ResumeAction::Full;
        plan.reasons.push_back("nothing changed");
      }
      break;
    case ResumePolicy::Merge:
    case ResumePolicy::WeightsOnly:
      if (common == 0 && !plan.tensors.empty()) {
        refuse({"no tensor of the checkpoint matches the model by name, shape and dtype (the wrong checkpoint?)"}, "");
        break;
      }
      plan.action = policy == ResumePolicy::Merge ? ResumeAction::Merge : ResumeAction::WeightsOnly;
      plan.reasons.push_back(std::string("policy ") + policy_name(policy) + " was asked for");
      plan.reasons.insert(plan.reasons.end(), shape_reasons.begin(), shape_reasons.end());
      plan.reasons.insert(plan.reasons.end(), config_reasons.begin(), config_reasons.end());
      if (shape_reasons.empty() && config_reasons.empty() && has_opt)
        plan.reasons.push_back("nothing changed: a full resume (policy auto) would also restore the scheduler");
      break;
  }

  // ---- what the action does, tensor by tensor ----
  std::set<std::string> kept;
  if (plan.action == ResumeAction::Full && full_report) {
    kept.insert(full_report->loaded.begin(), full_report->loaded.end());
  } else if (plan.action == ResumeAction::Merge && has_opt && plan.saved_optimizer == plan.live_optimizer) {
    optim::OptimizerLoadReport r = opt.check_state_dict(merged_state(ckpt, opt, true));
    kept.insert(r.loaded.begin(), r.loaded.end());
  }
  const bool loads = plan.action != ResumeAction::Refuse;
  for (TensorDiff& t : plan.tensors) {
    const bool present = t.change != ParamChange::New && t.change != ParamChange::Removed &&
                         t.change != ParamChange::Reshaped;
    t.loads_weights = loads && present;
    t.keeps_state = !t.buffer && kept.count(t.name) > 0;
  }
  switch (plan.action) {
    case ResumeAction::Full:
      sc.decision = sched ? (ckpt.scheduler ? sc.live_type + " restored at epoch " +
                                                  std::to_string(static_cast<int64_t>(ckpt.scheduler->values.count("last_epoch")
                                                                                          ? ckpt.scheduler->values.at("last_epoch")
                                                                                          : 0))
                                            : "none saved; left as configured")
                          : "none";
      break;
    case ResumeAction::Merge:
    case ResumeAction::WeightsOnly:
      sc.decision = sched ? sc.live_type + " starts fresh on the new configuration's learning rates" +
                                (ckpt.scheduler ? " (the saved " + sc.saved_type + " is not restored)" : "")
                          : "none";
      break;
    case ResumeAction::Refuse: sc.decision = "nothing is changed"; break;
  }
  return plan;
}

void apply_resume(const ResumePlan& plan, const Checkpoint& ckpt, nn::Module& model, optim::Optimizer& opt,
                  optim::Scheduler* sched) {
  if (plan.refused()) throw ResumeRefused(plan);
  // The plan must describe these objects.
  for (const auto& [name, t] : model.named_parameters()) {
    const TensorDiff* d = plan.find(name);
    if (!d || d->buffer || d->live_shape != t.shape())
      throw Error("apply_resume: parameter '" + name + "' is not as the plan describes it; make the plan with "
                  "plan_resume on the same model and optimizer");
  }
  if (plan.live_optimizer != opt.type() || (plan.scheduler.live_type != (sched ? sched->type() : "")))
    throw Error("apply_resume: the optimizer or scheduler is not the one the plan was made for");

  if (plan.action == ResumeAction::Full) {
    if (!ckpt.optimizer) throw Error("apply_resume: a full resume needs the checkpoint's optimizer state");
    model.load_state_dict(ckpt.model, /*strict=*/true);
    opt.load_state_dict(*ckpt.optimizer, /*strict=*/true);
    if (sched && ckpt.scheduler) sched->load_state_dict(*ckpt.scheduler);
    return;
  }
  nn::StateDict weights;
  for (const TensorDiff& d : plan.tensors)
    if (d.loads_weights)
      if (const Tensor* t = ckpt.model.find(d.name)) weights.insert(d.name, *t);
  model.load_state_dict(weights, /*strict=*/false);
  opt.load_state_dict(merged_state(ckpt, opt, plan.action == ResumeAction::Merge), /*strict=*/false);
}

}  // namespace sepal::checkpoint
