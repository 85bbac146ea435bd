// setup_test.cpp: the trainer's building blocks in process: importing torchvision-named weights,
// the trainable set per --mode, parameter groups and their learning rates, frozen BatchNorm in
// feature-extract mode, predict on plain weights with either head, and --cache-features giving
// the same training as the DataLoader path.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "commands.h"
#include "data/demo_flowers.h"
#include "data/image.h"
#include "common/temp_dir.h"
#include "io/json.h"
#include "model_setup.h"

namespace flowers {
namespace {

namespace fs = std::filesystem;
using sepal::Tensor;

using sepal::testing::TempDir;

bool equal(const Tensor& a, const Tensor& b) {
  auto x = a.cpu().contiguous().to_vector<float>(), y = b.cpu().contiguous().to_vector<float>();
  return x == y;
}

TEST(FlowersSetup, TorchvisionWeightsLoadIntoTheBackboneAndTheirHeadIsDropped) {
  TempDir dir("flowers_pretrained");
  sepal::Generator gen(7);
  auto torchvision_model = sepal::nn::resnet18(1000, &gen);  // fc.weight [1000, 512]
  const std::string file = (dir / "resnet18.safetensors");
  sepal::checkpoint::save_safetensors(torchvision_model->state_dict(), file);

  auto model = build_model("resnet18", 102, 1);
  const Tensor head_before = model->state_dict().find("fc.0.weight")->clone();
  auto notes = load_pretrained(*model, sepal::checkpoint::load_safetensors(file), file, true);
  auto sd = model->state_dict();
  EXPECT_TRUE(equal(*sd.find("conv1.weight"), *torchvision_model->state_dict().find("conv1.weight")));
  EXPECT_TRUE(equal(*sd.find("layer4.1.bn2.running_var"), *torchvision_model->state_dict().find("layer4.1.bn2.running_var")));
  EXPECT_TRUE(equal(*sd.find("fc.0.weight"), head_before));  // 1000-class head not loaded
  std::string all;
  for (const auto& n : notes) all += n + "\n";
  EXPECT_NE(all.find("fc.weight [1000, 512]"), std::string::npos) << all;
}

TEST(FlowersSetup, HeadTrainedOnOtherClassesIsNotReused) {
  auto source = build_model("resnet18", 4, 3);
  auto model = build_model("resnet18", 4, 1);
  const Tensor head_before = model->state_dict().find("fc.0.weight")->clone();
  load_pretrained(*model, source->state_dict(), "source", /*keep_head=*/false);
  EXPECT_TRUE(equal(*model->state_dict().find("fc.0.weight"), head_before));
  EXPECT_TRUE(equal(*model->state_dict().find("layer1.0.conv1.weight"), *source->state_dict().find("layer1.0.conv1.weight")));
}

std::vector<std::string> trainable(const sepal::nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, p] : m.named_parameters())
    if (p.requires_grad()) out.push_back(name);
  return out;
}

TEST(FlowersSetup, ModesChooseTheTrainableSet) {
  auto model = build_model("resnet18", 5, 1);
  apply_mode(*model, "feature-extract");
  EXPECT_EQ(trainable(*model), (std::vector<std::string>{"fc.0.weight", "fc.0.bias"}));
  apply_mode(*model, "finetune-from=layer4");
  for (const auto& name : trainable(*model))
    EXPECT_TRUE(name.rfind("layer4.", 0) == 0 || name.rfind("fc.", 0) == 0) << name;
  EXPECT_EQ(trainable(*model).size(), 2u + 15u);  // layer4: 2 blocks x (2 conv + 2 bn x 2) + downsample (conv + bn x 2)
  apply_mode(*model, "finetune");
  EXPECT_EQ(trainable(*model).size(), model->named_parameters().size());
}

TEST(FlowersSetup, GroupsHaveTheirOwnLearningRates) {
  TrainConfig c;
  c.head_lr = 1e-3;
  c.backbone_lr = 1e-5;
  auto model = build_model("resnet18", 5, 1);
  apply_mode(*model, "feature-extract");
  auto fx = make_optimizer(c, *model);
  ASSERT_EQ(fx->num_param_groups(), 1u);  // only the head trains: one group
  EXPECT_DOUBLE_EQ(fx->lr(0), 1e-3);
  apply_mode(*model, "finetune");
  auto ft = make_optimizer(c, *model);
  ASSERT_EQ(ft->num_param_groups(), 2u);
  EXPECT_DOUBLE_EQ(ft->lr(0), 1e-3);
  EXPECT_DOUBLE_EQ(ft->lr(1), 1e-5);
  EXPECT_EQ(ft->param_group(0).names(), (std::vector<std::string>{"fc.0.weight", "fc.0.bias"}));
  EXPECT_EQ(ft->param_group(1).size(), 60u);
}

TEST(FlowersSetup, FeatureExtractKeepsTheFrozenBatchNormStatistics) {
  auto model = build_model("resnet18", 3, 1);
  apply_mode(*model, "feature-extract");
  set_train_mode(*model, "feature-extract");
  const Tensor before = model->state_dict().find("bn1.running_mean")->clone();
  sepal::Generator gen(5);
  Tensor x = sepal::randn({2, 3, 32, 32}, {}, &gen);
  (void)(*model)(x);
  EXPECT_TRUE(equal(*model->state_dict().find("bn1.running_mean"), before));
  EXPECT_TRUE(model->child("fc")->is_training());
  set_train_mode(*model, "finetune");
  (void)(*model)(x);
  EXPECT_FALSE(equal(*model->state_dict().find("bn1.running_mean"), before));  // train mode updates them
}

