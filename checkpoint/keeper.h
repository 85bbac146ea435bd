// keeper.h: CheckpointKeeper, the checkpoint folder of a training run: the last N epoch
// checkpoints and the best one, with the rule that the best is never replaced by a worse one or
// by one holding NaN. Files in `dir`:
//   epoch-0007.sepal   one per save_last(), named by meta.epoch; only the newest keep_last stay
//   last.sepal         the newest epoch checkpoint (a hard link to it; a copy where links fail)
//   best.sepal         the best so far by validation accuracy
// Every file is written atomically (checkpoint.h), so a kill at any moment leaves each of them
// either the old or the new version.
//
//   CheckpointKeeper keeper("runs/a", 3);
//   keeper.save_last(ckpt);                    // after each epoch
//   if (keeper.save_if_best(ckpt, val_acc)) log("new best");
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"

namespace sepal::checkpoint {

class CheckpointKeeper {
 public:
  // Creates `dir` (and its parents) when absent. keep_last >= 1. The best accuracy so far is read
  // from an existing best.sepal's metadata; an unreadable best.sepal counts as no best (it will
  // be replaced by the next valid one) and is described by warning().
  CheckpointKeeper(std::string dir, size_t keep_last);

  // Writes epoch-<meta.epoch>.sepal, points last.sepal at it, and deletes the oldest epoch files
  // beyond keep_last. Returns the path written.
  std::string save_last(const Checkpoint& ckpt);
  // Writes best.sepal when val_acc is finite, strictly greater than the best so far, and every
  // tensor of ckpt is finite; the file's meta gets best_val_acc = val_acc and best_epoch =
  // meta.epoch. Returns whether it was written. A worse, equal or NaN accuracy, or a checkpoint
  // holding NaN or infinity, leaves best.sepal untouched.
  bool save_if_best(const Checkpoint& ckpt, double val_acc);
  // A best accuracy reached before this folder's checkpoints, by the run being resumed (into a
  // new folder, say): from now on best.sepal is written only for a strictly better accuracy. The
  // larger of it and the folder's own best counts; a non-finite or negative value (the run has
  // no best yet) changes nothing.
  void carry_best(double val_acc);

  const std::string& dir() const { return dir_; }
  std::string last_path() const { return dir_ + "/last.sepal"; }
  std::string best_path() const { return dir_ + "/best.sepal"; }
  std::optional<double> best_val_acc() const { return best_; }
  // The epoch files present, oldest first.
  std::vector<std::string> epoch_files() const;
  // Why save_if_best last refused, or why an existing best.sepal was ignored; "" when none.
  const std::string& warning() const { return warning_; }

 private:
  std::string dir_;
  size_t keep_last_;
  std::optional<double> best_;
  std::string warning_;
};

}  // namespace sepal::checkpoint
