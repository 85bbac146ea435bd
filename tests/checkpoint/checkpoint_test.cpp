// checkpoint_test.cpp: capture, save and load of a whole training state: bit-exact round trips
// through a file, snapshots independent of later training, the meta-only reader, errors that
// name the file, the NaN detector, and CPU <-> CUDA round trips (skipped without a GPU).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "ckpt_test_util.h"
#include "common/temp_dir.h"

namespace {

using namespace sepal;
using namespace sepal::testing;
namespace ck = sepal::checkpoint;
namespace fs = std::filesystem;

TEST(Checkpoint, CaptureRecordsIdentityOptimizerAndScheduler) {
  TrainedState s = trained_state();
  ck::Checkpoint c = s.capture();
  ASSERT_EQ(c.params.size(), 4u);
  const ck::ParamIdentity* bias = c.param("0.bias");
  ASSERT_NE(bias, nullptr);
  EXPECT_FALSE(bias->trainable);
  EXPECT_EQ(bias->group, 0);
  EXPECT_EQ(c.param("2.weight")->group, 1);
  EXPECT_EQ(c.param("2.weight")->shape, (Shape{3, 6}));
  ASSERT_TRUE(c.optimizer.has_value());
  EXPECT_EQ(c.optimizer->type, "Adam");
  EXPECT_EQ(c.optimizer->state.count("0.bias"), 0u);  // frozen: never stepped
  EXPECT_EQ(c.optimizer->state.at("2.weight").step, 3);
  EXPECT_NE(c.optimizer->state.at("2.weight").find("max_exp_avg_sq"), nullptr);  // amsgrad group
  ASSERT_TRUE(c.scheduler.has_value());
  EXPECT_EQ(c.scheduler->type, "StepLR");
  EXPECT_EQ(c.meta.sepal_version, ck::kSepalVersion);
}

TEST(Checkpoint, CaptureIsASnapshot) {
  TrainedState s = trained_state();
  ck::Checkpoint c = s.capture();
  const Tensor before = raw::clone(*c.model.find("2.weight"));
  const Tensor avg_before = raw::clone(*c.optimizer->state.at("2.weight").find("exp_avg"));
  train_step(*s.model, *s.opt, 999);
  EXPECT_TRUE(same_bits(*c.model.find("2.weight"), before));
  EXPECT_TRUE(same_bits(*c.optimizer->state.at("2.weight").find("exp_avg"), avg_before));
  EXPECT_FALSE(same_bits(s.model->state_dict().find("2.weight")->clone(), before));  // the model did move
}

TEST(Checkpoint, WholeTrainingStateRoundTripsThroughAFile) {
  const TempDir tmp("ckpt_roundtrip");
  const std::string& dir = tmp.path();
  TrainedState s = trained_state();
  ck::Checkpoint c = s.capture();
  const std::string path = dir + "/state.sepal";
  ck::save_checkpoint(c, path);
  ck::Checkpoint back = ck::load_checkpoint(path);
  EXPECT_TRUE(same_checkpoint(c, back));
  for (const auto& [name, t] : back.model) EXPECT_TRUE(t.device().is_cpu()) << name;
  // No temporary file is left behind.
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
  // Overwriting replaces it.
  c.meta.epoch = 99;
  ck::save_checkpoint(c, path);
  EXPECT_EQ(ck::load_checkpoint(path).meta.epoch, 99);
  fs::remove_all(dir);
}

TEST(Checkpoint, MetaOnlyReaderReadsTheSameMeta) {
  const TempDir tmp("ckpt_meta");
  const std::string& dir = tmp.path();
  TrainedState s = trained_state();
  const std::string path = dir + "/state.sepal";
  ck::save_checkpoint(s.capture(), path);
  ck::TrainingMeta expected = full_meta();
  expected.sepal_version = ck::kSepalVersion;
  EXPECT_TRUE(ck::load_checkpoint_meta(path) == expected);
  EXPECT_TRUE(ck::load_checkpoint(path).meta == expected);
  // A corrupted meta record is caught by the meta reader too.
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  RawFile f = RawFile::parse(bytes);
  RawEntry& e = f.entry("meta/arch");
  std::vector<uint8_t> bad = f.bytes();
  bad[bad.size() - f.data.size() + e.offset] ^= 1;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bad.data()), static_cast<std::streamsize>(bad.size()));
  }
  try {
    ck::load_checkpoint_meta(path);
    FAIL() << "accepted a corrupted meta record";
  } catch (const ck::CheckpointError& err) {
    EXPECT_NE(std::string(err.what()).find("\"meta/arch\""), std::string::npos) << err.what();
  }
  fs::remove_all(dir);
}

