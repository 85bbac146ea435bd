// engine_test.cpp: the graph engine's contract: accumulation into leaves, retain_graph, when a graph
// is recorded (grad mode, NoGradGuard per thread), detach, zero_grad, deep chains, diamonds,
// branches that deliver no gradient, and misuse errors (non-leaves, int tensors, in-place ops).
#include <gtest/gtest.h>
#include <sepal.h>

#include "common/leaf.h"

#include <pthread.h>

#include <thread>

#include "autograd/hooks.h"
#include "autograd/node.h"

namespace sepal {
namespace {

using D = std::vector<double>;

using testing::leaf;

Tensor f64(const D& v) { return from_vector(v, {static_cast<int64_t>(v.size())}, DType::Float64); }

D grad_of(const Tensor& x) {
  if (!x.grad().defined()) return {};
  return x.grad().to_vector<double>();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Engine, GradientsAccumulateAcrossBackwardPasses) {
  // first pass: d sum(3x)/dx = 3; second: d sum(x^2)/dx = 2x; the leaf holds the sum
  Tensor x = leaf({1, 2}, {2});
  (x * 3).sum().backward();
  EXPECT_EQ(grad_of(x), (D{3, 3}));
  Tensor g_before = x.grad();
  (x * x).sum().backward();
  EXPECT_EQ(grad_of(x), (D{5, 7}));
  // accumulation is in place: a handle to the old gradient sees the new values
  EXPECT_EQ(g_before.to_vector<double>(), (D{5, 7}));
}

TEST(Engine, BackwardTwiceNeedsRetainGraph) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = (x * x).sum();
  y.backward();
  try {
    y.backward();
    FAIL() << "expected AutogradError";
  } catch (const AutogradError& e) {
    EXPECT_TRUE(contains(e.what(), "retain_graph")) << e.what();
  }
  // with retain_graph the second pass works and accumulates: 2 * 2x
  Tensor z = leaf({1, 2}, {2});
  Tensor w = (z * z).sum();
  w.backward(Tensor(), /*retain_graph=*/true);
  EXPECT_EQ(grad_of(z), (D{2, 4}));
  w.backward();
  EXPECT_EQ(grad_of(z), (D{4, 8}));
  EXPECT_THROW(w.backward(), AutogradError);  // the second pass did not retain
}

TEST(Engine, ReusingAFreedSubgraphThrows) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x * 2;
  y.sum().backward();
  // a new graph on top of y reaches y's freed node
  EXPECT_THROW((y * 3).sum().backward(), AutogradError);
}

TEST(Engine, NoGraphWithoutInputsThatRequireGrad) {
  Tensor a = f64({1, 2});
  Tensor b = (a * 2 + a).exp().sum();
  EXPECT_FALSE(b.requires_grad());
  EXPECT_EQ(b.grad_fn(), nullptr);
  EXPECT_TRUE(b.is_leaf());
  EXPECT_THROW(b.backward(), AutogradError);
  // with one input that requires grad, the result records a node
  Tensor x = leaf({1, 2}, {2});
  Tensor c = a * x;
  EXPECT_TRUE(c.requires_grad());
  ASSERT_NE(c.grad_fn(), nullptr);
  EXPECT_EQ(c.grad_fn()->name, "mul");
  EXPECT_FALSE(c.is_leaf());
}

TEST(Engine, NoGradGuardRecordsNothingAndRestores) {
  Tensor x = leaf({1, 2}, {2});
  EXPECT_TRUE(GradMode::is_enabled());
  {
    NoGradGuard guard;
    EXPECT_FALSE(GradMode::is_enabled());
    Tensor y = (x * 2).sum();
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    EXPECT_EQ(y.item(), 6.0);
    {
      NoGradGuard nested;
      EXPECT_FALSE(GradMode::is_enabled());
    }
    EXPECT_FALSE(GradMode::is_enabled());  // the inner guard restores "off", not "on"
  }
  EXPECT_TRUE(GradMode::is_enabled());
  EXPECT_TRUE((x * 2).requires_grad());
}

