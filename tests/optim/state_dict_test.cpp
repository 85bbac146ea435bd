// state_dict_test.cpp: optimizer state dicts: a restored optimizer continues bit for bit (also
// when the groups list the parameters in another order: state follows names, not positions);
// mismatched state gives the per-parameter and per-group report (strict loads throw it and
// change nothing; non-strict loads keep what matches and start the rest fresh); malformed and
// foreign state dicts are errors; loaded tensors are copies converted to the parameter's dtype.
#include <gtest/gtest.h>

#include <sepal.h>

#include "cuda/cuda_test_util.h"
#include "optim/golden_problem.h"

namespace sepal::testing {
namespace {

using optim::ParamIssue;

Tensor leaf(const Shape& shape, double start) {
  Tensor t = raw::cast(arange(start, start + static_cast<double>(numel_of(shape)) * 0.5, 0.5), DType::Float32);
  t = raw::reshape(t, shape);
  t.requires_grad_(true);
  return t;
}

std::map<std::string, Tensor> snapshot(const std::map<std::string, Tensor>& params) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : params) {
    Tensor c = raw::clone(t);
    c.requires_grad_(true);
    out[name] = c;
  }
  return out;
}

// Run the golden problem to step 60, save, then compare 60 more steps of the original with a
// fresh optimizer (groups built in another order) that loaded the state.
void check_resume(const GoldenConfig& cfg) {
  SCOPED_TRACE(cfg.name);
  GoldenRun run(cfg);
  for (int k = 1; k <= 60; ++k) run.step(cfg, k);
  const optim::OptimizerStateDict saved = run.opt->state_dict().clone();
  std::map<std::string, Tensor> params = snapshot(run.params);

  // The resumed optimizer lists its groups' members in reverse order and was built with other
  // default options: everything must come from the state dict, matched by name.
  std::unique_ptr<optim::Optimizer> resumed = make_optimizer(cfg.type, 0.5);
  resumed->add_param_group({{"a.bias", params["a.bias"]}, {"a.weight", params["a.weight"]}});
  resumed->add_param_group({{"b.bias", params["b.bias"]}, {"b.weight", params["b.weight"]}});
  resumed->add_param_group({{"c.weight", params["c.weight"]}});
  const optim::OptimizerLoadReport report = resumed->load_state_dict(saved);
  EXPECT_TRUE(report.ok()) << report.str();
  EXPECT_EQ(report.loaded.size(), 5u);
  EXPECT_EQ(resumed->lr(0), cfg.default_lr());
  for (int k = 61; k <= kGoldenSteps; ++k) {
    run.step(cfg, k);
    for (const GoldenParam& p : golden_params()) {
      Tensor& t = params[p.name];
      if (golden_no_grad(p.id, k)) t.zero_grad(true);
      else t.set_grad(golden_gradient(t, p.id, k, cfg.sign));
    }
    resumed->step();
  }
  for (const GoldenParam& p : golden_params()) {
    EXPECT_TRUE(bitwise_equal(run.params[p.name], params[p.name])) << p.name;
    EXPECT_EQ(run.opt->state(p.name)->step, resumed->state(p.name)->step) << p.name;
  }
}

TEST(OptimizerState, RestoredOptimizerContinuesExactlyMatchedByName) {
  for (const GoldenConfig& cfg : golden_configs()) check_resume(cfg);
}

TEST(OptimizerState, StateDictListsGroupsOptionsAndStateByName) {
  Tensor w = leaf({2, 3}, 1.0), b = leaf({3}, -1.0);
  optim::Adam opt({{"fc.weight", w}}, optim::AdamOptions(0.01).amsgrad(true));
  opt.add_param_group({{"fc.bias", b}}, opt.defaults().lr(0.1));
  w.set_grad(ones({2, 3}));
  opt.step();
  const optim::OptimizerStateDict sd = opt.state_dict();
  EXPECT_EQ(sd.type, "Adam");
  ASSERT_EQ(sd.groups.size(), 2u);
  EXPECT_EQ(sd.groups[0].params, std::vector<std::string>{"fc.weight"});
  EXPECT_EQ(sd.groups[1].options.at("lr"), 0.1);
  EXPECT_EQ(sd.groups[0].options.at("amsgrad"), 1.0);
  ASSERT_EQ(sd.state.size(), 1u);  // fc.bias never had a gradient
  const optim::ParamState& st = sd.state.at("fc.weight");
  EXPECT_EQ(st.step, 1);
  ASSERT_EQ(st.buffers.size(), 3u);
  EXPECT_EQ(st.buffers[0].first, "exp_avg");
  EXPECT_EQ(st.buffers[1].first, "exp_avg_sq");
  EXPECT_EQ(st.buffers[2].first, "max_exp_avg_sq");
  // state_dict() shares storage; clone() is a snapshot.
  const optim::OptimizerStateDict snap = sd.clone();
  w.set_grad(ones({2, 3}));
  opt.step();
  EXPECT_FALSE(bitwise_equal(snap.state.at("fc.weight").find("exp_avg")->clone(), *opt.state("fc.weight")->find("exp_avg")));
  EXPECT_TRUE(bitwise_equal(*sd.state.at("fc.weight").find("exp_avg"), *opt.state("fc.weight")->find("exp_avg")));
}

