// resume_resnet_test.cpp: the mission's scenario on a ResNet-18 (5 classes, 32x32 inputs, batch
// 2): a feature-extraction checkpoint (head only trainable, Adam lr 1e-2, StepLR 7/0.1) resumed
// into fine-tuning (head group lr 1e-3, backbone group lr 1e-5). The plan lists exactly what
// changed; merge keeps the head's Adam state bit for bit and the unfrozen backbone moves after
// one step (the PyTorch failure, old groups replacing the new ones, cannot happen); strict
// refuses and changes nothing; weights-only starts a fresh optimizer; a reshaped head is
// reported and refused by auto.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "checkpoint/resume.h"
#include "ckpt_test_util.h"

namespace {

using namespace sepal;
using namespace sepal::testing;
namespace ck = sepal::checkpoint;

bool is_head(const std::string& name) { return name.rfind("fc.", 0) == 0; }

nn::NamedTensors select(const nn::Module& m, bool head) {
  nn::NamedTensors out;
  for (const auto& [name, t] : m.named_parameters())
    if (is_head(name) == head) out.emplace_back(name, t);
  return out;
}

void resnet_step(nn::Module& model, optim::Optimizer& opt, uint64_t seed, int64_t classes) {
  Generator gen(seed);
  Tensor x = randn({2, 3, 32, 32}, {}, &gen);
  Tensor y = randint(0, classes, {2}, DType::Int64, &gen);
  opt.zero_grad();
  cross_entropy(model(x), y).backward();
  opt.step();
}

// Feature extraction for two epochs of one step each, saved and loaded back from a file.
ck::Checkpoint feature_extract_checkpoint(int64_t classes) {
  Generator gen(1);
  auto model = nn::resnet18(classes, &gen);
  model->requires_grad_(false);
  model->child("fc")->requires_grad_(true);
  optim::Adam opt(select(*model, true), optim::AdamOptions(1e-2));
  optim::StepLR sched(opt, 7, 0.1);
  for (int epoch = 0; epoch < 2; ++epoch) {
    resnet_step(*model, opt, 10 + epoch, classes);
    sched.step();
  }
  ck::TrainingMeta meta;
  meta.epoch = 2;
  meta.arch = "resnet18";
  meta.mode = "feature-extract";
  meta.num_classes = classes;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("sepal-fe-" + std::to_string(classes) + "-" + std::to_string(::getpid()) + ".sepal"))
                               .string();
  ck::save_checkpoint(ck::capture(*model, &opt, &sched, meta), path);
  ck::Checkpoint c = ck::load_checkpoint(path);
  std::filesystem::remove(path);
  return c;
}

const ck::Checkpoint& fe5() {
  static const ck::Checkpoint c = feature_extract_checkpoint(5);
  return c;
}

// The fine-tuning configuration: everything trainable, head group lr 1e-3, backbone lr 1e-5.
struct FineTune {
  Generator gen{2};
  std::shared_ptr<nn::ResNet> model;
  std::unique_ptr<optim::Adam> opt;
  std::unique_ptr<optim::StepLR> sched;
  explicit FineTune(int64_t classes = 5) {
    model = nn::resnet18(classes, &gen);
    opt = std::make_unique<optim::Adam>(select(*model, true), optim::AdamOptions(1e-3));
    opt->add_param_group(select(*model, false), optim::AdamOptions(1e-5));
    sched = std::make_unique<optim::StepLR>(*opt, 7, 0.1);
  }
  ck::ResumePlan plan(const ck::Checkpoint& c, ck::ResumePolicy p) const {
    return ck::plan_resume(c, *model, *opt, sched.get(), p);
  }
  void apply(const ck::ResumePlan& plan, const ck::Checkpoint& c) { ck::apply_resume(plan, c, *model, *opt, sched.get()); }
};

