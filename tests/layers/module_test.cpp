// module_test.cpp: the Module system on real layers: torchvision's names and counts for the
// ResNet family, head replacement, freezing, state_dict/load_state_dict reports, modes, dtype moves.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include <sepal.h>

#include "layers/layers.h"
#include "layers/loss.h"
#include "layers/resnet.h"

namespace sepal::testing {
namespace {

std::vector<std::string> names(const nn::NamedTensors& list) {
  std::vector<std::string> out;
  for (const auto& [n, t] : list) out.push_back(n);
  return out;
}

TEST(Module, Resnet18HasTorchvisionNamesAndCounts) {
  auto model = nn::resnet18();
  auto params = model->named_parameters();
  // torchvision: 62 parameter tensors, 11,689,512 parameters; 122 state_dict entries
  EXPECT_EQ(params.size(), 62u);
  EXPECT_EQ(model->num_parameters(), 11689512);
  EXPECT_EQ(model->state_dict().size(), 122u);
  std::vector<std::string> n = names(params);
  EXPECT_EQ(n.front(), "conv1.weight");
  EXPECT_EQ(n[1], "bn1.weight");
  EXPECT_EQ(n[3], "layer1.0.conv1.weight");
  EXPECT_EQ(n.back(), "fc.bias");
  std::set<std::string> all(n.begin(), n.end());
  EXPECT_TRUE(all.count("layer2.0.downsample.0.weight"));
  EXPECT_TRUE(all.count("layer2.0.downsample.1.bias"));
  EXPECT_FALSE(all.count("layer1.0.downsample.0.weight"));  // layer1 keeps its shape: no downsample
  auto sd = model->state_dict();
  EXPECT_TRUE(sd.contains("bn1.running_mean"));
  EXPECT_TRUE(sd.contains("layer4.1.bn2.num_batches_tracked"));
  EXPECT_EQ(sd.find("layer4.1.bn2.num_batches_tracked")->dtype(), DType::Int64);
  // state_dict order: a module's parameters, then its buffers, then its children
  EXPECT_EQ(sd.entries()[1].first, "bn1.weight");
  EXPECT_EQ(sd.entries()[3].first, "bn1.running_mean");
  EXPECT_EQ(sd.entries()[5].first, "bn1.num_batches_tracked");
}

TEST(Module, Resnet34And50ParameterCounts) {
  // torchvision: resnet34 21,797,672; resnet50 25,557,032 (1000 classes)
  EXPECT_EQ(nn::resnet34()->num_parameters(), 21797672);
  auto r50 = nn::resnet50();
  EXPECT_EQ(r50->num_parameters(), 25557032);
  EXPECT_EQ(r50->feature_dim(), 2048);
  EXPECT_TRUE(r50->state_dict().contains("layer1.0.downsample.0.weight"));  // 64 -> 256 channels
  EXPECT_THROW(nn::resnet("resnet19"), Error);
}

TEST(Module, ResnetInitialisationFollowsTorchvision) {
  Generator gen(7);
  auto model = nn::resnet18(1000, &gen);
  // convolutions: kaiming normal, fan_out, relu: std = sqrt(2 / (64 * 7 * 7)) for conv1
  Tensor w = model->named_parameters()[0].second;
  double std_expected = std::sqrt(2.0 / (64 * 49));
  double mean = w.mean().item(), std = (w - mean).square().mean().sqrt().item();
  EXPECT_NEAR(mean, 0.0, 0.05 * std_expected);
  EXPECT_NEAR(std, std_expected, 0.05 * std_expected);
  auto sd = model->state_dict();
  EXPECT_EQ(sd.find("bn1.weight")->min().item(), 1.0);
  EXPECT_EQ(sd.find("bn1.bias")->abs().max().item(), 0.0);
  // fc: Linear's default, uniform within 1/sqrt(512)
  EXPECT_LE(sd.find("fc.weight")->abs().max().item(), 1.0 / std::sqrt(512.0));
  EXPECT_GT(sd.find("fc.weight")->abs().max().item(), 0.9 / std::sqrt(512.0));
}

TEST(Module, ReplacingTheHeadChangesKeysAndIsUsed) {
  auto model = nn::resnet18();
  model->requires_grad_(false);
  model->replace_module("fc", std::make_shared<nn::Sequential>(nn::ModuleList{
                                  std::make_shared<nn::Linear>(512, 102), std::make_shared<nn::LogSoftmax>(1)}));
  auto sd = model->state_dict();
  EXPECT_TRUE(sd.contains("fc.0.weight"));
  EXPECT_TRUE(sd.contains("fc.0.bias"));
  EXPECT_FALSE(sd.contains("fc.weight"));
  EXPECT_EQ(sd.find("fc.0.weight")->shape(), (Shape{102, 512}));
  // only the new head is trainable
  int64_t trainable = model->num_parameters(/*trainable_only=*/true);
  EXPECT_EQ(trainable, 102 * 512 + 102);
  for (const auto& [name, p] : model->named_parameters())
    EXPECT_EQ(p.requires_grad(), name.rfind("fc.", 0) == 0) << name;
  // the replaced head is used by forward: the features go through Linear(512, 102) + LogSoftmax
  auto head = model->child("fc");
  Tensor features = randn({2, 512});
  Tensor out = head->forward(features);
  EXPECT_EQ(out.shape(), (Shape{2, 102}));
  EXPECT_NEAR(out.exp().sum({1}).to_vector<double>()[0], 1.0, 1e-5);
  EXPECT_THROW(model->replace_module("head", head), Error);
}

TEST(Module, ResNetForwardFollowsReplacedChildren) {
  Generator gen(3);
  auto model = nn::resnet18(10, &gen);
  model->eval();
  NoGradGuard no_grad;
  Tensor x = randn({2, 3, 32, 32}, TensorOptions(), &gen);
  Tensor features = model->features(x);
  // the head: an Identity makes forward() return the features themselves
  model->replace_module("fc", std::make_shared<nn::Identity>());
  auto values = [](const Tensor& t) { return t.to_vector<float>(); };
  EXPECT_EQ(values(model->forward(x)), values(features));
  // inside a block (layer4.1's first ReLU) and a block's downsample (layer2.0's)
  Tensor before = model->forward(x);
  model->find("layer4.1")->replace_module("relu", std::make_shared<nn::Identity>());
  Tensor after_relu = model->forward(x);
  EXPECT_NE(values(after_relu), values(before));
  model->find("layer2.0")->replace_module("downsample", std::make_shared<nn::Sequential>(nn::ModuleList{
                                                              std::make_shared<nn::Conv2d>(64, 128, 1, 2, 0, false, &gen),
                                                              std::make_shared<nn::BatchNorm2d>(128)}));
  model->eval();
  EXPECT_NE(values(model->forward(x)), values(after_relu));
  EXPECT_THROW(model->find("layer1.0")->replace_module("downsample", std::make_shared<nn::Identity>()), Error);
}

TEST(Module, LoadStateDictReportsMissingUnexpectedAndSizeMismatch) {
  auto model = std::make_shared<nn::Sequential>(nn::ModuleList{std::make_shared<nn::Linear>(4, 3),
                                                               std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(3, 2)});
  nn::StateDict sd;
  sd.insert("0.weight", ones({3, 4}));
  sd.insert("2.weight", ones({5, 3}));  // wrong shape
  sd.insert("extra.weight", ones({1}));
  Tensor before = model->state_dict().find("0.weight")->clone();
  try {
    model->load_state_dict(sd, /*strict=*/true);
    FAIL() << "strict load should throw";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("Missing key(s) in state_dict: \"0.bias\", \"2.bias\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("Unexpected key(s) in state_dict: \"extra.weight\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("size mismatch for 2.weight: checkpoint [5, 3], model [2, 3]"), std::string::npos) << msg;
  }
  // strict failure changed nothing
  EXPECT_EQ(before.to_vector<float>(), model->state_dict().find("0.weight")->to_vector<float>());
  // non-strict loads what matches and reports the rest
  nn::LoadReport report = model->load_state_dict(sd, /*strict=*/false);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.missing_keys, (std::vector<std::string>{"0.bias", "2.bias"}));
  EXPECT_EQ(report.unexpected_keys, (std::vector<std::string>{"extra.weight"}));
  EXPECT_EQ(report.size_mismatches.size(), 1u);
  EXPECT_EQ(model->state_dict().find("0.weight")->sum().item(), 12.0);
  EXPECT_NE(model->state_dict().find("2.weight")->sum().item(), 6.0);  // the mismatched one was not loaded
}

// A BatchNorm2d(2) state dict as files from before num_batches_tracked hold it.
nn::StateDict batch_norm2_without_count() {
  nn::StateDict old;
  old.insert("weight", full({2}, 2.0));
  old.insert("bias", full({2}, 0.5));
  old.insert("running_mean", full({2}, 0.25));
  old.insert("running_var", full({2}, 4.0));
  return old;
}

TEST(Module, OldFilesWithoutNumBatchesTrackedLoadStrictly) {
  nn::BatchNorm2d bn(2);
  nn::StateDict old = batch_norm2_without_count();
  EXPECT_TRUE(bn.load_state_dict(old, /*strict=*/true).ok());
  EXPECT_EQ(bn.running_var.to_vector<float>(), (std::vector<float>{4.0f, 4.0f}));
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 0);
}

// PyTorch 0.3-era files store num_batches_tracked (any 0-dim value) as a [1] vector; PyTorch
// loads it into the 0-dim buffer, and so does sepal. A longer vector is still a size mismatch.
TEST(Module, AOneElementVectorLoadsIntoAZeroDimBuffer) {
  nn::BatchNorm2d bn(2);
  nn::StateDict old = batch_norm2_without_count();
  old.insert("num_batches_tracked", from_vector<int64_t>({7}, {1}));
  EXPECT_TRUE(bn.load_state_dict(old, /*strict=*/true).ok());
  EXPECT_EQ(bn.num_batches_tracked.dim(), 0);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 7);

