// format_test.cpp: the checkpoint container: CRC-32C against published vectors, round trips of
// every record kind, and every malformed variant of a small valid file (truncated at each byte,
// each byte flipped, each preamble field and record field wrong with the checksums resealed so
// the check behind them is reached): each must be a CheckpointError naming the input.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ckpt_test_util.h"

namespace {

using namespace sepal;
using namespace sepal::testing;
namespace ck = sepal::checkpoint;

const std::string kSource = "mem.sepal";

// Parses and expects a CheckpointError whose message names the input and contains `needle`.
::testing::AssertionResult rejects(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    ck::parse_checkpoint(bytes.data(), bytes.size(), kSource);
  } catch (const ck::CheckpointError& e) {
    const std::string msg = e.what();
    if (msg.rfind(kSource + ": ", 0) != 0) return ::testing::AssertionFailure() << "message does not name the input: " << msg;
    if (msg.find(needle) == std::string::npos)
      return ::testing::AssertionFailure() << "message lacks \"" << needle << "\": " << msg;
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "not a CheckpointError: " << e.what();
  }
  return ::testing::AssertionFailure() << "accepted";
}

// A small valid checkpoint: two tensors, an optimizer with state, a scheduler, full meta.
std::vector<uint8_t> small_file() {
  static const std::vector<uint8_t> bytes = [] {
    ck::Checkpoint c;
    c.model.insert("w", from_vector<float>({1.5f, -2.f, 3.f, 0.25f}, {2, 2}));
    c.model.insert("count", scalar_tensor(7, DType::Int64));
    c.params = {{"w", {2, 2}, DType::Float32, true, 0}};
    optim::OptimizerStateDict o;
    o.type = "Adam";
    o.groups = {{{{"lr", 0.01}, {"initial_lr", 0.01}}, {"w"}}};
    o.state["w"] = {4, {{"exp_avg", from_vector<float>({0.1f, 0.2f, 0.3f, 0.4f}, {2, 2})}}};
    c.optimizer = o;
    c.scheduler = optim::SchedulerStateDict{"StepLR", {{"last_epoch", 1}}, {{"base_lrs", {0.01}}}};
    c.meta.epoch = 1;
    c.meta.classes = {"a", "b"};
    c.meta.history = {{1, 0.5, 0.5, 0.5, 0.5, {0.01}, 1.0}};
    c.meta.sepal_version = "test";
    return ck::serialize_checkpoint(c);
  }();
  return bytes;
}

// Removes record `name` and its data, shifting the records after it.
void remove_record(RawFile& f, const std::string& name) {
  for (size_t i = 0; i < f.entries.size(); ++i) {
    if (f.entries[i].name != name) continue;
    const RawEntry gone = f.entries[i];
    f.data.erase(f.data.begin() + static_cast<ptrdiff_t>(gone.offset),
                 f.data.begin() + static_cast<ptrdiff_t>(gone.offset + gone.length));
    f.entries.erase(f.entries.begin() + static_cast<ptrdiff_t>(i));
    for (size_t k = i; k < f.entries.size(); ++k) f.entries[k].offset -= gone.length;
    f.record_count -= 1;
    f.data_size -= gone.length;
    return;
  }
  FAIL() << "no record " << name;
}