TEST(ResumeResNet, FeatureExtractionToFineTuningPlanListsExactlyWhatChanged) {
  const ck::Checkpoint& c = fe5();
  FineTune ft;
  ck::ResumePlan plan = ft.plan(c, ck::ResumePolicy::Auto);
  const std::string text = plan.str();
  SCOPED_TRACE(text);
  if (std::getenv("SEPAL_PRINT_PLANS")) std::cout << text << "\n";
  EXPECT_EQ(plan.action, ck::ResumeAction::Merge);
  EXPECT_EQ(plan.params_with(ck::ParamChange::Unchanged), (std::vector<std::string>{"fc.weight", "fc.bias"}));
  std::vector<std::string> backbone;
  for (const auto& [name, t] : select(*ft.model, false)) backbone.push_back(name);
  ASSERT_EQ(backbone.size(), 60u);
  EXPECT_EQ(plan.params_with(ck::ParamChange::NowTrainable), backbone);
  for (auto change : {ck::ParamChange::New, ck::ParamChange::Removed, ck::ParamChange::Reshaped,
                      ck::ParamChange::NowFrozen, ck::ParamChange::MovedGroup})
    EXPECT_TRUE(plan.params_with(change).empty()) << ck::change_name(change);
  for (const ck::TensorDiff& t : plan.tensors) {
    EXPECT_TRUE(t.loads_weights) << t.name;
    EXPECT_EQ(t.keeps_state, is_head(t.name)) << t.name;
    if (t.buffer) EXPECT_EQ(t.change, ck::ParamChange::Unchanged) << t.name;
  }
  ASSERT_EQ(plan.groups.size(), 2u);
  const ck::GroupDiff& head = plan.groups[0];
  EXPECT_FALSE(head.is_new);
  EXPECT_TRUE(head.added.empty() && head.removed.empty());
  ASSERT_EQ(head.options.size(), 1u);
  EXPECT_EQ(head.options[0].name, "lr");
  EXPECT_EQ(head.options[0].saved, std::optional<double>(1e-2));
  EXPECT_EQ(head.options[0].live, std::optional<double>(1e-3));
  const ck::GroupDiff& body = plan.groups[1];
  EXPECT_TRUE(body.is_new);
  EXPECT_EQ(body.live_size, 60u);
  EXPECT_EQ(body.live_lr, 1e-5);
  EXPECT_FALSE(plan.scheduler.changed);  // same StepLR settings; it still starts fresh
  EXPECT_NE(plan.scheduler.decision.find("starts fresh"), std::string::npos);
  EXPECT_FALSE(plan.continues_run());
  // The text reads like a diff: action, reasons, each change with names, the new lrs.
  for (const char* needle : {"MERGE", "60 parameters are trainable now that were frozen", "now trainable",
                             "layer1.* (12)", "layer4.* (15)", "fc.weight", "lr 0.01 -> 0.001", "group 1: new",
                             "1e-05", "kept for 2", "fresh for 60", "from the new configuration"})
    EXPECT_NE(text.find(needle), std::string::npos) << "missing: " << needle;
}

TEST(ResumeResNet, MergeKeepsTheHeadsAdamStateAndTrainsTheBackbone) {
  const ck::Checkpoint& c = fe5();
  FineTune ft;
  ck::ResumePlan plan = ft.plan(c, ck::ResumePolicy::Merge);
  ASSERT_EQ(plan.action, ck::ResumeAction::Merge) << plan.str();
  ft.apply(plan, c);
  EXPECT_TRUE(same_state(ft.model->state_dict(), c.model));
  for (const char* name : {"fc.weight", "fc.bias"}) {
    const optim::ParamState* st = ft.opt->state(name);
    ASSERT_NE(st, nullptr) << name;
    EXPECT_EQ(st->step, 2);
    for (const char* buf : {"exp_avg", "exp_avg_sq"})
      EXPECT_TRUE(same_bits(*st->find(buf), *c.optimizer->state.at(name).find(buf))) << name << " " << buf;
  }
  EXPECT_EQ(ft.opt->state("layer1.0.conv1.weight"), nullptr);
  EXPECT_EQ(ft.opt->num_param_groups(), 2u);
  EXPECT_EQ(ft.opt->lr(0), 1e-3);  // the new configuration's learning rates
  EXPECT_EQ(ft.opt->lr(1), 1e-5);
  EXPECT_EQ(ft.sched->last_epoch(), 0);  // fresh scheduler

  resnet_step(*ft.model, *ft.opt, 77, 5);
  for (const char* name : {"conv1.weight", "layer1.0.conv1.weight", "layer4.1.bn2.weight", "fc.weight"})
    EXPECT_FALSE(same_bits(*ft.model->state_dict().find(name), *c.model.find(name))) << name << " did not move";
  EXPECT_EQ(ft.opt->state("fc.weight")->step, 3);
  EXPECT_EQ(ft.opt->state("layer1.0.conv1.weight")->step, 1);
}