TEST(Engine, NoGradGuardIsThreadLocal) {
  Tensor x = leaf({1, 2}, {2});
  NoGradGuard guard;
  bool other_enabled = false, other_records = false;
  D other_grad;
  std::thread worker([&] {
    other_enabled = GradMode::is_enabled();
    Tensor y = (x * x).sum();
    other_records = y.requires_grad() && y.grad_fn() != nullptr;
    if (other_records) y.backward();
  });
  worker.join();
  EXPECT_TRUE(other_enabled);
  EXPECT_TRUE(other_records);
  EXPECT_EQ(grad_of(x), (D{2, 4}));
  EXPECT_FALSE(GradMode::is_enabled());  // this thread's guard is untouched
  EXPECT_FALSE((x * x).requires_grad());
}

TEST(Engine, DetachSharesStorageWithoutGraph) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor y = x * 2;
  Tensor d = y.detach();
  EXPECT_EQ(d.storage(), y.storage());
  EXPECT_EQ(d.raw_data(), y.raw_data());
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.grad_fn(), nullptr);
  EXPECT_TRUE(d.is_leaf());
  d.fill_(5);  // allowed: d does not require grad; visible through y
  EXPECT_EQ(y.to_vector<double>(), (D{5, 5, 5}));
  // a detached branch contributes nothing: L = sum(x * x.detach()) -> dL/dx = x
  Tensor z = leaf({1, 2, 3}, {3});
  (z * z.detach()).sum().backward();
  EXPECT_EQ(grad_of(z), (D{1, 2, 3}));
}

TEST(Engine, ZeroGrad) {
  Tensor x = leaf({1, 2}, {2});
  (x * 3).sum().backward();
  void* storage = x.grad().raw_data();
  x.zero_grad(/*set_to_none=*/false);
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(grad_of(x), (D{0, 0}));
  EXPECT_EQ(x.grad().raw_data(), storage);  // zeroed in place
  (x * 3).sum().backward();
  EXPECT_EQ(grad_of(x), (D{3, 3}));
  x.zero_grad(/*set_to_none=*/true);
  EXPECT_FALSE(x.grad().defined());
  (x * 4).sum().backward();
  EXPECT_EQ(grad_of(x), (D{4, 4}));
  Tensor fresh = leaf({1}, {1});
  EXPECT_NO_THROW(fresh.zero_grad(false));  // no gradient yet: nothing to do
  EXPECT_FALSE(fresh.grad().defined());
}