// predict --weights tells a plain `fc` Linear head from the tutorial's `fc.0` head by the names,
// and both give probabilities that sum to 1.
TEST(FlowersSetup, PredictOnPlainWeightsWithEitherHead) {
  TempDir dir("flowers_predict");
  sepal::data::Image img(40, 48, 3, 90);
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 48; ++x) img.at(y, x, 1) = static_cast<uint8_t>(x * 5);
  const std::string image = (dir / "a.png");
  sepal::data::save_png(img, image);
  sepal::Generator gen(2);
  auto plain = sepal::nn::resnet18(4, &gen);
  auto tutorial = build_model("resnet18", 4, 3);
  const std::string plain_file = (dir / "plain.safetensors");
  const std::string tutorial_file = (dir / "tutorial.safetensors");
  sepal::checkpoint::save_safetensors(plain->state_dict(), plain_file);
  sepal::checkpoint::save_safetensors(tutorial->state_dict(), tutorial_file);
  for (const auto& file : {plain_file, tutorial_file}) {
    testing::internal::CaptureStdout();
    int rc = predict_command({"--weights", file, "--arch", "resnet18", "--num-classes", "4", "--topk", "4", "--crop",
                              "32", "--resize", "36", "--device", "cpu", "--json", image});
    std::string out = testing::internal::GetCapturedStdout();
    ASSERT_EQ(rc, 0);
    auto json = sepal::io::parse_json(out, "predict output");
    double sum = 0;
    for (const auto& e : json[0].at("topk").as_array()) sum += e.at("prob").as_number();
    EXPECT_NEAR(sum, 1.0, 1e-5) << out;
  }
  EXPECT_THROW(predict_command({"--weights", plain_file, "--arch", "resnet18", "--num-classes", "5", image}),
               sepal::Error);  // a 4-class file for a 5-class model: size mismatch
}

// Writes tiny demo flowers (64 px, the given images per class) into dir/data and returns a
// CPU training config on them (32 px, batch 8, one epoch, no worker threads) writing to dir/out.
TrainConfig tiny_demo_run(const TempDir& dir, int train_per_class, int valid_per_class, const std::string& out) {
  sepal::data::DemoFlowersOptions tiny;
  tiny.image_size = 64;
  tiny.train_per_class = train_per_class;
  tiny.valid_per_class = valid_per_class;
  sepal::data::write_demo_flowers(dir / "data", tiny);
  TrainConfig c;
  c.data = dir / "data";
  c.out = dir / out;
  c.image_size = 32;
  c.batch_size = 8;
  c.workers = 0;
  c.epochs = 1;
  c.device = "cpu";
  return c;
}

// Cached features train the head exactly as the DataLoader path does (same batches, same order,
// backbone in eval mode), up to float summation order.
TEST(FlowersSetup, CachedFeaturesTrainLikeTheLoader) {
  TempDir dir("flowers_cache");
  TrainConfig c = tiny_demo_run(dir, 5, 2, "plain");
  c.batch_size = 16;
  c.epochs = 2;
  c.augment = false;
  c.mode = "feature-extract";
  ASSERT_EQ(run_training(c), 0);
  TrainConfig cached = c;
  cached.out = (dir / "cached");
  cached.cache_features = true;
  ASSERT_EQ(run_training(cached), 0);
  auto a = sepal::io::load_json(c.out + "/history.json").at("epochs");
  auto b = sepal::io::load_json(cached.out + "/history.json").at("epochs");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t e = 0; e < 2; ++e)
    for (const char* key : {"train_loss", "train_acc", "val_loss", "val_acc"})
      EXPECT_NEAR(a[e].at(key).as_number(), b[e].at(key).as_number(), 2e-4) << key << " epoch " << e + 1;
}

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A non-finite loss stops training with status 1 and leaves best.sepal as it was.
TEST(FlowersSetup, NonFiniteLossStopsAndKeepsTheBestCheckpoint) {
  TempDir dir("flowers_nan");
  TrainConfig c = tiny_demo_run(dir, 2, 1, "run");
  ASSERT_EQ(run_training(c), 0);
  const std::string best = c.out + "/best.sepal";
  const std::vector<char> before = file_bytes(best);

  // The same state with a poisoned head weight, resumed into the same folder for one more epoch.
  auto poisoned = sepal::checkpoint::load_checkpoint(c.out + "/last.sepal");
  poisoned.model.find("fc.0.weight")->data_ptr<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  const std::string nan_file = (dir / "nan.sepal");
  sepal::checkpoint::save_checkpoint(poisoned, nan_file);
  TrainConfig resumed = c;
  resumed.epochs = 2;
  resumed.resume = nan_file;
  EXPECT_EQ(run_training(resumed), 1);
  EXPECT_EQ(file_bytes(best), before);
}

}  // namespace
}  // namespace flowers
