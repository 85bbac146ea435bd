// resume.cpp: the policy and action names, plan_resume (compare, summarise the facts, decide,
// work out the effects) and apply_resume (carry out). The plan's optimizer verdicts come from
// Optimizer::check_state_dict on exactly the state apply_resume will load, so what the plan says
// is kept is what is kept. The comparisons are in resume_compare.cpp, the decision in
// resume_decide.cpp, the text in resume_text.cpp.
#include "checkpoint/resume.h"

#include <set>
#include <utility>

#include "checkpoint/resume_compare.h"
#include "checkpoint/resume_decide.h"

namespace sepal::checkpoint {

namespace {

// The one list of policy names: resume_policy_names, parse_resume_policy and to_string read it.
constexpr std::pair<ResumePolicy, const char*> kPolicyNames[] = {
    {ResumePolicy::Auto, "auto"}, {ResumePolicy::Strict, "strict"}, {ResumePolicy::Merge, "merge"},
    {ResumePolicy::WeightsOnly, "weights-only"}};

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

const std::vector<std::string>& resume_policy_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [policy, name] : kPolicyNames) out.push_back(name);
    return out;
  }();
  return names;
}

ResumePolicy parse_resume_policy(const std::string& text) {
  for (const auto& [policy, name] : kPolicyNames)
    if (text == name) return policy;
  if (text == "weights_only") return ResumePolicy::WeightsOnly;  // the older spelling
  const std::vector<std::string>& names = resume_policy_names();
  std::string expected;
  for (size_t i = 0; i < names.size(); ++i)
    expected += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  throw Error("unknown resume policy '" + text + "' (expected " + expected + ")");
}

const char* to_string(ResumePolicy policy) {
  for (const auto& [p, name] : kPolicyNames)
    if (p == policy) return name;
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

namespace {

// The optimizer's own verdict on taking the saved state as is (a full resume), and the reason
// against it for the plan ("" when it accepts). Asked only when nothing else changed.
std::optional<optim::OptimizerLoadReport> check_full_restore(const Checkpoint& ckpt, const optim::Optimizer& opt,
                                                             std::string& objection) {
  try {
    optim::OptimizerLoadReport report = opt.check_state_dict(*ckpt.optimizer);
    if (!report.ok()) objection = "the optimizer reports: " + report.str();
    return report;
  } catch (const Error& e) {  // a saved state this optimizer cannot take as is (unknown options)
    objection = std::string("the optimizer cannot restore the saved state as is: ") + e.what();
    return std::nullopt;
  }
}

// What the decided action does, tensor by tensor (weights loaded, optimizer state kept), and
// with the scheduler.
void work_out_effects(ResumePlan& plan, const Checkpoint& ckpt, const optim::Optimizer& opt,
                      const optim::Scheduler* sched, const std::optional<optim::OptimizerLoadReport>& full_report) {
  std::set<std::string> kept;
  if (plan.action == ResumeAction::Full && full_report) {
    kept.insert(full_report->loaded.begin(), full_report->loaded.end());
  } else if (plan.action == ResumeAction::Merge && ckpt.optimizer && plan.saved_optimizer == plan.live_optimizer) {
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
  SchedulerCheck& sc = plan.scheduler;
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
}

}  // namespace

ResumePlan plan_resume(const Checkpoint& ckpt, const nn::Module& model, const optim::Optimizer& opt,
                       const optim::Scheduler* sched, ResumePolicy policy) {
  ResumePlan plan;
  plan.policy = policy;
  const TrainingMeta& m = ckpt.meta;
  plan.source = "epoch " + std::to_string(m.epoch) + (m.arch.empty() ? "" : ", " + m.arch) +
                (m.mode.empty() ? "" : ", " + m.mode) + (m.sepal_version.empty() ? "" : ", sepal " + m.sepal_version);
  plan.tensors = compare_tensors(ckpt, model, opt);
  plan.live_optimizer = opt.type();
  plan.saved_optimizer = ckpt.optimizer ? ckpt.optimizer->type : "";
  plan.groups = compare_groups(ckpt, opt);
  plan.scheduler = compare_scheduler(ckpt, sched, opt);

  ResumeFacts facts;
  facts.tensors = count_changes(plan.tensors);
  facts.optimizer = {ckpt.optimizer.has_value(), plan.saved_optimizer, plan.live_optimizer, plan.groups, ""};
  facts.scheduler = {plan.scheduler.changed, plan.scheduler.inconsistent};
  // A full resume also needs the optimizer to accept the saved state as is.
  std::optional<optim::OptimizerLoadReport> full_report;
  if (facts.optimizer.has_saved && change_reasons(facts).none())
    full_report = check_full_restore(ckpt, opt, facts.optimizer.objection);

  ResumeDecision decision = decide(policy, facts);
  plan.action = decision.action;
  plan.reasons = std::move(decision.reasons);
  work_out_effects(plan, ckpt, opt, sched, full_report);
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