// The saved model had a 5-class head and "old.bias"; the live one a 10-class head, a new
// "new.bias" and another lr: the report names every difference.
struct Mismatch {
  Tensor backbone = leaf({2, 3}, 1.0), head_w = leaf({10, 4}, 0.0), new_b = leaf({4}, 2.0);
  optim::OptimizerStateDict saved;
  std::unique_ptr<optim::Adam> live;

  Mismatch() {
    Tensor old_head = leaf({5, 4}, 0.0), old_b = leaf({3}, 1.0), old_backbone = leaf({2, 3}, 1.0);
    optim::Adam before({{"backbone.weight", old_backbone}}, optim::AdamOptions(0.001));
    before.add_param_group({{"fc.weight", old_head}, {"old.bias", old_b}}, optim::AdamOptions(0.01));
    old_backbone.set_grad(full({2, 3}, 0.5));
    old_head.set_grad(full({5, 4}, 0.5));
    old_b.set_grad(full({3}, 0.5));
    before.step();
    before.step();
    saved = before.state_dict().clone();
    live = std::make_unique<optim::Adam>(nn::NamedTensors{{"backbone.weight", backbone}}, optim::AdamOptions(0.1));
    live->add_param_group({{"fc.weight", head_w}, {"new.bias", new_b}}, optim::AdamOptions(0.01));
  }
};

TEST(OptimizerState, MismatchedStateGivesThePerParameterReport) {
  Mismatch m;
  const optim::OptimizerLoadReport r = m.live->check_state_dict(m.saved);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.has("fc.weight", ParamIssue::Reshaped));
  EXPECT_TRUE(r.has("new.bias", ParamIssue::Missing));
  EXPECT_TRUE(r.has("old.bias", ParamIssue::Unexpected));
  EXPECT_FALSE(r.has("backbone.weight", ParamIssue::Reshaped));
  EXPECT_EQ(r.params.size(), 3u);
  EXPECT_EQ(r.loaded, std::vector<std::string>{"backbone.weight"});
  EXPECT_EQ(r.fresh, (std::vector<std::string>{"fc.weight", "new.bias"}));
  const optim::GroupReport* g0 = r.group(0);
  ASSERT_NE(g0, nullptr);
  EXPECT_FALSE(g0->members_changed());
  ASSERT_EQ(g0->options.size(), 1u);
  EXPECT_EQ(g0->options[0].name, "lr");
  EXPECT_EQ(g0->options[0].saved, 0.001);
  EXPECT_EQ(g0->options[0].live, 0.1);
  const optim::GroupReport* g1 = r.group(1);
  ASSERT_NE(g1, nullptr);
  EXPECT_EQ(g1->added, std::vector<std::string>{"new.bias"});
  EXPECT_EQ(g1->removed, std::vector<std::string>{"old.bias"});
  EXPECT_TRUE(g1->options.empty());
  const std::string text = r.str();
  for (const char* s : {"parameter 'fc.weight': reshaped: exp_avg [5, 4] vs parameter [10, 4]",
                        "parameter 'new.bias': missing", "parameter 'old.bias': unexpected: in saved group 1 with state",
                        "group 1: members not in the saved group: 'new.bias'",
                        "group 1: saved members not in this group: 'old.bias'", "group 0: option lr: saved 0.001, live 0.1"})
    EXPECT_NE(text.find(s), std::string::npos) << "'" << s << "' not in:\n" << text;
}

