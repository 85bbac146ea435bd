// fuzz_corpus_test.cpp: the fuzzer's seed corpus (tests/fuzz/corpus). The seeds are made here:
//   SEPAL_WRITE_FUZZ_CORPUS=tests/fuzz/corpus ./test_checkpoint --gtest_filter=FuzzCorpus.*
// writes them; every run checks that the committed "valid-*" seeds still load (so a format
// change that forgets the corpus fails here) and the "invalid-*" ones are still rejected.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "ckpt_test_util.h"
#include "common/test_data.h"

namespace {

using namespace sepal;
using namespace sepal::testing;
namespace ck = sepal::checkpoint;
namespace fs = std::filesystem;

const fs::path kCorpus = sepal::testing::test_data_dir() / ".." / "fuzz" / "corpus";

std::map<std::string, std::vector<uint8_t>> seeds() {
  std::map<std::string, std::vector<uint8_t>> out;
  out["valid-empty.sepal"] = ck::serialize_checkpoint({});
  out["valid-mlp.sepal"] = ck::serialize_checkpoint(trained_state(2).capture());
  ck::Checkpoint kinds;
  kinds.model.insert("f64", from_vector<double>({1.0, -2.0}, {2}));
  kinds.model.insert("i64", scalar_tensor(5, DType::Int64));
  kinds.model.insert("u8", from_vector<uint8_t>({1, 2, 3}, {3, 1}));
  kinds.model.insert("b", raw::cast(from_vector<uint8_t>({1, 0}, {2}), DType::Bool));
  kinds.model.insert("e", zeros({0, 4}));
  kinds.params = {{"f64", {2}, DType::Float64, true, 0}, {"e", {0, 4}, DType::Float32, false, -1}};
  optim::OptimizerStateDict o{"SGD", {{{{"lr", 0.1}, {"momentum", 0.9}}, {"f64"}}}, {}};
  o.state["f64"] = {3, {{"momentum_buffer", from_vector<double>({0.5, 0.25}, {2})}}};
  kinds.optimizer = o;
  kinds.scheduler = optim::SchedulerStateDict{"MultiStepLR", {{"gamma", 0.1}}, {{"milestones", {1, 3}}}};
  kinds.meta.classes = {"daisy", ""};
  kinds.meta.generators = {{"g", {1, 2}}};
  kinds.meta.history = {{1, 0.5, 0.5, 0.5, 0.5, {0.1, 0.01}, 1}};
  out["valid-kinds.sepal"] = ck::serialize_checkpoint(kinds);
  const std::vector<uint8_t>& mlp = out["valid-mlp.sepal"];
  out["invalid-truncated.sepal"] = std::vector<uint8_t>(mlp.begin(), mlp.begin() + static_cast<ptrdiff_t>(mlp.size() / 2));
  std::vector<uint8_t> flipped = out["valid-kinds.sepal"];
  flipped[flipped.size() / 2] ^= 0x20;
  out["invalid-flipped.sepal"] = flipped;
  std::vector<uint8_t> trailing = out["valid-empty.sepal"];
  trailing.push_back(0);
  out["invalid-trailing.sepal"] = trailing;
  return out;
}

std::vector<uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(FuzzCorpus, WriteWhenAsked) {
  const char* dir = std::getenv("SEPAL_WRITE_FUZZ_CORPUS");
  if (!dir) GTEST_SKIP() << "set SEPAL_WRITE_FUZZ_CORPUS=<dir> to write the seed corpus";
  fs::create_directories(dir);
  for (const auto& [name, bytes] : seeds()) {
    std::ofstream out(fs::path(dir) / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << name;
  }
}

TEST(FuzzCorpus, CommittedSeedsAreValidOrRejectedAsNamed) {
  ASSERT_TRUE(fs::is_directory(kCorpus)) << kCorpus;
  size_t valid = 0, invalid = 0;
  for (const auto& entry : fs::directory_iterator(kCorpus)) {
    const std::string name = entry.path().filename().string();
    const std::vector<uint8_t> bytes = read_all(entry.path());
    if (name.rfind("valid-", 0) == 0) {
      EXPECT_NO_THROW(ck::parse_checkpoint(bytes.data(), bytes.size(), name)) << name;
      ++valid;
    } else if (name.rfind("invalid-", 0) == 0) {
      EXPECT_THROW(ck::parse_checkpoint(bytes.data(), bytes.size(), name), ck::CheckpointError) << name;
      ++invalid;
    }
  }
  EXPECT_GE(valid, 3u);
  EXPECT_GE(invalid, 3u);
}

}  // namespace