TEST(Crc32c, MatchesPublishedVectors) {
  const char* digits = "123456789";
  EXPECT_EQ(ck::crc32c(digits, 9), 0xE3069283u);  // the CRC-32C check value
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), inc(32);
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(ck::crc32c(zeros.data(), 32), 0x8A9136AAu);  // RFC 3720, B.4
  EXPECT_EQ(ck::crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(ck::crc32c(inc.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(ck::crc32c(nullptr, 0), 0u);
}

TEST(Crc32c, StreamingAndUnalignedStartsAgree) {
  std::vector<uint8_t> buf(1000);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 131 + 7);
  for (size_t start = 0; start < 9; ++start) {
    const uint32_t whole = ck::crc32c(buf.data() + start, 900);
    // Byte-at-a-time reference through the streaming interface.
    uint32_t stepwise = 0;
    for (size_t i = 0; i < 900; ++i) stepwise = ck::crc32c(buf.data() + start + i, 1, stepwise);
    EXPECT_EQ(whole, stepwise) << "start " << start;
    EXPECT_EQ(whole, ck::crc32c(buf.data() + start + 333, 567, ck::crc32c(buf.data() + start, 333)));
  }
}

TEST(CheckpointFormat, RoundTripsEveryRecordKind) {
  ck::Checkpoint c;
  c.model.insert("f32", from_vector<float>({1.f, -0.f, 3.5e-42f, std::numeric_limits<float>::infinity()}, {2, 2}));
  c.model.insert("f64", from_vector<double>({1e300, -2.5, std::nan("")}, {3}));
  c.model.insert("i64", from_vector<int64_t>({-1, INT64_MAX, INT64_MIN}, {3, 1}));
  c.model.insert("u8", from_vector<uint8_t>({0, 255, 7}, {3}));
  c.model.insert("b", raw::cast(from_vector<uint8_t>({1, 0, 1}, {1, 3}), DType::Bool));
  c.model.insert("scalar", scalar_tensor(2.5));
  c.model.insert("empty", zeros({0, 3}));
  c.model.insert("noncontig", raw::transpose(from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}), 0, 1));
  c.params = {{"f32", {2, 2}, DType::Float32, true, 0},
              {"f64", {3}, DType::Float64, false, -1},
              {"empty", {0, 3}, DType::Float32, true, 1}};
  optim::OptimizerStateDict o;
  o.type = "AdamW";
  o.groups = {{{{"lr", 1e-3}, {"amsgrad", 1}}, {"f32"}}, {{{"lr", 1e-5}}, {"empty"}}};
  o.state["f32"] = {12, {{"exp_avg", from_vector<float>({1, 2, 3, 4}, {2, 2})},
                          {"exp_avg_sq", from_vector<float>({5, 6, 7, 8}, {2, 2})},
                          {"max_exp_avg_sq", from_vector<float>({9, 10, 11, 12}, {2, 2})}}};
  o.state["empty"] = {1, {{"exp_avg", zeros({0, 3})}}};
  c.optimizer = o;
  c.scheduler = optim::SchedulerStateDict{
      "MultiStepLR", {{"last_epoch", 4}, {"gamma", 0.1}}, {{"milestones", {2, 2, 5}}, {"base_lrs", {1e-3, 1e-5}}, {"last_lr", {}}}};
  c.meta = full_meta();
  const std::vector<uint8_t> bytes = ck::serialize_checkpoint(c);
  ck::Checkpoint back = ck::parse_checkpoint(bytes.data(), bytes.size(), kSource);
  EXPECT_TRUE(same_checkpoint(c, back));
  EXPECT_EQ(back.model.find("noncontig")->to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  // Serializing what was loaded gives the same bytes: the format has one encoding per state.
  EXPECT_EQ(ck::serialize_checkpoint(back), bytes);
}

TEST(CheckpointFormat, RoundTripsAnEmptyCheckpoint) {
  ck::Checkpoint c;
  const std::vector<uint8_t> bytes = ck::serialize_checkpoint(c);
  ck::Checkpoint back = ck::parse_checkpoint(bytes.data(), bytes.size(), kSource);
  EXPECT_TRUE(same_checkpoint(c, back));
  EXPECT_FALSE(back.optimizer.has_value());
  EXPECT_FALSE(back.scheduler.has_value());
}

TEST(CheckpointFormat, TheSmallFileIsValidAndTheTestReaderAgrees) {
  std::vector<uint8_t> bytes = small_file();
  ck::Checkpoint c = ck::parse_checkpoint(bytes.data(), bytes.size(), kSource);
  EXPECT_EQ(c.meta.classes, (std::vector<std::string>{"a", "b"}));
  RawFile f = RawFile::parse(bytes);
  EXPECT_EQ(f.version, 1u);
  EXPECT_EQ(f.bytes(), bytes);  // the independent reading of the layout reproduces the file exactly
  EXPECT_EQ(bytes.size(), 48 + f.header_size + f.data_size);
}

TEST(CheckpointFormat, TruncationAtEveryByteIsAnError) {
  const std::vector<uint8_t> bytes = small_file();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    ASSERT_TRUE(rejects(cut, "")) << "truncated to " << n << " of " << bytes.size() << " bytes";
  }
  EXPECT_TRUE(rejects({}, "too short"));
  std::vector<uint8_t> cut(bytes.begin(), bytes.end() - 1);
  EXPECT_TRUE(rejects(cut, "truncated"));
}

