// kill_test.cpp: a process SIGKILLed at random moments while saving, again and again, always
// leaves a complete checkpoint at the target path: the old one or the new one, never a mix.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "ckpt_test_util.h"

namespace {

using namespace sepal;
using namespace sepal::testing;
namespace ck = sepal::checkpoint;
namespace fs = std::filesystem;

// A checkpoint of about 2 MB whose every tensor holds `version`, so a mix of two saves shows.
ck::Checkpoint versioned(int64_t version) {
  ck::Checkpoint c;
  for (int i = 0; i < 8; ++i) c.model.insert("t" + std::to_string(i), full({256, 256}, static_cast<double>(version)));
  c.meta.epoch = version;
  return c;
}

TEST(CheckpointKill, KilledWhileSavingLeavesTheOldOrTheNewFile) {
  const fs::path dir = fs::temp_directory_path() / ("sepal-kill-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "ckpt.sepal").string();
  ck::save_checkpoint(versioned(0), path);
  // The checkpoints are built before fork(): the child only serializes and writes.
  std::vector<ck::Checkpoint> versions;
  for (int64_t v = 0; v < 4; ++v) versions.push_back(versioned(v));

  std::mt19937 rng(12345);
  int interrupted = 0;  // kills that left a temporary file: the save was cut short
  constexpr int kKills = 50;
  for (int round = 0; round < kKills; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (uint64_t k = 0;; ++k) ck::save_checkpoint(versions[k % versions.size()], path);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 30000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the saver died on its own";

    ck::Checkpoint back = ck::load_checkpoint(path);  // must be complete and valid
    const int64_t v = back.meta.epoch;
    ASSERT_TRUE(v >= 0 && v < 4) << v;
    for (const auto& [name, t] : back.model) {
      std::vector<float> values = t.to_vector<float>();
      ASSERT_EQ(values.front(), static_cast<float>(v)) << name;
      ASSERT_EQ(values.back(), static_cast<float>(v)) << name;
    }
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().find(".tmp-") != std::string::npos) {
        ++interrupted;
        fs::remove(e.path());  // what a killed writer leaves: never at the target path
      }
  }
  // The test is only meaningful when kills landed inside saves.
  EXPECT_GT(interrupted, kKills / 5) << "too few kills interrupted a save";
  fs::remove_all(dir);
}

}  // namespace
