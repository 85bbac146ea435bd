// resnet_golden_test.cpp: sepal's ResNet-18 and its blocks against torchvision (golden files made
// by scripts/golden/make_resnet_golden.py): weights go through safetensors export and import,
// then eval-mode log-probabilities, one training step's loss, gradients and running statistics,
// and BasicBlock/Bottleneck forward and backward in train mode must match.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "checkpoint/safetensors.h"
#include "golden_weights.h"
#include "layers/layers.h"
#include "layers/resnet.h"
#include "common/test_data.h"

namespace sepal::testing {
namespace {

std::string data_path(const std::string& file) { return test_data_path(file); }

const Tensor& get(const nn::StateDict& sd, const std::string& name) {
  const Tensor* t = sd.find(name);
  if (!t) throw Error("golden file has no tensor " + name);
  return *t;
}

std::shared_ptr<nn::ResNet> tutorial_resnet18() {
  auto model = nn::resnet18();
  model->replace_module("fc", std::make_shared<nn::Sequential>(nn::ModuleList{
                                  std::make_shared<nn::Linear>(512, 5), std::make_shared<nn::LogSoftmax>(1)}));
  return model;
}

void check_resnet18(Device device) {
  auto model = tutorial_resnet18();
  // export the golden weights to safetensors and import them by name, as a user would
  std::string file = (std::filesystem::temp_directory_path() / "sepal_resnet18_golden_weights.safetensors").string();
  checkpoint::save_safetensors(golden_state(model->state_dict()), file);
  nn::LoadReport report = model->load_state_dict(checkpoint::load_safetensors(file), /*strict=*/true);
  std::remove(file.c_str());
  EXPECT_TRUE(report.ok()) << report.str();

  nn::StateDict golden = checkpoint::load_safetensors(data_path("resnet18_golden.safetensors"));
  EXPECT_LT(max_abs_diff(get(golden, "images"), images_for("images", {2, 3, 64, 64})), 1e-7) << "the weight formula drifted";
  model->to(device);
  Tensor images = get(golden, "images").to(device);

  model->eval();
  {
    NoGradGuard no_grad;
    Tensor log_probs = model->forward(images);
    EXPECT_LT(max_abs_diff(log_probs, get(golden, "eval_log_probs")), 1e-4);
  }

  model->train();
  Tensor log_probs = model->forward(images);
  Tensor loss = nll_loss(log_probs, get(golden, "target").to(device));
  EXPECT_LT(max_abs_diff(log_probs, get(golden, "train_log_probs")), 1e-4);
  EXPECT_LT(max_abs_diff(loss.reshape({1}), get(golden, "loss")), 1e-5);
  loss.backward();
  auto params = model->named_parameters();
  for (const auto& [name, p] : params) {
    const Tensor* expected = golden.find("grad." + name);
    if (!expected) continue;
    double scale = std::max(1.0, expected->abs().max().item());
    EXPECT_LT(max_abs_diff(p.grad(), *expected) / scale, 1e-4) << "gradient of " << name;
  }
  nn::StateDict after = model->state_dict();
  for (const char* name : {"bn1.running_mean", "bn1.running_var", "layer4.1.bn2.running_var", "bn1.num_batches_tracked"})
    EXPECT_LT(max_abs_diff(*after.find(name), get(golden, std::string("after.") + name)), 1e-5) << name;
}

TEST(ResNetGolden, Resnet18MatchesTorchvisionThroughSafetensors) { check_resnet18(Device::cpu()); }

TEST(ResNetGolden, Resnet18MatchesTorchvisionOnCuda) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  check_resnet18(Device::cuda());
}

template <typename Block>
void check_block(const std::string& key, std::shared_ptr<Block> block, const nn::StateDict& golden) {
  block->load_state_dict(golden_state(block->state_dict()));
  block->train();
  Tensor x = get(golden, key + ".input").clone().requires_grad_();
  Tensor y = block->forward(x);
  EXPECT_LT(max_abs_diff(y, get(golden, key + ".output")), 1e-4) << key;
  (y * images_for(key + ".upstream", y.shape())).sum().backward();
  EXPECT_LT(max_abs_diff(x.grad(), get(golden, key + ".grad_input")), 1e-4) << key;
  for (const auto& [name, p] : block->named_parameters()) {
    const Tensor& expected = get(golden, key + ".grad." + name);
    double scale = std::max(1.0, expected.abs().max().item());
    EXPECT_LT(max_abs_diff(p.grad(), expected) / scale, 1e-4) << key << " gradient of " << name;
  }
}

TEST(ResNetGolden, BasicBlockAndBottleneckTrainModeMatchTorchvision) {
  nn::StateDict golden = checkpoint::load_safetensors(data_path("blocks_golden.safetensors"));
  auto down_basic = std::make_shared<nn::Sequential>(nn::ModuleList{
      std::make_shared<nn::Conv2d>(16, 32, 1, 2, 0, false), std::make_shared<nn::BatchNorm2d>(32)});
  check_block("basic", std::make_shared<nn::BasicBlock>(16, 32, 2, down_basic), golden);
  auto down_bottleneck = std::make_shared<nn::Sequential>(nn::ModuleList{
      std::make_shared<nn::Conv2d>(32, 64, 1, 2, 0, false), std::make_shared<nn::BatchNorm2d>(64)});
  check_block("bottleneck", std::make_shared<nn::Bottleneck>(32, 16, 2, down_bottleneck), golden);
}

}  // namespace
}  // namespace sepal::testing