// Runs fn on a thread with a 2 MiB stack, small enough that a recursion 100000 deep overflows it
// whatever the main thread's stack limit is.
void run_on_small_stack(void (*fn)(void*), void* arg) {
  struct Call {
    void (*fn)(void*);
    void* arg;
  } call{fn, arg};
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, size_t(2) << 20), 0);
  pthread_t thread;
  ASSERT_EQ(pthread_create(&thread, &attr, [](void* p) -> void* {
              auto* c = static_cast<Call*>(p);
              c->fn(c->arg);
              return nullptr;
            }, &call), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

struct ChainResult {
  double value = 0, grad = 0;
};

TEST(Engine, ChainOf100000OpsBackpropagatesAndFrees) {
  // y = x + 1 + 1 + ... (100000 times): dy/dx = 1. Both the backward pass and the destruction of
  // the graph must be iterative, or this chain overflows the stack.
  ChainResult result;
  run_on_small_stack([](void* p) {
    auto* r = static_cast<ChainResult*>(p);
    const int n = 100000;
    Tensor x = leaf({0.5}, {});
    Tensor y = x;
    for (int i = 0; i < n; ++i) y = y + 1.0;
    r->value = y.item();
    y.backward();
    r->grad = x.grad().item();
    y = Tensor();  // frees the backpropagated chain
    // a chain that is never backpropagated still holds its saved tensors when it is freed
    Tensor z = x;
    for (int i = 0; i < n; ++i) z = z * 1.0;
    z = Tensor();
  }, &result);
  EXPECT_EQ(result.value, 0.5 + 100000);
  EXPECT_EQ(result.grad, 1.0);
}

TEST(Engine, DiamondSumsGradients) {
  // y = x^2 (9 at x = 3), z = y * y + 3 y: dz/dy = 2 y + 3 = 21, dy/dx = 2 x = 6 -> dz/dx = 126
  Tensor x = leaf({3}, {});
  Tensor y = x * x;
  Tensor z = y * y + y * 3.0;
  z.backward();
  EXPECT_EQ(grad_of(x), (D{126}));
  // a wider diamond: four uses of one intermediate through different ops
  Tensor a = leaf({2}, {});
  Tensor b = a.exp();
  // L = b + 2 b + b^2 + b / b = 3 b + b^2 + 1 -> dL/da = (3 + 2 b) b
  (b + b * 2.0 + b * b + b / b).backward();
  double e2 = std::exp(2.0);
  EXPECT_NEAR(grad_of(a)[0], (3 + 2 * e2) * e2, 1e-9);
}

TEST(Engine, BranchesWithoutGradientDoNotBlockOthers) {
  // a comparison/argmax path carries no gradient: L = sum(x * mask) + sum(x), mask = x > 1
  // dL/dx = mask + 1
  Tensor x = leaf({0.5, 2, -1}, {3});
  Tensor mask = gt(x, 1.0).to(DType::Float64);
  EXPECT_FALSE(mask.requires_grad());
  Tensor idx = argmax(x, 0);
  EXPECT_FALSE(idx.requires_grad());
  ((x * mask).sum() + x.sum()).backward();
  EXPECT_EQ(grad_of(x), (D{1, 2, 1}));

  // an input that does not require grad (frozen) gets no .grad; the other one does
  Tensor w = f64({4, 5, 6});
  Tensor v = leaf({1, 2, 3}, {3});
  (v * w).sum().backward();
  EXPECT_EQ(grad_of(v), (D{4, 5, 6}));
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(w.requires_grad());
}

TEST(Engine, NodeReturningNoGradientForAnInput) {
  // a custom op whose backward delivers nothing to its input: the subgraph under it (exp, mul)
  // gets no gradient, but x still receives the other branch's 2 x
  Tensor x = leaf({1, -2}, {2});
  Tensor hidden = (x * 3.0).exp();
  Tensor silent = autograd::record("silent", raw::clone(hidden), {hidden},
                                   [](const Tensor&, const std::vector<bool>&) { return std::vector<Tensor>{Tensor()}; });
  ASSERT_TRUE(silent.requires_grad());
  ((x * x).sum() + silent.sum()).backward();
  EXPECT_EQ(grad_of(x), (D{2, -4}));
}

TEST(Engine, NonLeafGradientsAreNotKept) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x * 2;
  y.sum().backward();
  EXPECT_FALSE(y.grad().defined());
  EXPECT_EQ(grad_of(x), (D{2, 2}));
}

TEST(Engine, LeafRootAndBroadcastExpand) {
  Tensor s = leaf({4}, {});
  s.backward();  // a leaf is its own root: d s / d s = 1
  EXPECT_EQ(grad_of(s), (D{1}));
  // expand [3, 1] to [2, 3, 4] and sum: every element is used 2 * 4 = 8 times
  Tensor c = leaf({1, 2, 3}, {3, 1});
  c.expand({2, 3, 4}).sum().backward();
  EXPECT_EQ(grad_of(c), (D{8, 8, 8}));
}

TEST(Engine, RequiresGradOnlyOnFloatLeaves) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x * 2;
  try {
    y.requires_grad_();
    FAIL() << "expected AutogradError";
  } catch (const AutogradError& e) {
    EXPECT_TRUE(contains(e.what(), "leaf")) << e.what();
    EXPECT_TRUE(contains(e.what(), "mul")) << e.what();
  }
  Tensor i = ones({2}, DType::Int64);
  try {
    i.requires_grad_();
    FAIL() << "expected AutogradError";
  } catch (const AutogradError& e) {
    EXPECT_TRUE(contains(e.what(), "int64")) << e.what();
  }
  EXPECT_NO_THROW(i.requires_grad_(false));
  EXPECT_THROW(ones({2}, DType::Bool).requires_grad_(), AutogradError);
  EXPECT_THROW(zeros({2}, TensorOptions().dtype(DType::Int64).requires_grad()), AutogradError);
  // a leaf can turn requires_grad off again
  x.requires_grad_(false);
  EXPECT_FALSE((x * 2).requires_grad());
}