TEST(CheckpointFormat, EveryFlippedByteIsDetected) {
  const std::vector<uint8_t> bytes = small_file();
  for (size_t i = 0; i < bytes.size(); ++i)
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      std::vector<uint8_t> bad = bytes;
      bad[i] ^= mask;
      ASSERT_TRUE(rejects(bad, "")) << "byte " << i << " xor " << int(mask);
    }
}

TEST(CheckpointFormat, TrailingBytesAreAnError) {
  std::vector<uint8_t> bytes = small_file();
  bytes.push_back(0);
  EXPECT_TRUE(rejects(bytes, "1 trailing bytes after the data region"));
}

TEST(CheckpointFormat, EachPreambleFieldIsChecked) {
  const std::vector<uint8_t> good = small_file();
  auto with = [&](auto change, bool reseal = true) {
    RawFile f = RawFile::parse(good);
    change(f);
    return f.bytes(reseal);
  };
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.magic[1] = 'X'; }), "not a sepal checkpoint"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.version = 2; }), "format version 2 is not supported"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.version = 0; }), "format version 0 is not supported"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.flags = 4; }), "unknown flags"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.preamble_crc ^= 1; }, false), "preamble checksum mismatch"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.header_crc ^= 1; f.preamble_crc = 0; }, false), "preamble checksum"));
  // A wrong table checksum with a valid preamble checksum.
  {
    RawFile f = RawFile::parse(good);
    std::vector<uint8_t> b = f.bytes();
    b[40] ^= 1;  // header_crc
    const uint32_t pc = ck::crc32c(b.data(), 44);
    for (int k = 0; k < 4; ++k) b[44 + k] = static_cast<uint8_t>(pc >> (8 * k));
    EXPECT_TRUE(rejects(b, "record table checksum mismatch"));
  }
  // Sizes, with checksums resealed around the lie.
  auto lie = [&](int field_offset, uint64_t value) {
    std::vector<uint8_t> b = good;
    for (int k = 0; k < 8; ++k) b[field_offset + k] = static_cast<uint8_t>(value >> (8 * k));
    const uint32_t pc = ck::crc32c(b.data(), 44);
    for (int k = 0; k < 4; ++k) b[44 + k] = static_cast<uint8_t>(pc >> (8 * k));
    return b;
  };
  RawFile f = RawFile::parse(good);
  EXPECT_TRUE(rejects(lie(16, uint64_t{1} << 62), "exceeds the"));           // header_size absurd
  EXPECT_TRUE(rejects(lie(16, (uint64_t{64} << 20) + 1), "exceeds the"));    // just over the limit
  EXPECT_TRUE(rejects(lie(16, good.size()), "runs past the end of the file"));
  EXPECT_TRUE(rejects(lie(16, f.header_size + 8), ""));                      // table/data boundary moved
  EXPECT_TRUE(rejects(lie(24, uint64_t{1} << 40), "exceeds the limit"));     // record_count absurd
  EXPECT_TRUE(rejects(lie(24, f.header_size), "cannot fit"));                // more entries than bytes allow
  EXPECT_TRUE(rejects(lie(24, f.record_count - 1), "bytes of the record table follow its last entry"));
  EXPECT_TRUE(rejects(lie(32, f.data_size + 1), "truncated"));
  EXPECT_TRUE(rejects(lie(32, f.data_size - 1), "trailing bytes"));
  EXPECT_TRUE(rejects(lie(32, UINT64_MAX), "truncated"));
}

