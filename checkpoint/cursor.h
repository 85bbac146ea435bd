// cursor.h: TrainingCursor, where a training run stands within its epochs: the epoch and batch
// its data loader has reached and, in a checkpoint taken mid-epoch (Ctrl-C), the totals of the
// batches of that epoch already trained, so that a resumed epoch's totals come out bit-exact.
// It lives in TrainingMeta as these records (docs/checkpoint-format.md):
//
//   counters["loader.epoch"]     the epoch the loader's position refers to (0-based: the number
//                                of epochs completed, meta.epoch, in both kinds of checkpoint)
//   counters["loader.batch"]     batches of that epoch already trained; 0 after a finished epoch
//   counters["partial.count"]    mid-epoch only: images of those batches
//   counters["partial.correct"]  mid-epoch only: correct predictions among them
//   strings["partial.loss_sum"]  mid-epoch only: the sum of their losses, a C hexfloat ("%a",
//                                0x1.8p+1) so that it reads back bit-exact
//   strings["partial.seconds"]   mid-epoch only: the seconds spent on them, a C hexfloat
//
//   TrainingCursor{epoch, batch, PartialEpoch{count, correct, loss_sum, seconds}}.encode(meta);
//   TrainingCursor at = TrainingCursor::decode(saved_meta, path);   // CheckpointError if malformed
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "checkpoint/meta.h"

namespace sepal::checkpoint {

// The totals of the batches of an unfinished epoch.
struct PartialEpoch {
  int64_t count = 0, correct = 0;  // images, correct predictions
  double loss_sum = 0;             // sum over images of the per-image loss
  double seconds = 0;              // wall time spent on them
  bool operator==(const PartialEpoch&) const = default;
};

struct TrainingCursor {
  int64_t epoch = 0;                    // loader.epoch
  int64_t batch = 0;                    // loader.batch
  std::optional<PartialEpoch> partial;  // present exactly in a mid-epoch checkpoint

  // Writes the records above into meta, replacing them; without `partial` the partial.* records
  // are removed.
  void encode(TrainingMeta& meta) const;
  // Reads them back. Absent records read as a finished epoch's cursor would (loader.epoch as
  // meta.epoch, loader.batch 0, no partial.*). Throws CheckpointError, naming `source` and the
  // record, for a negative epoch or batch, some partial.* records without the others, negative
  // counts or more correct than counted, a loss sum or seconds that is not a finite hexfloat
  // (negative seconds too), and a mid-epoch loader.epoch other than meta.epoch.
  static TrainingCursor decode(const TrainingMeta& meta, const std::string& source = "training meta");

  bool operator==(const TrainingCursor&) const = default;
};

}  // namespace sepal::checkpoint
