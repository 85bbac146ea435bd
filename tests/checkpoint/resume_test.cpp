// resume_test.cpp: the resume planner on a small MLP, one case per kind of change: nothing
// changed (auto and strict resume fully, scheduler and scheduled lrs included), frozen and moved
// parameters, another optimizer type, a changed scheduler, no optimizer in the checkpoint, new
// and removed tensors, nothing in common, and a plan applied to other objects.
#include <gtest/gtest.h>

#include "checkpoint/resume.h"
#include "ckpt_test_util.h"

namespace {

using namespace sepal;
using namespace sepal::testing;
namespace ck = sepal::checkpoint;

// The configuration trained_state() uses, on fresh weights: body (0.*, 0.bias frozen) Adam lr
// 1e-2, head (2.*) lr 1e-3 amsgrad, StepLR(2, 0.5). Variations are set by the arguments.
struct Live {
  std::shared_ptr<nn::Sequential> model = small_mlp(42);
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<optim::LRScheduler> sched;
  explicit Live(bool freeze_body = false, bool one_group = false, bool sgd = false, int64_t step_size = 2) {
    nn::NamedTensors head, body;
    for (const auto& [name, t] : model->named_parameters()) (name.rfind("2.", 0) == 0 ? head : body).emplace_back(name, t);
    for (auto& [name, t] : body)
      if (name == "0.bias" || freeze_body) t.requires_grad_(false);
    if (sgd) {
      auto sgd_opt = std::make_unique<optim::SGD>(body, optim::SGDOptions(1e-2));
      sgd_opt->add_param_group(head, optim::SGDOptions(1e-3));
      opt = std::move(sgd_opt);
    } else if (one_group) {
      nn::NamedTensors all = body;
      all.insert(all.end(), head.begin(), head.end());
      opt = std::make_unique<optim::Adam>(all, optim::AdamOptions(1e-2));
    } else {
      auto adam = std::make_unique<optim::Adam>(body, optim::AdamOptions(1e-2));
      adam->add_param_group(head, optim::AdamOptions(1e-3).amsgrad(true));
      opt = std::move(adam);
    }
    sched = std::make_unique<optim::StepLR>(*opt, step_size, 0.5);
  }
  ck::ResumePlan plan(const ck::Checkpoint& c, ck::ResumePolicy p) const {
    return ck::plan_resume(c, *model, *opt, sched.get(), p);
  }
  void apply(const ck::ResumePlan& p, const ck::Checkpoint& c) { ck::apply_resume(p, c, *model, *opt, sched.get()); }
};

bool mentions(const ck::ResumePlan& plan, const std::string& needle) {
  return plan.str().find(needle) != std::string::npos;
}

TEST(Resume, ParsesPolicies) {
  EXPECT_EQ(ck::parse_resume_policy("auto"), ck::ResumePolicy::Auto);
  EXPECT_EQ(ck::parse_resume_policy("strict"), ck::ResumePolicy::Strict);
  EXPECT_EQ(ck::parse_resume_policy("merge"), ck::ResumePolicy::Merge);
  EXPECT_EQ(ck::parse_resume_policy("weights-only"), ck::ResumePolicy::WeightsOnly);
  try {
    ck::parse_resume_policy("full");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("auto, strict, merge or weights-only"), std::string::npos);
  }
}

TEST(Resume, NothingChangedResumesFullyUnderAutoAndStrict) {
  TrainedState s = trained_state(3);  // StepLR(2, 0.5) has halved the lrs once
  const ck::Checkpoint c = s.capture();
  for (auto policy : {ck::ResumePolicy::Auto, ck::ResumePolicy::Strict}) {
    Live live;
    ck::ResumePlan plan = live.plan(c, policy);
    SCOPED_TRACE(plan.str());
    ASSERT_EQ(plan.action, ck::ResumeAction::Full);
    EXPECT_TRUE(plan.continues_run());
    EXPECT_EQ(plan.params_with(ck::ParamChange::Unchanged).size(), 4u);
    for (const ck::GroupDiff& g : plan.groups) EXPECT_FALSE(g.changed()) << g.index;  // lr compared as configured
    live.apply(plan, c);
    EXPECT_TRUE(same_state(live.model->state_dict(), s.model->state_dict()));
    EXPECT_EQ(live.opt->lr(0), s.opt->lr(0));  // the scheduled lr, restored
    EXPECT_EQ(live.opt->lr(0), 5e-3);
    EXPECT_EQ(live.sched->last_epoch(), 3);
    EXPECT_TRUE(same_bits(*live.opt->state("2.weight")->find("max_exp_avg_sq"),
                          *s.opt->state("2.weight")->find("max_exp_avg_sq")));
    // Both continue identically.
    train_step(*live.model, *live.opt, 500);
    TrainedState again = trained_state(3);
    train_step(*again.model, *again.opt, 500);
    EXPECT_TRUE(same_state(live.model->state_dict(), again.model->state_dict()));
  }
}