  nn::StateDict two = old;
  two.insert("num_batches_tracked", from_vector<int64_t>({7, 8}, {2}));
  const nn::LoadReport r = bn.load_state_dict(two, /*strict=*/false);
  ASSERT_EQ(r.size_mismatches.size(), 1u);
  EXPECT_NE(r.size_mismatches[0].find("num_batches_tracked"), std::string::npos);
  EXPECT_THROW(bn.load_state_dict(two, /*strict=*/true), Error);
}

TEST(Module, TrainEvalPropagatesAndToDtypeKeepsIdentity) {
  auto model = nn::resnet18(10);
  model->eval();
  for (auto& [name, m] : model->named_modules()) EXPECT_FALSE(m->is_training()) << name;
  model->train();
  EXPECT_TRUE(model->find("layer3.1.bn2")->is_training());
  Tensor w = model->named_parameters()[0].second;
  TensorImpl* identity = w.impl();
  model->to(DType::Float64);
  EXPECT_EQ(model->named_parameters()[0].second.impl(), identity);
  EXPECT_EQ(w.dtype(), DType::Float64);
  EXPECT_EQ(model->state_dict().find("bn1.num_batches_tracked")->dtype(), DType::Int64);  // integers untouched
  EXPECT_TRUE(w.requires_grad());
  model->to(Device::cpu());
  EXPECT_NE(model->str().find("(fc): Linear(in_features=512, out_features=10, bias=True)"), std::string::npos);
  EXPECT_THROW(model->find("layer9"), Error);
}

