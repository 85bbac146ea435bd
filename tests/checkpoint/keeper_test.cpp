// keeper_test.cpp: CheckpointKeeper: the best checkpoint is never replaced by a worse, equal or
// NaN accuracy nor by a checkpoint holding NaN; the best survives a new keeper (read back from
// best.sepal's meta); only the newest keep_last epoch files stay; last.sepal is the newest.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "checkpoint/keeper.h"
#include "ckpt_test_util.h"
#include "common/temp_dir.h"

namespace {

using namespace sepal;
using namespace sepal::testing;
namespace ck = sepal::checkpoint;
namespace fs = std::filesystem;

ck::Checkpoint at_epoch(const ck::Checkpoint& base, int64_t epoch) {
  ck::Checkpoint c = base;
  c.meta.epoch = epoch;
  return c;
}

TEST(CheckpointKeeper, NeverReplacesTheBestWithWorseEqualOrNaN) {
  const TempDir tmp("keeper_best");
  const std::string& dir = tmp.path();
  ck::Checkpoint base = trained_state(1).capture();
  ck::CheckpointKeeper keeper(dir + "/run", 2);  // creates the folder
  EXPECT_FALSE(keeper.best_val_acc().has_value());
  EXPECT_TRUE(keeper.save_if_best(at_epoch(base, 1), 0.50));
  EXPECT_TRUE(keeper.save_if_best(at_epoch(base, 2), 0.75));
  EXPECT_FALSE(keeper.save_if_best(at_epoch(base, 3), 0.60));  // worse
  EXPECT_FALSE(keeper.save_if_best(at_epoch(base, 4), 0.75));  // equal: the earlier stays
  EXPECT_FALSE(keeper.save_if_best(at_epoch(base, 5), std::nan("")));
  EXPECT_NE(keeper.warning().find("nan"), std::string::npos) << keeper.warning();
  EXPECT_FALSE(keeper.save_if_best(at_epoch(base, 6), INFINITY));
  // A better accuracy, but weights holding NaN.
  ck::Checkpoint poisoned = at_epoch(base, 7);
  Tensor w = raw::clone(*base.model.find("2.weight"));
  w.data_ptr<float>()[0] = std::nanf("");
  poisoned.model.insert("2.weight", w);
  EXPECT_FALSE(keeper.save_if_best(poisoned, 0.99));
  EXPECT_NE(keeper.warning().find("2.weight"), std::string::npos) << keeper.warning();

  ck::Checkpoint best = ck::load_checkpoint(keeper.best_path());
  EXPECT_EQ(best.meta.epoch, 2);
  EXPECT_EQ(best.meta.best_epoch, 2);
  EXPECT_EQ(best.meta.best_val_acc, 0.75);
  EXPECT_EQ(*keeper.best_val_acc(), 0.75);

  // A new keeper on the same folder (a resumed run) knows the best so far.
  ck::CheckpointKeeper again(dir + "/run", 2);
  EXPECT_EQ(again.best_val_acc(), std::optional<double>(0.75));
  EXPECT_FALSE(again.save_if_best(at_epoch(base, 8), 0.70));
  EXPECT_TRUE(again.save_if_best(at_epoch(base, 9), 0.80));
  EXPECT_EQ(ck::load_checkpoint_meta(again.best_path()).epoch, 9);
  fs::remove_all(dir);
}

// A run resumed into a new folder brings its best so far (1.00 after feature extraction): its
// first fine-tuning epoch at 0.75 is not the best and must not become best.sepal; a better one is.
TEST(CheckpointKeeper, ACarriedBestFromTheResumedRunCounts) {
  const TempDir tmp("keeper_carried");
  const std::string& dir = tmp.path();
  ck::Checkpoint base = trained_state(1).capture();
  ck::CheckpointKeeper keeper(dir + "/finetune", 1);
  keeper.carry_best(0.90);
  EXPECT_EQ(keeper.best_val_acc(), 0.90);
  EXPECT_FALSE(keeper.save_if_best(at_epoch(base, 4), 0.75));
  EXPECT_FALSE(fs::exists(keeper.best_path()));
  EXPECT_FALSE(keeper.save_if_best(at_epoch(base, 5), 0.90));  // equal: the earlier stays
  EXPECT_TRUE(keeper.save_if_best(at_epoch(base, 6), 0.95));
  EXPECT_EQ(ck::load_checkpoint_meta(keeper.best_path()).best_epoch, 6);
  // the larger of the folder's own best and the carried one counts; "no best yet" changes nothing
  keeper.carry_best(0.50);
  keeper.carry_best(-1);
  keeper.carry_best(std::nan(""));
  EXPECT_EQ(keeper.best_val_acc(), 0.95);
  ck::CheckpointKeeper fresh(dir + "/other", 1);
  fresh.carry_best(-1);  // a run that has no best yet
  EXPECT_FALSE(fresh.best_val_acc().has_value());
  EXPECT_TRUE(fresh.save_if_best(at_epoch(base, 1), 0.10));
  fs::remove_all(dir);
}

TEST(CheckpointKeeper, AnUnreadableBestIsReplacedByTheNextValidOne) {
  const TempDir tmp("keeper_corrupt");
  const std::string& dir = tmp.path();
  fs::create_directories(dir);
  { std::ofstream(dir + "/best.sepal") << "garbage"; }
  ck::CheckpointKeeper keeper(dir, 1);
  EXPECT_FALSE(keeper.best_val_acc().has_value());
  EXPECT_NE(keeper.warning().find("best.sepal"), std::string::npos) << keeper.warning();
  EXPECT_TRUE(keeper.save_if_best(trained_state(1).capture(), 0.1));
  EXPECT_EQ(ck::load_checkpoint_meta(keeper.best_path()).best_val_acc, 0.1);
  fs::remove_all(dir);
}

TEST(CheckpointKeeper, KeepsTheLastNAndPointsLastAtTheNewest) {
  const TempDir tmp("keeper_last");
  const std::string& dir = tmp.path();
  ck::Checkpoint base = trained_state(1).capture();
  ck::CheckpointKeeper keeper(dir, 3);
  for (int64_t e = 1; e <= 5; ++e) {
    const std::string path = keeper.save_last(at_epoch(base, e));
    EXPECT_EQ(path, dir + "/epoch-000" + std::to_string(e) + ".sepal");
    EXPECT_EQ(ck::load_checkpoint_meta(keeper.last_path()).epoch, e);
  }
  EXPECT_EQ(keeper.epoch_files(), (std::vector<std::string>{dir + "/epoch-0003.sepal", dir + "/epoch-0004.sepal",
                                                            dir + "/epoch-0005.sepal"}));
  // last.sepal is the newest file itself (a hard link), not a second copy.
  EXPECT_TRUE(fs::equivalent(keeper.last_path(), dir + "/epoch-0005.sepal"));
  EXPECT_TRUE(same_checkpoint(ck::load_checkpoint(keeper.last_path()), at_epoch(base, 5)));
  // Epoch numbers sort numerically, not as text, and other files are left alone.
  { std::ofstream(dir + "/notes.txt") << "keep me"; }
  keeper.save_last(at_epoch(base, 10000));
  EXPECT_EQ(keeper.epoch_files().back(), dir + "/epoch-10000.sepal");
  EXPECT_EQ(keeper.epoch_files().front(), dir + "/epoch-0004.sepal");
  EXPECT_TRUE(fs::exists(dir + "/notes.txt"));
  EXPECT_THROW(ck::CheckpointKeeper(dir, 0), Error);
  fs::remove_all(dir);
}

}  // namespace
