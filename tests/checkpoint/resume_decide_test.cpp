// resume_decide_test.cpp: decide() alone, on facts built by hand: every policy against every
// kind of change (nothing, the trainable set, a moved parameter, the optimizer type, its groups
// and options, the scheduler, the optimizer's own objection, no saved optimizer state, tensors
// reshaped, added or removed, nothing in common), asserting the action and the reasons. The
// planner on real models is tested in resume_test.cpp and resume_resnet_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "checkpoint/resume_decide.h"

namespace {

namespace ck = sepal::checkpoint;
using ck::ResumeAction;
using ck::ResumePolicy;

// Ten unchanged tensors, an Adam checkpoint with one unchanged group: nothing changed.
ck::ResumeFacts same() {
  ck::ResumeFacts f;
  f.tensors.unchanged = 10;
  f.optimizer.has_saved = true;
  f.optimizer.saved_type = f.optimizer.live_type = "Adam";
  ck::GroupDiff g;
  g.saved_size = g.live_size = 2;
  f.optimizer.groups.push_back(g);
  return f;
}

bool says(const ck::ResumeDecision& d, const std::string& needle) {
  return std::any_of(d.reasons.begin(), d.reasons.end(),
                     [&](const std::string& r) { return r.find(needle) != std::string::npos; });
}

struct Change {
  const char* name;
  std::function<void(ck::ResumeFacts&)> apply;
  const char* reason;  // a reason every policy that does not refuse for another cause gives
};

// The configuration changes: auto merges, strict refuses, merge and weights-only do as asked.
const std::vector<Change>& config_changes() {
  static const std::vector<Change> changes = {
      {"now trainable", [](ck::ResumeFacts& f) { f.tensors.unchanged -= 3; f.tensors.now_trainable = 3; },
       "3 parameters are trainable now that were frozen"},
      {"now frozen", [](ck::ResumeFacts& f) { f.tensors.unchanged -= 1; f.tensors.now_frozen = 1; },
       "1 parameter is frozen now that was trainable"},
      {"moved group", [](ck::ResumeFacts& f) { f.tensors.unchanged -= 2; f.tensors.moved_group = 2; },
       "2 parameters moved to another optimizer group"},
      {"optimizer type", [](ck::ResumeFacts& f) { f.optimizer.live_type = "SGD"; },
       "the optimizer changed from Adam to SGD"},
      {"new group", [](ck::ResumeFacts& f) {
         ck::GroupDiff g;
         g.index = 1;
         g.is_new = true;
         f.optimizer.groups.push_back(g);
       }, "optimizer group 1 is new"},
      {"removed group", [](ck::ResumeFacts& f) {
         ck::GroupDiff g;
         g.index = 1;
         g.is_removed = true;
         f.optimizer.groups.push_back(g);
       }, "optimizer group 1 is gone"},
      {"members", [](ck::ResumeFacts& f) { f.optimizer.groups[0].added = {"fc.bias"}; },
       "optimizer group 0 has other members"},
      {"options", [](ck::ResumeFacts& f) { f.optimizer.groups[0].options = {{"lr", 1e-2, 1e-3}, {"eps", 1e-8, 1e-6}}; },
       "optimizer group 0 has other options (lr, eps)"},
      {"scheduler", [](ck::ResumeFacts& f) { f.scheduler.changed = true; }, "the scheduler changed"},
      {"inconsistent scheduler", [](ck::ResumeFacts& f) { f.scheduler.inconsistent = true; },
       "the saved scheduler does not match the saved learning rates"},
      {"optimizer objection", [](ck::ResumeFacts& f) { f.optimizer.objection = "the optimizer reports: x"; },
       "the optimizer reports: x"},
  };
  return changes;
}

// The structural changes: auto and strict refuse, merge and weights-only proceed.
const std::vector<Change>& shape_changes() {
  static const std::vector<Change> changes = {
      {"reshaped", [](ck::ResumeFacts& f) { f.tensors.unchanged -= 2; f.tensors.reshaped = 2; },
       "2 tensors changed shape or dtype"},
      {"added", [](ck::ResumeFacts& f) { f.tensors.added = 1; }, "1 tensor of the model is not in the checkpoint"},
      {"removed", [](ck::ResumeFacts& f) { f.tensors.removed = 4; },
       "4 tensors of the checkpoint are not in the model"},
  };
  return changes;
}

TEST(ResumeDecide, NothingChanged) {
  const ck::ResumeFacts f = same();
  EXPECT_TRUE(ck::change_reasons(f).none());
  for (ResumePolicy p : {ResumePolicy::Auto, ResumePolicy::Strict}) {
    ck::ResumeDecision d = ck::decide(p, f);
    EXPECT_EQ(d.action, ResumeAction::Full) << ck::to_string(p);
    EXPECT_EQ(d.reasons, std::vector<std::string>{"nothing changed"});
  }
  ck::ResumeDecision merge = ck::decide(ResumePolicy::Merge, f);
  EXPECT_EQ(merge.action, ResumeAction::Merge);
  EXPECT_EQ(merge.reasons, (std::vector<std::string>{
                               "policy merge was asked for",
                               "nothing changed: a full resume (policy auto) would also restore the scheduler"}));
  ck::ResumeDecision weights = ck::decide(ResumePolicy::WeightsOnly, f);
  EXPECT_EQ(weights.action, ResumeAction::WeightsOnly);
  EXPECT_TRUE(says(weights, "policy weights-only was asked for"));
}

TEST(ResumeDecide, ConfigurationChanges) {
  for (const Change& c : config_changes()) {
    SCOPED_TRACE(c.name);
    ck::ResumeFacts f = same();
    c.apply(f);
    EXPECT_FALSE(ck::change_reasons(f).none());
    EXPECT_TRUE(ck::change_reasons(f).shape.empty());
    ck::ResumeDecision a = ck::decide(ResumePolicy::Auto, f);
    EXPECT_EQ(a.action, ResumeAction::Merge);
    EXPECT_EQ(a.reasons, std::vector<std::string>{c.reason});
    ck::ResumeDecision s = ck::decide(ResumePolicy::Strict, f);
    EXPECT_EQ(s.action, ResumeAction::Refuse);
    EXPECT_TRUE(says(s, c.reason));
    EXPECT_TRUE(says(s, "strict resumes only an identical configuration"));
    for (ResumePolicy p : {ResumePolicy::Merge, ResumePolicy::WeightsOnly}) {
      ck::ResumeDecision d = ck::decide(p, f);
      EXPECT_EQ(d.action, p == ResumePolicy::Merge ? ResumeAction::Merge : ResumeAction::WeightsOnly);
      EXPECT_EQ(d.reasons, (std::vector<std::string>{std::string("policy ") + ck::to_string(p) + " was asked for",
                                                     c.reason}));
    }
  }
}

TEST(ResumeDecide, StructuralChanges) {
  for (const Change& c : shape_changes()) {
    SCOPED_TRACE(c.name);
    ck::ResumeFacts f = same();
    c.apply(f);
    ck::ResumeDecision a = ck::decide(ResumePolicy::Auto, f);
    EXPECT_EQ(a.action, ResumeAction::Refuse);
    ASSERT_EQ(a.reasons.size(), 3u);
    EXPECT_EQ(a.reasons[0], c.reason);
    EXPECT_EQ(a.reasons[1], "auto does not load a checkpoint into a model of another shape");
    EXPECT_NE(a.reasons[2].find("policy merge loads the " + std::to_string(f.tensors.common()) + " matching tensors"),
              std::string::npos);
    ck::ResumeDecision s = ck::decide(ResumePolicy::Strict, f);
    EXPECT_EQ(s.action, ResumeAction::Refuse);
    EXPECT_EQ(s.reasons.front(), c.reason);
    for (ResumePolicy p : {ResumePolicy::Merge, ResumePolicy::WeightsOnly}) {
      ck::ResumeDecision d = ck::decide(p, f);
      EXPECT_EQ(d.action, p == ResumePolicy::Merge ? ResumeAction::Merge : ResumeAction::WeightsOnly);
      EXPECT_TRUE(says(d, c.reason));
    }
  }
}

TEST(ResumeDecide, ShapeReasonsComeFirstAndAutoRefusesThemWhateverElseChanged) {
  ck::ResumeFacts f = same();
  shape_changes()[0].apply(f);
  config_changes()[0].apply(f);
  ck::ResumeDecision a = ck::decide(ResumePolicy::Auto, f);
  EXPECT_EQ(a.action, ResumeAction::Refuse);
  EXPECT_FALSE(says(a, "trainable now"));  // auto names only what it refuses for
  ck::ResumeDecision m = ck::decide(ResumePolicy::Merge, f);
  ASSERT_EQ(m.reasons.size(), 3u);
  EXPECT_EQ(m.reasons[1], "2 tensors changed shape or dtype");
  EXPECT_EQ(m.reasons[2], "3 parameters are trainable now that were frozen");
}

TEST(ResumeDecide, NoSavedOptimizerState) {
  ck::ResumeFacts f = same();
  f.optimizer.has_saved = false;
  f.optimizer.saved_type.clear();
  f.optimizer.groups[0].is_new = true;  // group facts count only against saved state
  ck::ResumeDecision a = ck::decide(ResumePolicy::Auto, f);
  EXPECT_EQ(a.action, ResumeAction::WeightsOnly);
  EXPECT_EQ(a.reasons, std::vector<std::string>{"the checkpoint holds no optimizer state"});
  ck::ResumeDecision s = ck::decide(ResumePolicy::Strict, f);
  EXPECT_EQ(s.action, ResumeAction::Refuse);
  EXPECT_TRUE(says(s, "the checkpoint holds no optimizer state"));
  ck::ResumeDecision m = ck::decide(ResumePolicy::Merge, f);
  EXPECT_EQ(m.action, ResumeAction::Merge);
  EXPECT_EQ(m.reasons, std::vector<std::string>{"policy merge was asked for"});  // no "nothing changed" note
  // a structural change still refuses under auto, before the missing state is considered
  f.tensors.added = 1;
  EXPECT_EQ(ck::decide(ResumePolicy::Auto, f).action, ResumeAction::Refuse);
}

TEST(ResumeDecide, NothingInCommonRefusesEveryPolicy) {
  ck::ResumeFacts f = same();
  f.tensors = {};
  f.tensors.added = 3;
  f.tensors.removed = 5;
  for (ResumePolicy p : {ResumePolicy::Auto, ResumePolicy::Strict, ResumePolicy::Merge, ResumePolicy::WeightsOnly}) {
    ck::ResumeDecision d = ck::decide(p, f);
    EXPECT_EQ(d.action, ResumeAction::Refuse) << ck::to_string(p);
  }
  for (ResumePolicy p : {ResumePolicy::Merge, ResumePolicy::WeightsOnly})
    EXPECT_TRUE(says(ck::decide(p, f), "no tensor of the checkpoint matches the model"));
  // an empty model against an empty checkpoint is not "the wrong checkpoint"
  f.tensors = {};
  EXPECT_EQ(ck::decide(ResumePolicy::Merge, f).action, ResumeAction::Merge);
}

TEST(ResumeDecide, CountsChangesOfTensorDiffs) {
  std::vector<ck::TensorDiff> diffs(7);
  const ck::ParamChange kinds[] = {ck::ParamChange::Unchanged, ck::ParamChange::MovedGroup,
                                   ck::ParamChange::NowTrainable, ck::ParamChange::NowFrozen,
                                   ck::ParamChange::New, ck::ParamChange::Removed, ck::ParamChange::Reshaped};
  for (size_t i = 0; i < diffs.size(); ++i) diffs[i].change = kinds[i];
  diffs.push_back(diffs[0]);
  const ck::TensorFacts t = ck::count_changes(diffs);
  EXPECT_EQ(t.unchanged, 2u);
  EXPECT_EQ(t.moved_group + t.now_trainable + t.now_frozen + t.added + t.removed + t.reshaped, 6u);
  EXPECT_EQ(t.common(), 5u);
  EXPECT_EQ(t.total(), 8u);
}

TEST(ResumeDecide, PolicyNamesRoundTrip) {
  for (const std::string& name : ck::resume_policy_names())
    EXPECT_EQ(ck::to_string(ck::parse_resume_policy(name)), name);
  EXPECT_EQ(ck::resume_policy_names(), (std::vector<std::string>{"auto", "strict", "merge", "weights-only"}));
  EXPECT_EQ(ck::parse_resume_policy("weights_only"), ResumePolicy::WeightsOnly);
  try {
    ck::parse_resume_policy("yolo");
    FAIL();
  } catch (const sepal::Error& e) {
    EXPECT_STREQ(e.what(), "unknown resume policy 'yolo' (expected auto, strict, merge or weights-only)");
  }
}

}  // namespace