TEST(Engine, BackwardOfNonScalarNeedsAGradient) {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = x * 2;
  try {
    y.backward();
    FAIL() << "expected AutogradError";
  } catch (const AutogradError& e) {
    EXPECT_TRUE(contains(e.what(), "[2, 3]")) << e.what();
  }
  EXPECT_THROW(y.backward(ones({3, 2}, DType::Float64)), ShapeError);
  y.backward(full({2, 3}, 0.5, DType::Float64));
  EXPECT_EQ(grad_of(x), D(6, 1.0));
  // a one-element non-scalar needs no gradient
  Tensor z = leaf({3}, {1, 1});
  (z * z).backward();
  EXPECT_EQ(grad_of(z), (D{6}));
}

TEST(Engine, InPlaceOnTensorsThatRequireGrad) {
  Tensor x = leaf({1, 2}, {2});
  EXPECT_THROW(x.add_(f64({1, 1})), AutogradError);
  EXPECT_THROW(x.mul_(2), AutogradError);
  EXPECT_THROW(x.fill_(0), AutogradError);
  EXPECT_THROW(x.zero_(), AutogradError);
  EXPECT_THROW(x.copy_(f64({3, 4})), AutogradError);
  EXPECT_EQ(x.to_vector<double>(), (D{1, 2}));  // nothing was changed
  {
    NoGradGuard guard;  // as an optimizer step does
    x.add_(f64({1, 1}), -0.5);
    x.mul_(2);
  }
  EXPECT_EQ(x.to_vector<double>(), (D{1, 3}));  // (1 - 0.5) * 2, (2 - 0.5) * 2
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  (x * x).sum().backward();
  EXPECT_EQ(grad_of(x), (D{2, 6}));
}

TEST(Engine, SetGradChecksShape) {
  Tensor x = leaf({1, 2}, {2});
  x.set_grad(f64({7, 8}));
  EXPECT_EQ(grad_of(x), (D{7, 8}));
  (x * 1.0).sum().backward();
  EXPECT_EQ(grad_of(x), (D{8, 9}));
  EXPECT_THROW(x.set_grad(f64({1, 2, 3})), ShapeError);
  x.set_grad(Tensor());
  EXPECT_FALSE(x.grad().defined());
}

}  // namespace
}  // namespace sepal

namespace sepal {
namespace {
// Post-accumulate-grad hooks (autograd/hooks.h): called after each accumulation into the leaf,
// seeing the accumulated .grad; removed with their handle; only on leaves that require grad.
TEST(PostAccumulateGradHook, SeesEachAccumulationAndGoesWithItsHandle) {
  Tensor w = testing::leaf({1, 2}, {2});
  std::vector<std::vector<double>> seen;
  {
    autograd::HookHandle h = autograd::register_post_accumulate_grad_hook(w, [&](const Tensor& leaf) {
      seen.push_back(leaf.grad().to_vector<double>());
    });
    (w * w).sum().backward();  // two contributions of w each (unlike PyTorch, which sums them first)
    (w * 3.0).sum().backward();
    EXPECT_EQ(seen, (std::vector<std::vector<double>>{{1, 2}, {2, 4}, {5, 7}}));
  }
  (w * 3.0).sum().backward();
  EXPECT_EQ(seen.size(), 3u);  // removed with the handle
  EXPECT_THROW(autograd::register_post_accumulate_grad_hook(w * 2.0, [](const Tensor&) {}), AutogradError);
}
}  // namespace
}  // namespace sepal