TEST(Module, BatchNormCountsBatchesOnlyInTraining) {
  nn::BatchNorm2d bn(3);
  Tensor x = randn({4, 3, 2, 2});
  bn.forward(x);
  bn.forward(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);
  bn.eval();
  bn.forward(x);
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 2);
}

TEST(Losses, NllAndCrossEntropyHandValues) {
  // log_probs rows: [log .5, log .25, log .25], [log .1, log .2, log .7]; targets [0, 2]
  Tensor logp = from_vector<float>({std::log(.5f), std::log(.25f), std::log(.25f), std::log(.1f), std::log(.2f), std::log(.7f)},
                                   {2, 3});
  Tensor target = from_vector<int64_t>({0, 2}, {2});
  double expected = -(std::log(.5) + std::log(.7)) / 2;
  EXPECT_NEAR(nn::NLLLoss()(logp, target).item(), expected, 1e-6);
  EXPECT_NEAR(nn::NLLLoss(Reduction::Sum)(logp, target).item(), 2 * expected, 1e-6);
  // cross-entropy of logits = nll of their log_softmax: logits log(p) + 3 give the same
  EXPECT_NEAR(nn::CrossEntropyLoss()(logp + 3.0, target).item(), expected, 1e-6);
  EXPECT_EQ(nn::count_correct(logp, target), 2);
  EXPECT_DOUBLE_EQ(nn::accuracy(logp, from_vector<int64_t>({1, 2}, {2})), 0.5);
  EXPECT_THROW(nn::NLLLoss()(logp, from_vector<int64_t>({0, 3}, {2})), IndexError);
  // the message names the offending value (the smallest when negative, else the largest) and the input
  auto message = [&](const Tensor& t) {
    try {
      nll_loss(logp, t);
    } catch (const IndexError& e) {
      return std::string(e.what());
    }
    return std::string("no IndexError");
  };
  EXPECT_EQ(message(from_vector<int64_t>({0, 3}, {2})), "nll_loss: target values must be in [0, 3), got 3 (input [2, 3])");
  EXPECT_EQ(message(from_vector<int64_t>({-2, 7}, {2})), "nll_loss: target values must be in [0, 3), got -2 (input [2, 3])");
  // a strided target is read through its view (column 1 of [[0, 1], [2, 5]], then of [[7, 0], [9, 2]])
  EXPECT_EQ(message(from_vector<int64_t>({0, 1, 2, 5}, {2, 2}).select(1, 1)),
            "nll_loss: target values must be in [0, 3), got 5 (input [2, 3])");
  EXPECT_NEAR(nn::NLLLoss()(logp, from_vector<int64_t>({7, 0, 9, 2}, {2, 2}).select(1, 1)).item(), expected, 1e-6);
  EXPECT_THROW(nn::NLLLoss()(logp, from_vector<int64_t>({0}, {1})), ShapeError);
}

