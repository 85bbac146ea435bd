// resume_compare.cpp: the resume planner's comparisons (resume_compare.h): tensors, optimizer
// groups and scheduler, each against the checkpoint. They record what differs; resume_decide.cpp
// decides what to do about it.
#include "checkpoint/resume_compare.h"

#include <algorithm>
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

using SavedParams = std::unordered_map<std::string, const ParamIdentity*>;

// The parameters: live ones in order, then the saved ones the model lacks.
void compare_params(const Checkpoint& ckpt, const SavedParams& saved_params, const nn::Module& model,
                    const optim::Optimizer& opt, std::vector<TensorDiff>& out) {
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
    out.push_back(std::move(d));
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
      out.push_back(std::move(d));
    }
}

// The buffers (the checkpoint's model tensors that are not parameters): live ones, then saved ones.
void compare_buffers(const Checkpoint& ckpt, const SavedParams& saved_params, const nn::Module& model,
                     std::vector<TensorDiff>& out) {
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
    out.push_back(std::move(d));
  }
  for (const auto& [name, t] : ckpt.model)
    if (!saved_params.count(name) && !live_buffers.count(name)) {
      TensorDiff d;
      d.name = name;
      d.buffer = true;
      d.change = ParamChange::Removed;
      d.saved_shape = t.shape();
      d.saved_dtype = t.dtype();
      out.push_back(std::move(d));
    }
}

// The settings of two schedulers of the same type: every value and list but their progress.
void compare_settings(const optim::SchedulerStateDict& live, const optim::SchedulerStateDict& saved, SchedulerCheck& sc) {
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

// The saved scheduler against the saved optimizer's learning rates: base_lrs against each group's
// initial_lr, last_lr against its lr.
void check_saved_lrs(const optim::SchedulerStateDict& saved, const std::vector<optim::GroupStateDict>& groups,
                     SchedulerCheck& sc) {
  if (auto b = saved.lists.find("base_lrs"); b != saved.lists.end()) {
    if (b->second.size() != groups.size()) {
      sc.inconsistent = true;
      sc.findings.push_back("the saved scheduler has " + std::to_string(b->second.size()) +
                            " base learning rates for " + std::to_string(groups.size()) + " saved optimizer groups");
    } else {
      for (size_t gi = 0; gi < groups.size(); ++gi) {
        auto init = groups[gi].options.find("initial_lr");
        if (init == groups[gi].options.end() || init->second != b->second[gi]) {
          sc.inconsistent = true;
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
      sc.inconsistent = true;
      sc.findings.push_back("the saved scheduler's last learning rates differ from the saved optimizer's");
    }
  }
}

}  // namespace

std::vector<TensorDiff> compare_tensors(const Checkpoint& ckpt, const nn::Module& model, const optim::Optimizer& opt) {
  SavedParams saved_params;
  for (const ParamIdentity& p : ckpt.params) saved_params.emplace(p.name, &p);
  std::vector<TensorDiff> out;
  compare_params(ckpt, saved_params, model, opt, out);
  compare_buffers(ckpt, saved_params, model, out);
  return out;
}

std::vector<GroupDiff> compare_groups(const Checkpoint& ckpt, const optim::Optimizer& opt) {
  std::vector<GroupDiff> out;
  const bool has_opt = ckpt.optimizer.has_value();
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
    out.push_back(std::move(g));
  }
  return out;
}

SchedulerCheck compare_scheduler(const Checkpoint& ckpt, const optim::Scheduler* sched, const optim::Optimizer& opt) {
  SchedulerCheck sc;
  sc.saved_type = ckpt.scheduler ? ckpt.scheduler->type : "";
  sc.live_type = sched ? sched->type() : "";
  if (sc.saved_type != sc.live_type) {
    sc.changed = true;
    sc.findings.push_back("type: saved " + (sc.saved_type.empty() ? std::string("(none)") : sc.saved_type) + ", now " +
                          (sc.live_type.empty() ? std::string("(none)") : sc.live_type));
  } else if (sched && ckpt.scheduler) {
    compare_settings(sched->state_dict(), *ckpt.scheduler, sc);
  }
  if (ckpt.scheduler && ckpt.optimizer) check_saved_lrs(*ckpt.scheduler, ckpt.optimizer->groups, sc);
  if (sched) {
    const std::vector<double>& last = sched->get_last_lr();
    bool match = last.size() == opt.num_param_groups();
    for (size_t gi = 0; match && gi < opt.num_param_groups(); ++gi) match = last[gi] == opt.param_group(gi).lr();
    if (!match)
      sc.findings.push_back("note: the live scheduler's last learning rates differ from the optimizer's (groups added "
                            "after the scheduler are adopted at its next step)");
  }
  return sc;
}

}  // namespace sepal::checkpoint