TEST(Checkpoint, ErrorsNameTheFile) {
  const TempDir tmp("ckpt_errors");
  const std::string& dir = tmp.path();
  try {
    ck::load_checkpoint(dir + "/missing.sepal");
    FAIL();
  } catch (const ck::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/missing.sepal: cannot open"), std::string::npos) << e.what();
  }
  try {
    ck::load_checkpoint(dir);
    FAIL();
  } catch (const ck::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  {
    std::ofstream out(dir + "/text.sepal");
    out << "this is a text file, long enough to hold a preamble of forty-eight bytes";
  }
  try {
    ck::load_checkpoint(dir + "/text.sepal");
    FAIL();
  } catch (const ck::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("text.sepal: not a sepal checkpoint"), std::string::npos) << e.what();
  }
  // Saving into a missing folder fails cleanly and names the path.
  try {
    ck::save_checkpoint(trained_state(1).capture(), dir + "/no/such/dir/x.sepal");
    FAIL();
  } catch (const ck::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("x.sepal"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Checkpoint, FirstNonFiniteFindsNaNAndInfinity) {
  TrainedState s = trained_state(1);
  ck::Checkpoint c = s.capture();
  EXPECT_FALSE(ck::first_non_finite(c).has_value());
  ck::Checkpoint nan = c;
  Tensor w = raw::clone(*c.model.find("2.bias"));
  w.data_ptr<float>()[1] = std::nanf("");
  nan.model.insert("2.bias", w);
  EXPECT_EQ(ck::first_non_finite(nan), std::optional<std::string>("2.bias"));
  ck::Checkpoint inf = c;
  Tensor a = raw::clone(*c.optimizer->state.at("0.weight").find("exp_avg_sq"));
  a.data_ptr<float>()[0] = INFINITY;
  inf.optimizer->state.at("0.weight").set("exp_avg_sq", a);
  EXPECT_EQ(ck::first_non_finite(inf), std::optional<std::string>("optimizer state exp_avg_sq of 0.weight"));
}

TEST(CheckpointCuda, SavedFromCudaLoadsOnCpu) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const TempDir tmp("ckpt_cuda1");
  const std::string& dir = tmp.path();
  TrainedState s = trained_state();
  ck::Checkpoint cpu = s.capture();
  s.model->to(Device::cuda());
  ck::Checkpoint from_cuda = ck::capture(*s.model, nullptr, nullptr, full_meta());
  ck::save_checkpoint(from_cuda, dir + "/cuda.sepal");
  ck::Checkpoint back = ck::load_checkpoint(dir + "/cuda.sepal");
  EXPECT_TRUE(same_state(cpu.model, back.model));
  for (const auto& [name, t] : back.model) EXPECT_TRUE(t.device().is_cpu()) << name;
  // A checkpoint whose tensors are on the GPU (not captured) saves the same bytes.
  ck::Checkpoint on_gpu = cpu;
  nn::StateDict moved;
  for (const auto& [name, t] : cpu.model) moved.insert(name, raw::to_device(t, Device::cuda()));
  on_gpu.model = moved;
  EXPECT_EQ(ck::serialize_checkpoint(on_gpu), ck::serialize_checkpoint(cpu));
  fs::remove_all(dir);
}

TEST(CheckpointCuda, SavedOnCpuLoadsIntoACudaModel) {
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const TempDir tmp("ckpt_cuda2");
  const std::string& dir = tmp.path();
  TrainedState s = trained_state();
  ck::save_checkpoint(s.capture(), dir + "/cpu.sepal");
  ck::Checkpoint c = ck::load_checkpoint(dir + "/cpu.sepal");
  auto model = small_mlp(77);
  model->to(Device::cuda());
  model->load_state_dict(c.model);
  for (const auto& [name, t] : model->state_dict()) {
    EXPECT_TRUE(t.device().is_cuda()) << name;
    EXPECT_TRUE(same_bits(t, *c.model.find(name))) << name;
  }
  fs::remove_all(dir);
}

}  // namespace
