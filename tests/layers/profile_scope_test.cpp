// profile_scope_test.cpp: modules run through operator() book their work under their dotted name
// in a profile (tensor/profiler.h), as Sequential and the ResNets call their children; backward
// work lands in the layer that ran the forward; Optimizer::step under "optimizer".
#include <gtest/gtest.h>
#include <sepal.h>

#include <set>

namespace sepal {
namespace {

using profile::Phase;

std::set<std::string> scopes_of(const profile::Profile& p, const std::string& kind, Phase phase) {
  std::set<std::string> out;
  for (const auto& r : p.records)
    if (r.kind == kind && r.phase == phase) out.insert(r.scope);
  return out;
}

TEST(ProfileScope, SequentialChildrenAreBookedByTheirNames) {
  Generator gen(3);
  auto inner = std::make_shared<nn::Sequential>(nn::ModuleList{std::make_shared<nn::Linear>(6, 5, true, &gen)});
  nn::Sequential model(nn::ModuleList{std::make_shared<nn::Linear>(4, 6, true, &gen), std::make_shared<nn::ReLU>(), inner});
  Tensor x = randn({3, 4}, TensorOptions(), &gen);
  optim::SGD opt(model.named_parameters(), optim::SGDOptions(0.1));
  profile::Session session;
  Tensor y = model(x);  // the top module has no name: its children are "0", "1", "2.0"
  y.sum().backward();
  opt.step();
  const profile::Profile p = session.finish();
  EXPECT_EQ(scopes_of(p, "matmul", Phase::Forward), (std::set<std::string>{"0", "2.0"}));
  EXPECT_EQ(scopes_of(p, "relu", Phase::Forward), (std::set<std::string>{"1"}));
  EXPECT_EQ(scopes_of(p, "relu_backward", Phase::Backward), (std::set<std::string>{"1"}));
  EXPECT_EQ(scopes_of(p, "matmul", Phase::Backward), (std::set<std::string>{"0", "2.0"}));
  EXPECT_FALSE(scopes_of(p, "sum", Phase::Forward).empty());
  EXPECT_EQ(*scopes_of(p, "sum", Phase::Forward).begin(), "");  // outside every module
  for (const auto& r : p.records)
    if (r.phase == Phase::Optimizer) EXPECT_EQ(r.scope, "optimizer") << r.kind;
  EXPECT_FALSE(scopes_of(p, "mul_scalar", Phase::Optimizer).empty() && scopes_of(p, "add", Phase::Optimizer).empty());
}

TEST(ProfileScope, ResNetLayersAndReplacedHeadsUseTorchvisionNames) {
  Generator gen(5);
  auto model = nn::resnet18(10, &gen);
  model->replace_module("fc", std::make_shared<nn::Sequential>(nn::ModuleList{
                                  std::make_shared<nn::Linear>(512, 7, true, &gen), std::make_shared<nn::LogSoftmax>(1)}));
  Tensor x = randn({2, 3, 32, 32}, TensorOptions(), &gen);
  profile::Session session;
  Tensor out = model->forward(x);
  out.sum().backward();
  const profile::Profile p = session.finish();
  const std::set<std::string> convs = scopes_of(p, "conv2d_forward", Phase::Forward);
  EXPECT_EQ(convs.size(), 20u);
  EXPECT_TRUE(convs.count("conv1"));
  EXPECT_TRUE(convs.count("layer1.0.conv1"));
  EXPECT_TRUE(convs.count("layer2.0.downsample.0"));
  EXPECT_TRUE(convs.count("layer4.1.conv2"));
  EXPECT_EQ(scopes_of(p, "conv2d_backward_weight", Phase::Backward), convs);
  EXPECT_TRUE(scopes_of(p, "batch_norm_backward", Phase::Backward).count("layer3.1.bn2"));
  EXPECT_EQ(scopes_of(p, "max_pool2d_forward", Phase::Forward), (std::set<std::string>{"maxpool"}));
  EXPECT_EQ(scopes_of(p, "matmul", Phase::Forward), (std::set<std::string>{"fc.0"}));
  // the residual add belongs to its block
  EXPECT_TRUE(scopes_of(p, "add", Phase::Forward).count("layer1.0"));
}

}  // namespace
}  // namespace sepal
