// cursor_test.cpp: TrainingCursor's records: encode/decode round trips (a finished epoch's cursor,
// a mid-epoch one, a meta built like the one `flowers train` saved on Ctrl-C, records written
// with the same keys and hexfloat text), absent records, and the rejection of malformed values
// with a CheckpointError naming the record.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "checkpoint/cursor.h"

namespace {

namespace ck = sepal::checkpoint;

// A meta like the one `flowers train --batch-size 4 --epochs 2 --seed 5` saved when interrupted
// after batch 1 of epoch 2, before TrainingCursor existed (its cursor records and values exactly;
// the trainer's other strings abridged).
ck::TrainingMeta interrupted_meta() {
  ck::TrainingMeta m;
  m.epoch = 1;
  m.best_epoch = 1;
  m.best_val_acc = 0.22;
  m.generators["loader"] = {5, 0};
  m.counters = {{"loader.epoch", 1}, {"loader.batch", 1}, {"partial.count", 4}, {"partial.correct", 1}};
  m.strings = {{"optimizer", "adam"},
               {"scheduler", "step"},
               {"partial.loss_sum", "0x1.ecaf58p+2"},
               {"partial.seconds", "0x1.3a9ea637a6794p-6"},
               {"epoch_images", "{\"1\":400}"}};
  return m;
}

void expect_rejected(const ck::TrainingMeta& m, const std::string& record, const std::string& what) {
  try {
    ck::TrainingCursor::decode(m, "run/last.sepal");
    FAIL() << "accepted a bad " << record;
  } catch (const ck::CheckpointError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("run/last.sepal"), std::string::npos) << msg;
    EXPECT_NE(msg.find("\"" + record + "\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

TEST(TrainingCursor, InterruptedMetaDecodesAndReencodesToTheSameRecords) {
  const ck::TrainingMeta saved = interrupted_meta();
  const ck::TrainingCursor c = ck::TrainingCursor::decode(saved);
  EXPECT_EQ(c.epoch, 1);
  EXPECT_EQ(c.batch, 1);
  ASSERT_TRUE(c.partial.has_value());
  EXPECT_EQ(c.partial->count, 4);
  EXPECT_EQ(c.partial->correct, 1);
  EXPECT_EQ(c.partial->loss_sum, 0x1.ecaf58p+2);
  EXPECT_EQ(c.partial->seconds, 0x1.3a9ea637a6794p-6);
  // encoding into a copy without the cursor's records gives back exactly the saved counters and strings
  ck::TrainingMeta again = saved;
  for (const char* k : {"loader.epoch", "loader.batch", "partial.count", "partial.correct"}) again.counters.erase(k);
  for (const char* k : {"partial.loss_sum", "partial.seconds"}) again.strings.erase(k);
  c.encode(again);
  EXPECT_EQ(again.counters, saved.counters);
  EXPECT_EQ(again.strings, saved.strings);
  EXPECT_EQ(again, saved);
}

TEST(TrainingCursor, RoundTripsBitExact) {
  const double values[] = {0.0, 1.5, 1.0 / 3.0, 1e-300, 12345.678901234567, std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::max()};
  for (double v : values) {
    ck::TrainingMeta m;
    m.epoch = 7;
    const ck::TrainingCursor c{7, 12, ck::PartialEpoch{48, 30, v, v}};
    c.encode(m);
    EXPECT_EQ(ck::TrainingCursor::decode(m), c) << m.strings["partial.loss_sum"];
  }
  ck::TrainingMeta m;
  m.epoch = 1;
  ck::TrainingCursor{1, 3, ck::PartialEpoch{12, 5, -0.0, 0.25}}.encode(m);
  EXPECT_EQ(m.strings["partial.loss_sum"], "-0x0p+0");
  EXPECT_EQ(m.strings["partial.seconds"], "0x1p-2");
  EXPECT_TRUE(std::signbit(ck::TrainingCursor::decode(m).partial->loss_sum));
}

TEST(TrainingCursor, FinishedEpochHasNoPartialRecords) {
  ck::TrainingMeta m = interrupted_meta();
  m.epoch = 2;
  ck::TrainingCursor{2, 0, std::nullopt}.encode(m);  // the epoch finished after the resume
  EXPECT_EQ(m.counters, (std::map<std::string, int64_t>{{"loader.epoch", 2}, {"loader.batch", 0}}));
  EXPECT_EQ(m.strings.count("partial.loss_sum"), 0u);
  EXPECT_EQ(m.strings.count("partial.seconds"), 0u);
  EXPECT_EQ(m.strings.size(), 3u);  // the trainer's own strings are left alone
  EXPECT_EQ(ck::TrainingCursor::decode(m), (ck::TrainingCursor{2, 0, std::nullopt}));
}

TEST(TrainingCursor, AbsentRecordsReadAsAFinishedEpoch) {
  ck::TrainingMeta m;
  m.epoch = 4;
  EXPECT_EQ(ck::TrainingCursor::decode(m), (ck::TrainingCursor{4, 0, std::nullopt}));
  m.counters["loader.batch"] = 9;  // a position without partial totals: they start at zero
  EXPECT_EQ(ck::TrainingCursor::decode(m), (ck::TrainingCursor{4, 9, std::nullopt}));
}

TEST(TrainingCursor, RejectsMalformedRecords) {
  auto with_counter = [](const char* k, int64_t v) {
    ck::TrainingMeta m = interrupted_meta();
    m.counters[k] = v;
    return m;
  };
  auto with_string = [](const char* k, const std::string& v) {
    ck::TrainingMeta m = interrupted_meta();
    m.strings[k] = v;
    return m;
  };
  expect_rejected(with_counter("loader.batch", -1), "loader.batch", "-1 is negative");
  expect_rejected(with_counter("loader.epoch", -3), "loader.epoch", "negative");
  expect_rejected(with_counter("loader.epoch", 5), "loader.epoch", "mid-epoch");
  expect_rejected(with_counter("partial.count", -4), "partial.count", "negative");
  expect_rejected(with_counter("partial.correct", -1), "partial.correct", "negative");
  expect_rejected(with_counter("partial.correct", 5), "partial.correct", "exceeds partial.count 4");
  const std::vector<std::string> bads = {"", "abc", "1.5", "0x", "0xp+1", "0x1.8", "0x1.8p", "0x1.8p+", "0x1.8p+1 ", " 0x1p+0",
                                "0x1p+0x", "+0x1p+0", "inf", "nan", "0x1.8P+1", std::string("0x1p+0\0", 7)};
  for (const std::string& bad : bads) {
    SCOPED_TRACE(bad);
    expect_rejected(with_string("partial.loss_sum", bad), "partial.loss_sum", "is not a hexfloat");
    expect_rejected(with_string("partial.seconds", bad), "partial.seconds", "is not a hexfloat");
  }
  expect_rejected(with_string("partial.loss_sum", "0x1p+99999"), "partial.loss_sum", "is not finite");
  expect_rejected(with_string("partial.seconds", "-0x1p+0"), "partial.seconds", "negative");
  for (const char* k : {"partial.count", "partial.correct"}) {
    ck::TrainingMeta m = interrupted_meta();
    m.counters.erase(k);
    expect_rejected(m, k, "missing");
  }
  for (const char* k : {"partial.loss_sum", "partial.seconds"}) {
    ck::TrainingMeta m = interrupted_meta();
    m.strings.erase(k);
    expect_rejected(m, k, "missing");
  }
  // a hostile string is quoted and cut in the message, not echoed raw
  try {
    ck::TrainingCursor::decode(with_string("partial.loss_sum", std::string(500, 'x') + "\x1b[2J"));
    FAIL();
  } catch (const ck::CheckpointError& e) {
    EXPECT_EQ(std::string(e.what()).find('\x1b'), std::string::npos);
    EXPECT_LT(std::string(e.what()).size(), 200u);
  }
}

}  // namespace