TEST(CheckpointFormat, EachRecordFieldIsChecked) {
  const std::vector<uint8_t> good = small_file();
  auto with = [&](auto change) {
    RawFile f = RawFile::parse(good);
    change(f);
    return f.bytes();
  };
  // Layout: overlaps, holes, out of range.
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entries[1].offset = 0; }), "overlaps the previous record"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entries[1].offset += 4; }), "leaves a hole"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entries[0].offset = UINT64_MAX - 3; }), "offset"));
  EXPECT_TRUE(rejects(with([](RawFile& f) {
                        RawEntry& last = f.entries.back();
                        last.length += 8;
                        last.dims = {last.dims[0] + 8};
                      }),
                      "runs past the end of the data region"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").length = 12; }), "does not match F32 [2, 2]"));
  // Shapes: absurd, overflowing, too many dims, negative (as unsigned).
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").dims = {uint64_t{1} << 62, uint64_t{1} << 62}; }), "overflows"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").dims = {uint64_t{1} << 61, 2}; }), "overflows int64 bytes"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").dims = {UINT64_MAX, 1}; }), "too large"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").dims = {1, 1, 1, 1, 1, 1, 1, 1, 4}; }), "rank 9 exceeds"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").dims = {4, 0}; f.entry("model/w").length = 16; }),
                      "does not match"));
  // Types, roles, reserved byte.
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").type = 9; }), "unknown record type 9"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").type = 0; }), "unknown record type 0"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").type = 3; f.entry("model/w").dims = {2, 1}; }), ""));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").role = 5; }), "unknown role 5"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").role = 4; }), "role parameter or buffer"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("meta/epoch").role = 0; }), "role should be meta"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("meta/epoch").type = 2; }), "type should be I64"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/w").reserved = 1; }), "reserved byte"));
  // Names.
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/count").name = "model/w"; }), "appears twice"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/count").name = ""; }), "name length 0"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/count").name = std::string(1025, 'x'); }), "name length 1025"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/count").name = "model/\xC3"; }), "not valid UTF-8"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/count").name = "model/bias"; f.entry("model/bias").role = 0; }),
                      "identity/trainable"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("meta/mode").name = "meta/colour"; }), "required record \"meta/mode\""));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/count").name = "extra/count"; }), "unknown record"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("model/count").name = "model/a/b"; }), "malformed tensor name"));
  for (const char* stray : {"optimizer/group/0/extra", "optimizer/group/1/params", "optimizer/group/00/params",
                            "scheduler/other", "meta/unknown"})
    EXPECT_TRUE(rejects(with([&](RawFile& f) { f.entry("model/count").name = stray; }), "unknown record")) << stray;
  // Record data: checksum, contents.
  {
    RawFile f = RawFile::parse(good);
    std::vector<uint8_t> b = f.bytes();
    b[b.size() - 1] ^= 0x10;  // the last record's data, its checksum left as it was
    EXPECT_TRUE(rejects(b, "checksum mismatch"));
  }
  EXPECT_TRUE(rejects(with([](RawFile& f) {
                        RawEntry& e = f.entry("meta/classes");
                        f.data[e.offset + e.length - 1] = 'z';
                      }),
                      "not terminated by a 0 byte"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("meta/classes").dims = {1}; }), "more than the 1 strings"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("meta/classes").dims = {5}; }), "cannot take"));
  EXPECT_TRUE(rejects(with([](RawFile& f) {
                        RawEntry& e = f.entry("meta/classes");
                        f.data[e.offset] = 0xFF;
                      }),
                      "not valid UTF-8"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.data[f.entry("identity/trainable").offset] = 2; }), "not 0 or 1"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.data[f.entry("identity/group").offset] = 1; }),
                      "the optimizer lists it in group 0"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.data[f.entry("optimizer/groups").offset] = 2; }),
                      "required record \"optimizer/group/1/params\""));
  EXPECT_TRUE(rejects(with([](RawFile& f) { std::memset(&f.data[f.entry("optimizer/groups").offset], 0x7F, 8); }),
                      "group count"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.data[f.entry("optimizer/state/w/step").offset + 7] = 0x80; }), "negative"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.data[f.entry("meta/history/lr_counts").offset] = 9; }), "claims 9 learning rates"));
  EXPECT_TRUE(rejects(with([](RawFile& f) { f.entry("optimizer/state/w/exp_avg").name = "optimizer/state/v/exp_avg"; }),
                      "not a parameter in an optimizer group"));
  // Missing records.
  for (const char* name : {"meta/epoch", "meta/sepal_version", "identity/group", "optimizer/groups",
                           "optimizer/state/w/step", "scheduler/value_names"}) {
    RawFile f = RawFile::parse(good);
    remove_record(f, name);
    EXPECT_TRUE(rejects(f.bytes(), "")) << name;
  }
  {
    RawFile f = RawFile::parse(good);
    remove_record(f, "optimizer/type");  // the parameter's group now points at no optimizer
    EXPECT_TRUE(rejects(f.bytes(), "but the file has no optimizer"));
    f.data[f.entry("identity/group").offset] = 0xFF;  // group -1: the optimizer records are then unknown
    for (int k = 1; k < 8; ++k) f.data[f.entry("identity/group").offset + k] = 0xFF;
    EXPECT_TRUE(rejects(f.bytes(), "unknown record"));
  }
}