TEST(Resume, FrozenAndMovedParametersMerge) {
  const ck::Checkpoint c = trained_state(2).capture();
  Live frozen(/*freeze_body=*/true);
  ck::ResumePlan plan = frozen.plan(c, ck::ResumePolicy::Auto);
  SCOPED_TRACE(plan.str());
  EXPECT_EQ(plan.action, ck::ResumeAction::Merge);
  EXPECT_EQ(plan.params_with(ck::ParamChange::NowFrozen), (std::vector<std::string>{"0.weight"}));
  EXPECT_EQ(plan.params_with(ck::ParamChange::Unchanged), (std::vector<std::string>{"0.bias", "2.weight", "2.bias"}));
  EXPECT_TRUE(mentions(plan, "1 parameter is frozen now that was trainable"));

  Live merged(false, /*one_group=*/true);
  ck::ResumePlan p2 = merged.plan(c, ck::ResumePolicy::Auto);
  SCOPED_TRACE(p2.str());
  EXPECT_EQ(p2.action, ck::ResumeAction::Merge);
  EXPECT_EQ(p2.params_with(ck::ParamChange::MovedGroup), (std::vector<std::string>{"2.weight", "2.bias"}));
  EXPECT_TRUE(mentions(p2, "2.weight (group 1 -> 0)"));
  EXPECT_TRUE(p2.group(1)->is_removed);
  // Moved parameters keep their state unless the new group needs buffers it lacks: the head was
  // in an amsgrad group and keeps max_exp_avg_sq, which a plain Adam group does not know.
  merged.apply(p2, c);
  EXPECT_NE(merged.opt->state("0.weight"), nullptr);
  EXPECT_EQ(merged.opt->state("0.weight")->step, 2);
  EXPECT_EQ(merged.opt->lr(0), 1e-2);
  EXPECT_EQ(p2.find("2.weight")->keeps_state, merged.opt->state("2.weight") != nullptr);
  EXPECT_TRUE(ck::plan_resume(c, *merged.model, *merged.opt, merged.sched.get(), ck::ResumePolicy::Strict).refused());
}

TEST(Resume, AnotherOptimizerTypeMergesWithFreshState) {
  const ck::Checkpoint c = trained_state(2).capture();
  Live sgd(false, false, /*sgd=*/true);
  ck::ResumePlan plan = sgd.plan(c, ck::ResumePolicy::Auto);
  SCOPED_TRACE(plan.str());
  EXPECT_EQ(plan.action, ck::ResumeAction::Merge);
  EXPECT_TRUE(mentions(plan, "the optimizer changed from Adam to SGD"));
  for (const ck::TensorDiff& t : plan.tensors) EXPECT_FALSE(t.keeps_state) << t.name;
  sgd.apply(plan, c);
  EXPECT_EQ(sgd.opt->num_states(), 0u);
  EXPECT_TRUE(same_state(sgd.model->state_dict(), c.model));
}

TEST(Resume, AChangedSchedulerMergesAndStrictRefuses) {
  const ck::Checkpoint c = trained_state(2).capture();
  Live live(false, false, false, /*step_size=*/5);
  ck::ResumePlan plan = live.plan(c, ck::ResumePolicy::Auto);
  SCOPED_TRACE(plan.str());
  EXPECT_EQ(plan.action, ck::ResumeAction::Merge);
  EXPECT_TRUE(plan.scheduler.changed);
  EXPECT_TRUE(mentions(plan, "setting step_size: saved 2"));
  EXPECT_TRUE(mentions(plan, "the scheduler changed"));
  EXPECT_TRUE(live.plan(c, ck::ResumePolicy::Strict).refused());
  live.apply(plan, c);
  EXPECT_EQ(live.sched->last_epoch(), 0);
  EXPECT_EQ(live.opt->state("2.weight")->step, 2);
}