TEST(OptimizerState, StrictLoadThrowsTheReportAndChangesNothing) {
  Mismatch m;
  m.backbone.set_grad(ones({2, 3}));
  m.live->step();
  const Tensor exp_avg = m.live->state("backbone.weight")->find("exp_avg")->clone();
  try {
    m.live->load_state_dict(m.saved);
    ADD_FAILURE() << "strict load of mismatched state succeeded";
  } catch (const optim::OptimizerStateError& e) {
    EXPECT_TRUE(e.report().has("fc.weight", ParamIssue::Reshaped));
    EXPECT_NE(std::string(e.what()).find("fc.weight"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("strict = false"), std::string::npos);
  }
  EXPECT_EQ(m.live->lr(0), 0.1);
  EXPECT_EQ(m.live->state("backbone.weight")->step, 1);
  EXPECT_TRUE(bitwise_equal(exp_avg, *m.live->state("backbone.weight")->find("exp_avg")));
}

TEST(OptimizerState, NonStrictLoadKeepsWhatMatchesAndStartsTheRestFresh) {
  Mismatch m;
  m.head_w.set_grad(ones({10, 4}));  // live state for fc.weight, which the load must drop
  m.live->step();
  const optim::OptimizerLoadReport r = m.live->load_state_dict(m.saved, /*strict=*/false);
  EXPECT_FALSE(r.ok());
  const optim::ParamState* kept = m.live->state("backbone.weight");
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->step, 2);
  EXPECT_TRUE(bitwise_equal(*m.saved.state.at("backbone.weight").find("exp_avg_sq"), *kept->find("exp_avg_sq")));
  EXPECT_EQ(m.live->state("fc.weight"), nullptr);
  EXPECT_EQ(m.live->state("new.bias"), nullptr);
  EXPECT_EQ(m.live->lr(0), 0.001);  // options from the saved group
  // Loaded tensors are copies: changing the dict does not reach the optimizer.
  raw::fill_(*m.saved.state.at("backbone.weight").find("exp_avg"), 42.0);
  EXPECT_NE(kept->find("exp_avg")->to_vector<float>()[0], 42.0f);
  // The fresh parameters start at step 1 on their next gradient.
  m.new_b.set_grad(ones({4}));
  m.live->step();
  EXPECT_EQ(m.live->state("new.bias")->step, 1);
}

TEST(OptimizerState, MissingBuffersForeignTypesAndMalformedDictsAreReported) {
  Tensor w = leaf({3}, 1.0);
  optim::Adam opt({{"w", w}});
  w.set_grad(ones({3}));
  opt.step();
  optim::OptimizerStateDict sd = opt.state_dict().clone();

  optim::OptimizerStateDict lacking = sd.clone();
  lacking.state.at("w").buffers.pop_back();  // no exp_avg_sq
  optim::OptimizerLoadReport r = opt.check_state_dict(lacking);
  EXPECT_TRUE(r.has("w", ParamIssue::BadState));
  EXPECT_NE(r.str().find("lacks buffer 'exp_avg_sq'"), std::string::npos) << r.str();

  optim::OptimizerStateDict foreign_buffer = sd.clone();
  foreign_buffer.state.at("w").set("momentum_buffer", zeros({3}));
  EXPECT_TRUE(opt.check_state_dict(foreign_buffer).has("w", ParamIssue::BadState));

  optim::OptimizerStateDict sgd_dict = sd.clone();
  sgd_dict.type = "SGD";
  try {
    opt.check_state_dict(sgd_dict);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("from a SGD optimizer, this one is Adam"), std::string::npos) << e.what();
  }
  optim::OptimizerStateDict twice = sd.clone();
  twice.groups.push_back(twice.groups[0]);
  EXPECT_THROW(opt.check_state_dict(twice), Error);
  optim::OptimizerStateDict unknown_option = sd.clone();
  unknown_option.groups[0].options["momentum"] = 0.9;
  EXPECT_THROW(opt.check_state_dict(unknown_option), Error);
  optim::OptimizerStateDict orphan = sd.clone();
  orphan.state["ghost"] = orphan.state.at("w");
  EXPECT_THROW(opt.check_state_dict(orphan), Error);

  optim::OptimizerStateDict extra_group = sd.clone();
  extra_group.groups.push_back({extra_group.groups[0].options, {}});
  r = opt.check_state_dict(extra_group);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.saved_groups, 2u);
  EXPECT_NE(r.str().find("groups: the saved Adam has 2, this one 1"), std::string::npos) << r.str();
}

TEST(OptimizerState, LoadedBuffersTakeTheParameterDType) {
  Tensor w = leaf({3}, 1.0);
  optim::Adam opt({{"w", w}});
  w.set_grad(ones({3}));
  opt.step();
  optim::OptimizerStateDict sd = opt.state_dict().clone();
  for (auto& [name, t] : sd.state.at("w").buffers) t = raw::cast(t, DType::Float64);
  optim::Adam other({{"w", w}});
  other.load_state_dict(sd);
  EXPECT_EQ(other.state("w")->find("exp_avg")->dtype(), DType::Float32);
  EXPECT_TRUE(bitwise_equal(*opt.state("w")->find("exp_avg"), *other.state("w")->find("exp_avg")));
}

}  // namespace
}  // namespace sepal::testing