TEST(Layers, LinearAndDropoutAndSoftmax) {
  nn::Linear fc(3, 2);
  fc.weight.detach().copy_(from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  fc.bias.detach().copy_(from_vector<float>({0.5, -0.5}, {2}));
  // [1, 1, 1] -> [1+2+3+.5, 4+5+6-.5] = [6.5, 14.5]
  EXPECT_EQ(fc.forward(ones({1, 3})).to_vector<float>(), (std::vector<float>{6.5f, 14.5f}));
  EXPECT_EQ(fc.forward(ones({2, 2, 3})).shape(), (Shape{2, 2, 2}));
  EXPECT_THROW(fc.forward(ones({2, 4})), ShapeError);
  Generator gen(3);
  nn::Dropout drop(0.25, &gen);
  Tensor y = drop.forward(ones({10000}));
  double kept = gt(y, 0.0).to(DType::Float64).mean().item();
  EXPECT_NEAR(kept, 0.75, 0.02);
  EXPECT_NEAR(y.max().item(), 1.0 / 0.75, 1e-6);
  drop.eval();
  EXPECT_EQ(drop.forward(ones({5})).sum().item(), 5.0);
  Tensor s = softmax(from_vector<float>({1000, 1000}, {1, 2}), 1);  // no overflow
  EXPECT_NEAR(s.to_vector<float>()[0], 0.5, 1e-6);
}

}  // namespace
}  // namespace sepal::testing