TEST(Resume, ACheckpointWithoutOptimizerLoadsWeightsOnly) {
  TrainedState s = trained_state(2);
  const ck::Checkpoint c = ck::capture(*s.model, nullptr, nullptr, {});
  Live live;
  ck::ResumePlan plan = live.plan(c, ck::ResumePolicy::Auto);
  SCOPED_TRACE(plan.str());
  EXPECT_EQ(plan.action, ck::ResumeAction::WeightsOnly);
  EXPECT_TRUE(mentions(plan, "holds no optimizer state"));
  EXPECT_TRUE(live.plan(c, ck::ResumePolicy::Strict).refused());
  live.apply(plan, c);
  EXPECT_TRUE(same_state(live.model->state_dict(), c.model));
}

TEST(Resume, NewAndRemovedTensorsAreRefusedByAuto) {
  const ck::Checkpoint c = trained_state(1).capture();
  // The checkpoint lacks one tensor the model has, and holds one the model lacks.
  ck::Checkpoint other = c;
  nn::StateDict renamed;
  for (const auto& [name, t] : c.model) renamed.insert(name == "2.bias" ? "2.offset" : name, t);
  other.model = renamed;
  for (ck::ParamIdentity& p : other.params)
    if (p.name == "2.bias") p.name = "2.offset";
  for (auto& g : other.optimizer->groups)
    for (auto& n : g.params)
      if (n == "2.bias") n = "2.offset";
  auto st = other.optimizer->state.extract("2.bias");
  st.key() = "2.offset";
  other.optimizer->state.insert(std::move(st));
  Live live;
  ck::ResumePlan plan = live.plan(other, ck::ResumePolicy::Auto);
  SCOPED_TRACE(plan.str());
  EXPECT_TRUE(plan.refused());
  EXPECT_EQ(plan.params_with(ck::ParamChange::New), (std::vector<std::string>{"2.bias"}));
  EXPECT_EQ(plan.params_with(ck::ParamChange::Removed), (std::vector<std::string>{"2.offset"}));
  EXPECT_TRUE(mentions(plan, "1 tensor of the model is not in the checkpoint"));
  EXPECT_TRUE(mentions(plan, "1 tensor of the checkpoint is not in the model"));
  ck::ResumePlan merge = live.plan(other, ck::ResumePolicy::Merge);
  EXPECT_EQ(merge.action, ck::ResumeAction::Merge);
  EXPECT_FALSE(merge.find("2.bias")->keeps_state);
  EXPECT_TRUE(merge.find("2.weight")->keeps_state);
}

TEST(Resume, NothingInCommonIsRefusedEvenWhenMergeIsAsked) {
  ck::Checkpoint c;
  c.model.insert("unrelated", zeros({2}));
  c.params = {{"unrelated", {2}, DType::Float32, true, -1}};
  Live live;
  for (auto policy : {ck::ResumePolicy::Merge, ck::ResumePolicy::WeightsOnly}) {
    ck::ResumePlan plan = live.plan(c, policy);
    EXPECT_TRUE(plan.refused()) << plan.str();
    EXPECT_TRUE(mentions(plan, "the wrong checkpoint?"));
  }
}

TEST(Resume, APlanAppliesOnlyToTheObjectsItWasMadeFor) {
  const ck::Checkpoint c = trained_state(1).capture();
  Live a;
  ck::ResumePlan plan = a.plan(c, ck::ResumePolicy::Auto);
  ASSERT_EQ(plan.action, ck::ResumeAction::Full);
  Live sgd(false, false, true);
  EXPECT_THROW(ck::apply_resume(plan, c, *sgd.model, *sgd.opt, sgd.sched.get()), Error);
  auto bigger = std::make_shared<nn::Sequential>(nn::ModuleList{std::make_shared<nn::Linear>(4, 7)});
  optim::Adam opt(bigger->named_parameters());
  EXPECT_THROW(ck::apply_resume(plan, c, *bigger, opt, nullptr), Error);
}

}  // namespace