// Serializes and expects a CheckpointError whose message contains `needle`.
::testing::AssertionResult refuses(const ck::Checkpoint& c, const std::string& needle) {
  try {
    ck::serialize_checkpoint(c);
  } catch (const ck::CheckpointError& e) {
    return std::string(e.what()).find(needle) != std::string::npos ? ::testing::AssertionSuccess()
                                                                    : ::testing::AssertionFailure() << e.what();
  }
  return ::testing::AssertionFailure() << "accepted";
}

TEST(CheckpointFormat, SaveRejectsWhatTheLoaderCouldNotRead) {
  ck::Checkpoint c;
  c.model.insert("a/b", zeros({1}));
  EXPECT_TRUE(refuses(c, "without '/'"));
  ck::Checkpoint d;
  d.model.insert("w", zeros({2}));
  d.params = {{"w", {3}, DType::Float32, true, -1}};
  EXPECT_TRUE(refuses(d, "identity says"));
  d.params = {{"w", {2}, DType::Float32, true, 0}};
  EXPECT_TRUE(refuses(d, "no group"));
  ck::Checkpoint e;
  e.meta.classes = {std::string("a\0b", 3)};
  EXPECT_TRUE(refuses(e, "NUL"));
  ck::Checkpoint g;
  g.meta.mode = "\xFF";
  EXPECT_TRUE(refuses(g, "UTF-8"));
}

// docs/checkpoint-format.md closes every value list: optimizer and scheduler types, their
// option, value, list and buffer names (buffers in their order), and meta/mode. The writer checks
// the same lists (schema.h's *_problem functions) before writing, the reader when reading.
TEST(CheckpointFormat, EveryListOfValuesIsClosed) {
  const ck::Checkpoint good = trained_state(2).capture();
  ASSERT_NO_THROW(ck::serialize_checkpoint(good));
  ck::Checkpoint c = good;
  c.optimizer->type = "Adagrad";
  EXPECT_TRUE(refuses(c, "optimizer type \"Adagrad\" is not one of Adam, AdamW, SGD"));
  c = good;
  c.optimizer->groups[0].options["lr_decay"] = 0.1;
  EXPECT_TRUE(refuses(c, "option \"lr_decay\" is not one of Adam's"));
  c = good;
  ASSERT_FALSE(c.optimizer->state.empty());
  optim::ParamState& st = c.optimizer->state.begin()->second;
  st.buffers.emplace_back("exp_avg2", st.buffers.front().second);
  EXPECT_TRUE(refuses(c, "buffer \"exp_avg2\" is not one of Adam's (exp_avg, exp_avg_sq, max_exp_avg_sq)"));
  st.buffers.pop_back();
  std::swap(st.buffers[0], st.buffers[1]);  // exp_avg_sq before exp_avg
  EXPECT_TRUE(refuses(c, "comes after \"exp_avg_sq\""));
  c = good;
  c.optimizer->type = "SGD";  // Adam's options and buffers are not SGD's
  EXPECT_TRUE(refuses(c, "not one of SGD's"));
  c = good;
  c.scheduler->type = "WarmupLR";
  EXPECT_TRUE(refuses(c, "scheduler type \"WarmupLR\" is not one of StepLR, MultiStepLR, CosineAnnealingLR, ReduceLROnPlateau"));
  c = good;
  c.scheduler->values["warmup"] = 3;
  EXPECT_TRUE(refuses(c, "value \"warmup\" is not one of StepLR's"));
  c = good;
  c.scheduler->lists["milestones"] = {3, 6};  // MultiStepLR's, not StepLR's
  EXPECT_TRUE(refuses(c, "list \"milestones\" is not one of StepLR's"));
  c = good;
  c.meta.mode = "finetune-from=layer5";
  EXPECT_TRUE(refuses(c, "mode \"finetune-from=layer5\" is not one of"));
  for (const char* mode : {"", "feature-extract", "finetune", "finetune-from=layer1", "finetune-from=layer4"}) {
    c.meta.mode = mode;
    const std::vector<uint8_t> bytes = ck::serialize_checkpoint(c);
    EXPECT_NO_THROW(ck::parse_checkpoint(bytes.data(), bytes.size(), kSource)) << mode;
  }
}

}  // namespace