TEST(ResumeResNet, StrictRefusesAndChangesNothing) {
  const ck::Checkpoint& c = fe5();
  FineTune ft;
  const Tensor before = raw::clone(*ft.model->state_dict().find("layer1.0.conv1.weight"));
  ck::ResumePlan plan = ft.plan(c, ck::ResumePolicy::Strict);
  EXPECT_TRUE(plan.refused());
  try {
    ft.apply(plan, c);
    FAIL() << "strict applied a changed configuration";
  } catch (const ck::ResumeRefused& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("REFUSE"), std::string::npos) << msg;
    EXPECT_NE(msg.find("60 parameters are trainable now that were frozen"), std::string::npos) << msg;
    EXPECT_NE(msg.find("policy merge"), std::string::npos) << msg;
    EXPECT_TRUE(e.plan().refused());
  }
  EXPECT_TRUE(same_bits(*ft.model->state_dict().find("layer1.0.conv1.weight"), before));
  EXPECT_EQ(ft.opt->num_states(), 0u);
}

TEST(ResumeResNet, WeightsOnlyStartsAFreshOptimizer) {
  const ck::Checkpoint& c = fe5();
  FineTune ft;
  resnet_step(*ft.model, *ft.opt, 5, 5);  // give the optimizer some state to be cleared
  ASSERT_GT(ft.opt->num_states(), 0u);
  ck::ResumePlan plan = ft.plan(c, ck::ResumePolicy::WeightsOnly);
  ASSERT_EQ(plan.action, ck::ResumeAction::WeightsOnly) << plan.str();
  for (const ck::TensorDiff& t : plan.tensors) EXPECT_FALSE(t.keeps_state) << t.name;
  ft.apply(plan, c);
  EXPECT_TRUE(same_state(ft.model->state_dict(), c.model));
  EXPECT_EQ(ft.opt->num_states(), 0u);
  EXPECT_EQ(ft.opt->lr(0), 1e-3);
  EXPECT_EQ(ft.opt->lr(1), 1e-5);
}

TEST(ResumeResNet, AReshapedHeadIsReportedAndRefusedByAuto) {
  const ck::Checkpoint c10 = feature_extract_checkpoint(10);
  FineTune ft(5);
  ck::ResumePlan plan = ft.plan(c10, ck::ResumePolicy::Auto);
  const std::string text = plan.str();
  SCOPED_TRACE(text);
  if (std::getenv("SEPAL_PRINT_PLANS")) std::cout << text << "\n";
  EXPECT_TRUE(plan.refused());
  EXPECT_EQ(plan.params_with(ck::ParamChange::Reshaped), (std::vector<std::string>{"fc.weight", "fc.bias"}));
  const ck::TensorDiff* w = plan.find("fc.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->saved_shape, (Shape{10, 512}));
  EXPECT_EQ(w->live_shape, (Shape{5, 512}));
  for (const char* needle : {"REFUSE", "2 tensors changed shape or dtype", "fc.weight [10, 512] -> [5, 512]",
                             "fc.bias [10] -> [5]", "policy merge", "weights-only"})
    EXPECT_NE(text.find(needle), std::string::npos) << "missing: " << needle;
  EXPECT_THROW(ft.apply(plan, c10), ck::ResumeRefused);

  // Merge, asked for explicitly, loads the backbone and keeps the live (new) head.
  const Tensor head = raw::clone(*ft.model->state_dict().find("fc.weight"));
  ck::ResumePlan merge = ft.plan(c10, ck::ResumePolicy::Merge);
  ASSERT_EQ(merge.action, ck::ResumeAction::Merge);
  EXPECT_FALSE(merge.find("fc.weight")->loads_weights);
  EXPECT_FALSE(merge.find("fc.weight")->keeps_state);
  ft.apply(merge, c10);
  EXPECT_TRUE(same_bits(*ft.model->state_dict().find("fc.weight"), head));
  EXPECT_TRUE(same_bits(*ft.model->state_dict().find("layer3.1.conv2.weight"), *c10.model.find("layer3.1.conv2.weight")));
  EXPECT_EQ(ft.opt->num_states(), 0u);
}

}  // namespace
