// profiler_test.cpp: the profiler's bookkeeping (tensor/profiler.h): nothing is recorded while no
// session runs, scopes nest into dotted paths, each backend call is counted once per call under
// its kind, phase and scope, the backward of an op is booked under the scope that recorded its
// node (not the scope backward() is called from), nested calls are booked as self time, and the
// tables add up to the step.
#include <gtest/gtest.h>
#include <sepal.h>

#include <chrono>
#include <thread>

#include "tensor/backend.h"

namespace sepal {
namespace {

using profile::Phase;

// The summed calls and ms of the records matching kind, phase and scope.
profile::OpRecord find(const profile::Profile& p, const std::string& kind, Phase phase, const std::string& scope) {
  profile::OpRecord sum{kind, phase, scope};
  for (const auto& r : p.records)
    if (r.kind == kind && r.phase == phase && r.scope == scope) {
      sum.ms += r.ms;
      sum.calls += r.calls;
    }
  return sum;
}

double calls_of_kind(const profile::Profile& p, const std::string& kind) {
  double n = 0;
  for (const auto& r : p.records)
    if (r.kind == kind) n += r.calls;
  return n;
}

TEST(Profiler, OffByDefaultAndNothingRecordedOutsideASession) {
  EXPECT_FALSE(profile::enabled());
  Backend* plain = &backend_for(Device::cpu());
  Tensor a = randn({4, 4});
  Tensor b = (a + a).relu();  // before any session: not recorded anywhere
  profile::Session session;
  EXPECT_TRUE(profile::enabled());
  EXPECT_NE(&backend_for(Device::cpu()), plain);  // the timing wrapper while recording
  const profile::Profile p = session.finish();
  EXPECT_FALSE(profile::enabled());
  EXPECT_EQ(&backend_for(Device::cpu()), plain);
  EXPECT_TRUE(p.records.empty());
  EXPECT_EQ(p.steps, 1);
  EXPECT_GE(p.step_ms, 0.0);
}

TEST(Profiler, ScopesNestIntoDottedPathsAndCountEachCall) {
  Tensor a = randn({8, 8});
  profile::Session session;
  {
    const profile::Scope outer("layer1");
    EXPECT_NE(profile::current_scope(), 0);
    Tensor x = a + a;
    {
      const profile::Scope inner("0");
      const profile::Scope unnamed("");  // stays in its parent's scope
      x = x + a;
      x = x.relu();
    }
    x = x * a;
  }
  EXPECT_EQ(profile::current_scope(), 0);
  Tensor y = a + a;
  const profile::Profile p = session.finish();
  EXPECT_EQ(find(p, "add", Phase::Forward, "layer1").calls, 1);
  EXPECT_EQ(find(p, "add", Phase::Forward, "layer1.0").calls, 1);
  EXPECT_EQ(find(p, "relu", Phase::Forward, "layer1.0").calls, 1);
  EXPECT_EQ(find(p, "mul", Phase::Forward, "layer1").calls, 1);
  EXPECT_EQ(find(p, "add", Phase::Forward, "").calls, 1);
  EXPECT_EQ(calls_of_kind(p, "add"), 3);
  EXPECT_EQ(calls_of_kind(p, "relu_backward"), 0);  // no graph: nothing required grad
  // the tables: one row per kind and per scope, with the calls summed
  bool saw_add = false;
  for (const auto& row : profile::rows_by_kind(p))
    if (row.name == "add") {
      saw_add = true;
      EXPECT_EQ(row.calls, 3);
      EXPECT_EQ(row.backward_ms, 0.0);
    }
  EXPECT_TRUE(saw_add);
  bool saw_root = false;
  for (const auto& row : profile::rows_by_scope(p)) saw_root |= row.name == "(outside modules)";
  EXPECT_TRUE(saw_root);
}

TEST(Profiler, BackwardIsBookedUnderTheScopeThatRecordedTheNode) {
  Tensor w = randn({16, 16}).requires_grad_();
  Tensor x = randn({4, 16});
  profile::Session session;
  Tensor h;
  {
    const profile::Scope s("fc");
    h = matmul(x, w).relu();
  }
  Tensor loss;
  {
    const profile::Scope s("loss");
    loss = h.sum();
  }
  {
    const profile::Scope s("elsewhere");  // backward() called from another scope changes nothing
    loss.backward();
  }
  const profile::Profile p = session.finish();
  EXPECT_EQ(find(p, "matmul", Phase::Forward, "fc").calls, 1);
  EXPECT_EQ(find(p, "relu", Phase::Forward, "fc").calls, 1);
  EXPECT_EQ(find(p, "relu_backward", Phase::Backward, "fc").calls, 1);
  EXPECT_GE(find(p, "matmul", Phase::Backward, "fc").calls, 1);  // the weight's gradient
  EXPECT_EQ(find(p, "matmul", Phase::Backward, "elsewhere").calls, 0);
  EXPECT_EQ(find(p, "relu_backward", Phase::Backward, "elsewhere").calls, 0);
  EXPECT_EQ(find(p, "sum", Phase::Forward, "loss").calls, 1);
  ASSERT_TRUE(w.grad().defined());
}

TEST(Profiler, StepsDivideTimesAndCalls) {
  Tensor a = randn({8, 8});
  profile::Session session;
  for (int i = 0; i < 4; ++i) Tensor b = a + a;
  const profile::Profile p = session.finish(4);
  EXPECT_EQ(p.steps, 4);
  EXPECT_EQ(find(p, "add", Phase::Forward, "").calls, 1);  // 4 calls over 4 steps
  EXPECT_LE(p.op_ms(), p.step_ms);
  EXPECT_THROW(session.finish(), Error);
  profile::Session again;
  EXPECT_THROW(again.finish(0), Error);
}

TEST(Profiler, OneSessionPerThread) {
  profile::Session session;
  EXPECT_THROW(profile::Session second, Error);
  // another thread records on its own (and sees nothing of this one)
  std::thread other([] {
    EXPECT_FALSE(profile::enabled());
    profile::Session s;
    Tensor a = randn({4});
    Tensor b = a + a;
    EXPECT_EQ(calls_of_kind(s.finish(), "add"), 1);
  });
  other.join();
  Tensor a = randn({4});
  EXPECT_EQ(calls_of_kind(session.finish(), "add"), 0);
}

TEST(Profiler, NestedCallsAreBookedAsSelfTime) {
  using namespace std::chrono_literals;
  Backend& cpu = backend_for(Device::cpu());
  profile::Session session;
  {
    const profile::OpTimer outer(cpu, "outer");
    std::this_thread::sleep_for(20ms);
    {
      const profile::OpTimer inner(cpu, "inner", "_part");
      std::this_thread::sleep_for(40ms);
    }
  }
  const profile::Profile p = session.finish();
  const double outer = find(p, "outer", Phase::Forward, "").ms, inner = find(p, "inner_part", Phase::Forward, "").ms;
  EXPECT_GE(inner, 39.0);
  EXPECT_GE(outer, 19.0);
  EXPECT_LT(outer, inner);  // the inner 40 ms are not counted again in the outer call
  EXPECT_NEAR(p.op_ms(), outer + inner, 1e-9);
}

TEST(Profiler, AWrapperKeptPastItsSessionJustForwards) {
  Backend* wrapper = nullptr;
  {
    profile::Session session;
    wrapper = &backend_for(Device::cpu());
  }
  Tensor a = full({4}, 2.0), out = empty({4});
  wrapper->binary(BinaryOp::Add, a, a, out);  // no session: forwards without recording
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{4, 4, 4, 4}));
}

TEST(Profiler, TablesEndWithTheTimeOutsideOpsAndTheStep) {
  Tensor a = randn({64, 64});
  profile::Session session;
  {
    const profile::Scope s("block", Phase::Forward);
    Tensor b = matmul(a, a);
  }
  const profile::Profile p = session.finish();
  const std::string kinds = profile::format_by_kind(p), layers = profile::format_by_layer(p);
  EXPECT_NE(kinds.find("op kind (ms per step)"), std::string::npos) << kinds;
  EXPECT_NE(kinds.find("\nmatmul "), std::string::npos) << kinds;
  EXPECT_NE(kinds.find("\n(not in an op) "), std::string::npos) << kinds;
  EXPECT_NE(kinds.find("\nstep "), std::string::npos) << kinds;
  EXPECT_NE(layers.find("\nblock "), std::string::npos) << layers;
}

}  // namespace
}  // namespace sepal
