// cursor.cpp: TrainingCursor's records in TrainingMeta (the list is in cursor.h): encode writes
// them, decode reads them back and refuses malformed values, as a hostile file may hold any.
#include "checkpoint/cursor.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "io/utf8.h"

namespace sepal::checkpoint {

namespace {

constexpr const char* kEpoch = "loader.epoch";
constexpr const char* kBatch = "loader.batch";
constexpr const char* kCount = "partial.count";
constexpr const char* kCorrect = "partial.correct";
constexpr const char* kLossSum = "partial.loss_sum";
constexpr const char* kSeconds = "partial.seconds";

std::string hexfloat(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

// What "%a" writes: [-]0xH[.H...]p[+-]D...
bool is_hexfloat(const std::string& s) {
  size_t i = 0, digits = 0, exponent = 0;
  auto hex = [&] {
    while (i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (s.compare(i, 2, "0x") != 0) return false;
  i += 2;
  hex();
  if (i < s.size() && s[i] == '.') {
    ++i;
    hex();
  }
  if (digits == 0 || i >= s.size() || s[i] != 'p') return false;
  ++i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exponent;
  return exponent > 0 && i == s.size();
}

class Reader {
 public:
  Reader(const TrainingMeta& meta, const std::string& source) : meta_(meta), source_(source) {}

  bool has_counter(const char* key) const { return meta_.counters.count(key) > 0; }
  bool has_string(const char* key) const { return meta_.strings.count(key) > 0; }

  // A counter that must not be negative; `absent` when it is not there.
  int64_t counter(const char* key, int64_t absent) const {
    auto it = meta_.counters.find(key);
    if (it == meta_.counters.end()) return absent;
    if (it->second < 0) fail("counter", key, std::to_string(it->second) + " is negative");
    return it->second;
  }

  // A string holding a finite C hexfloat.
  double hexfloat(const char* key) const {
    const std::string& text = meta_.strings.at(key);
    if (!is_hexfloat(text)) fail("string", key, io::quote_name(text, 40) + " is not a hexfloat (like 0x1.8p+1)");
    const double v = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(v)) fail("string", key, io::quote_name(text, 40) + " is not finite");
    return v;
  }

  [[noreturn]] void fail(const char* kind, const char* key, const std::string& what) const {
    throw CheckpointError(source_ + ": meta " + kind + " \"" + key + "\": " + what);
  }

 private:
  const TrainingMeta& meta_;
  const std::string& source_;
};

}  // namespace

void TrainingCursor::encode(TrainingMeta& meta) const {
  meta.counters[kEpoch] = epoch;
  meta.counters[kBatch] = batch;
  if (partial) {
    meta.counters[kCount] = partial->count;
    meta.counters[kCorrect] = partial->correct;
    meta.strings[kLossSum] = hexfloat(partial->loss_sum);
    meta.strings[kSeconds] = hexfloat(partial->seconds);
  } else {
    meta.counters.erase(kCount);
    meta.counters.erase(kCorrect);
    meta.strings.erase(kLossSum);
    meta.strings.erase(kSeconds);
  }
}

TrainingCursor TrainingCursor::decode(const TrainingMeta& meta, const std::string& source) {
  const Reader r(meta, source);
  TrainingCursor c;
  c.epoch = r.counter(kEpoch, meta.epoch);
  c.batch = r.counter(kBatch, 0);
  const bool present[] = {r.has_counter(kCount), r.has_counter(kCorrect), r.has_string(kLossSum),
                          r.has_string(kSeconds)};
  const char* kinds[] = {"counter", "counter", "string", "string"};
  const char* keys[] = {kCount, kCorrect, kLossSum, kSeconds};
  bool any = false;
  for (bool p : present) any = any || p;
  if (!any) return c;
  for (size_t i = 0; i < 4; ++i)
    if (!present[i]) r.fail(kinds[i], keys[i], "missing, while the other partial.* records are there");
  PartialEpoch p;
  p.count = r.counter(kCount, 0);
  p.correct = r.counter(kCorrect, 0);
  if (p.correct > p.count)
    r.fail("counter", kCorrect, std::to_string(p.correct) + " exceeds partial.count " + std::to_string(p.count));
  p.loss_sum = r.hexfloat(kLossSum);
  p.seconds = r.hexfloat(kSeconds);
  if (p.seconds < 0) r.fail("string", kSeconds, "negative");
  if (c.epoch != meta.epoch)
    r.fail("counter", kEpoch, std::to_string(c.epoch) + " in a mid-epoch checkpoint of " + std::to_string(meta.epoch) +
                                  " completed epochs (they must be equal)");
  c.partial = p;
  return c;
}

}  // namespace sepal::checkpoint
