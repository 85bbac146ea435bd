// schema.cpp: decoding and encoding the records of a checkpoint (see schema.h and
// docs/checkpoint-format.md). Decoding indexes the records by name, then asks for each expected
// record by name, checking role, type and shape before reading it; whatever is left unasked is
// an unknown record and an error.
#include "checkpoint/schema.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <unordered_map>

#include "io/utf8.h"

namespace sepal::checkpoint::schema {

using format::OutRecord;
using format::Reader;
using format::RecordInfo;
using format::RecordType;
using format::Role;

namespace {

constexpr const char* kModelPrefix = "model/";
constexpr const char* kGroupPrefix = "optimizer/group/";
constexpr const char* kStatePrefix = "optimizer/state/";
constexpr const char* kSchedValueNames = "scheduler/value_names";
constexpr const char* kSchedValueValues = "scheduler/value_values";
constexpr const char* kSchedListPrefix = "scheduler/list/";
constexpr const char* kHistoryFields[] = {"train_loss", "train_acc", "val_loss", "val_acc", "seconds"};

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The records by name, each taken at most once; leftovers are unknown records.
class Index {
 public:
  explicit Index(const Reader& reader) : reader_(reader), used_(reader.records().size(), false) {
    const auto& records = reader.records();
    for (size_t i = 0; i < records.size(); ++i) by_name_.emplace(records[i].name, i);
  }
  const Reader& reader() const { return reader_; }
  const RecordInfo& info(size_t i) const { return reader_.records()[i]; }

  // The record `name`, or nullopt; marks it used.
  std::optional<size_t> find(const std::string& name) {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return std::nullopt;
    used_[it->second] = true;
    return it->second;
  }
  size_t require(const std::string& name, const std::string& why) {
    if (auto i = find(name)) return *i;
    reader_.fail("required record " + io::quote_name(name) + " is missing (" + why + ")");
  }
  // Records whose names start with `prefix`, in file order; marks them used.
  std::vector<size_t> with_prefix(const char* prefix) {
    std::vector<size_t> out;
    const auto& records = reader_.records();
    for (size_t i = 0; i < records.size(); ++i)
      if (starts_with(records[i].name, prefix)) {
        used_[i] = true;
        out.push_back(i);
      }
    return out;
  }
  void check_all_used() const {
    for (size_t i = 0; i < used_.size(); ++i)
      if (!used_[i])
        reader_.fail(info(i), "unknown record (not part of format version 1, or its section's header record is missing)");
  }

  // Checks role, type and (when given) rank/shape before anything is read.
  const RecordInfo& expect(size_t i, Role role, RecordType type, std::optional<std::vector<int64_t>> shape = {},
                           int rank = -1) const {
    const RecordInfo& r = info(i);
    if (r.role != role)
      reader_.fail(r, std::string("role should be ") + format::role_name(role) + ", got " + format::role_name(r.role));
    if (r.type != type)
      reader_.fail(r, std::string("type should be ") + format::type_name(type) + ", got " + format::type_name(r.type));
    if (shape && r.shape != *shape)
      reader_.fail(r, "shape should be " + shape_text(*shape) + ", got " + shape_text(r.shape));
    if (rank >= 0 && r.shape.size() != static_cast<size_t>(rank))
      reader_.fail(r, "rank should be " + std::to_string(rank) + ", got shape " + shape_text(r.shape));
    return r;
  }

  template <typename T>
  std::vector<T> numbers(size_t i) const {
    const RecordInfo& r = info(i);
    std::vector<uint8_t> bytes = reader_.read(r);
    std::vector<T> out(bytes.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
  }
  int64_t i64(const std::string& name, Role role) {
    size_t i = require(name, "an I64 scalar");
    expect(i, role, RecordType::I64, std::vector<int64_t>{});
    return numbers<int64_t>(i)[0];
  }
  double f64(const std::string& name, Role role) {
    size_t i = require(name, "an F64 scalar");
    expect(i, role, RecordType::F64, std::vector<int64_t>{});
    return numbers<double>(i)[0];
  }
  std::vector<double> f64s(size_t i, Role role, std::optional<int64_t> count = {}) const {
    expect(i, role, RecordType::F64, count ? std::optional(std::vector<int64_t>{*count}) : std::nullopt, 1);
    return numbers<double>(i);
  }
  std::vector<int64_t> i64s(size_t i, Role role, std::optional<int64_t> count = {}) const {
    expect(i, role, RecordType::I64, count ? std::optional(std::vector<int64_t>{*count}) : std::nullopt, 1);
    return numbers<int64_t>(i);
  }
  std::string text(const std::string& name, Role role) {
    size_t i = require(name, "a UTF8 string");
    const RecordInfo& r = expect(i, role, RecordType::Utf8);
    std::vector<uint8_t> bytes = reader_.read(r);
    std::string s(bytes.begin(), bytes.end());
    if (!io::is_valid_utf8(s)) reader_.fail(r, "the string is not valid UTF-8");
    return s;
  }
  std::vector<std::string> strings(size_t i, Role role, std::optional<int64_t> count = {}) const {
    const RecordInfo& r =
        expect(i, role, RecordType::StrList, count ? std::optional(std::vector<int64_t>{*count}) : std::nullopt);
    std::vector<uint8_t> bytes = reader_.read(r);
    std::vector<std::string> out;
    const size_t n = static_cast<size_t>(r.shape[0]);  // <= length (checked by the reader)
    out.reserve(n);
    size_t start = 0;
    for (size_t k = 0; k < bytes.size(); ++k) {
      if (bytes[k] != 0) continue;
      if (out.size() == n) reader_.fail(r, "holds more than the " + std::to_string(n) + " strings its shape says");
      if (!io::is_valid_utf8(std::string_view(reinterpret_cast<const char*>(bytes.data()) + start, k - start)))
        reader_.fail(r, "string " + std::to_string(out.size()) + " is not valid UTF-8");
      out.emplace_back(reinterpret_cast<const char*>(bytes.data() + start), k - start);
      start = k + 1;
    }
    if (start != bytes.size()) reader_.fail(r, "the last string is not terminated by a 0 byte");
    if (out.size() != n)
      reader_.fail(r, "holds " + std::to_string(out.size()) + " strings, its shape says " + std::to_string(n));
    return out;
  }
  std::vector<std::string> strings(const std::string& name, Role role, std::optional<int64_t> count = {}) {
    return strings(require(name, "a STRLIST"), role, count);
  }

 private:
  const Reader& reader_;
  std::unordered_map<std::string, size_t> by_name_;
  std::vector<bool> used_;
};

template <typename V>
std::map<std::string, V> zip_map(const Index& ix, size_t names_record, const std::vector<std::string>& keys,
                                 const std::vector<V>& values) {
  std::map<std::string, V> out;
  for (size_t k = 0; k < keys.size(); ++k)
    if (!out.emplace(keys[k], values[k]).second)
      ix.reader().fail(ix.info(names_record), "the key " + io::quote_name(keys[k]) + " appears twice");
  return out;
}

void decode_meta(Index& ix, TrainingMeta& m) {
  const Role M = Role::Meta;
  m.epoch = ix.i64("meta/epoch", M);
  m.best_val_acc = ix.f64("meta/best_val_acc", M);
  m.best_epoch = ix.i64("meta/best_epoch", M);
  m.mode = ix.text("meta/mode", M);
  if (const std::string why = mode_problem(m.mode); !why.empty()) ix.reader().fail(ix.info(*ix.find("meta/mode")), why);
  m.arch = ix.text("meta/arch", M);
  m.num_classes = ix.i64("meta/num_classes", M);
  m.classes = ix.strings("meta/classes", M);
  m.class_names = ix.strings("meta/class_names", M);
  m.image_size = ix.i64("meta/image_size", M);
  m.resize = ix.i64("meta/resize", M);
  m.mean = ix.f64s(ix.require("meta/mean", "an F64 list"), M);
  m.std = ix.f64s(ix.require("meta/std", "an F64 list"), M);

  size_t gn = ix.require("meta/generator_names", "a STRLIST");
  std::vector<std::string> gnames = ix.strings(gn, M);
  const int64_t g = static_cast<int64_t>(gnames.size());
  size_t gs = ix.require("meta/generator_states", "I64 [generators, 2]");
  ix.expect(gs, M, RecordType::I64, std::vector<int64_t>{g, 2});
  std::vector<int64_t> states = ix.numbers<int64_t>(gs);
  std::vector<std::pair<uint64_t, uint64_t>> pairs;
  for (int64_t k = 0; k < g; ++k)
    pairs.emplace_back(static_cast<uint64_t>(states[2 * k]), static_cast<uint64_t>(states[2 * k + 1]));
  m.generators = zip_map(ix, gn, gnames, pairs);

  size_t cn = ix.require("meta/counter_names", "a STRLIST");
  std::vector<std::string> cnames = ix.strings(cn, M);
  m.counters = zip_map(ix, cn, cnames,
                       ix.i64s(ix.require("meta/counter_values", "an I64 list"), M, static_cast<int64_t>(cnames.size())));
  size_t sk = ix.require("meta/string_keys", "a STRLIST");
  std::vector<std::string> skeys = ix.strings(sk, M);
  m.strings = zip_map(ix, sk, skeys, ix.strings("meta/string_values", M, static_cast<int64_t>(skeys.size())));

  size_t he = ix.require("meta/history/epoch", "an I64 list");
  std::vector<int64_t> epochs = ix.i64s(he, M);
  const int64_t e = static_cast<int64_t>(epochs.size());
  std::vector<std::vector<double>> fields;
  for (const char* f : kHistoryFields)
    fields.push_back(ix.f64s(ix.require(std::string("meta/history/") + f, "an F64 list"), M, e));
  size_t lc = ix.require("meta/history/lr_counts", "an I64 list");
  std::vector<int64_t> counts = ix.i64s(lc, M, e);
  size_t lr = ix.require("meta/history/lrs", "an F64 list");
  std::vector<double> lrs = ix.f64s(lr, M);
  size_t cursor = 0;
  m.history.resize(epochs.size());
  for (size_t k = 0; k < epochs.size(); ++k) {
    EpochRecord& rec = m.history[k];
    rec.epoch = epochs[k];
    rec.train_loss = fields[0][k];
    rec.train_acc = fields[1][k];
    rec.val_loss = fields[2][k];
    rec.val_acc = fields[3][k];
    rec.seconds = fields[4][k];
    if (counts[k] < 0 || static_cast<uint64_t>(counts[k]) > lrs.size() - cursor)
      ix.reader().fail(ix.info(lc), "epoch " + std::to_string(k) + " claims " + std::to_string(counts[k]) +
                                        " learning rates, but only " + std::to_string(lrs.size() - cursor) + " remain");
    rec.lrs.assign(lrs.begin() + static_cast<ptrdiff_t>(cursor), lrs.begin() + static_cast<ptrdiff_t>(cursor + counts[k]));
    cursor += static_cast<size_t>(counts[k]);
  }
  if (cursor != lrs.size())
    ix.reader().fail(ix.info(lr), "holds " + std::to_string(lrs.size()) + " learning rates, the counts add up to " +
                                      std::to_string(cursor));
  m.sepal_version = ix.text("meta/sepal_version", M);
}

void decode_optimizer(Index& ix, Decoded& d, bool meta_only) {
  const Reader& reader = ix.reader();
  const Role O = Role::Optimizer;
  auto type = ix.find(kOptimizerType);
  if (!type) return;  // no optimizer: any other optimizer/ record is left over, an unknown record
  DecodedOptimizer opt;
  ix.expect(*type, O, RecordType::Utf8);
  size_t groups_record = ix.require(kOptimizerGroups, "the number of optimizer groups");
  ix.expect(groups_record, O, RecordType::I64, std::vector<int64_t>{});
  const std::vector<RecordInfo>& records = reader.records();
  // Each group takes three records: a count beyond that is malformed (and never allocated).
  const int64_t count = meta_only ? 0 : ix.numbers<int64_t>(groups_record)[0];
  if (count < 0 || static_cast<uint64_t>(count) > records.size() / 3)
    reader.fail(ix.info(groups_record), "group count " + std::to_string(count) + " is impossible for a file of " +
                                            std::to_string(records.size()) + " records");
  for (size_t gi = 0; gi < static_cast<size_t>(count); ++gi) {
    DecodedGroup g;
    g.params = ix.strings(group_record(gi, "params"), O);
    size_t names = ix.require(group_record(gi, "option_names"), "a STRLIST");
    std::vector<std::string> keys = ix.strings(names, O);
    g.options = zip_map(ix, names, keys,
                        ix.f64s(ix.require(group_record(gi, "option_values"), "an F64 list"), O,
                                static_cast<int64_t>(keys.size())));
    opt.groups.push_back(std::move(g));
  }
  if (meta_only) {
    ix.with_prefix(kGroupPrefix);
    ix.with_prefix(kStatePrefix);
    return;
  }
  opt.type = ix.text(kOptimizerType, O);
  if (const std::string why = optimizer_type_problem(opt.type); !why.empty()) reader.fail(ix.info(*type), why);
  for (size_t gi = 0; gi < opt.groups.size(); ++gi)
    for (const auto& [name, value] : opt.groups[gi].options)
      if (const std::string why = option_problem(opt.type, name); !why.empty())
        reader.fail(ix.info(*ix.find(group_record(gi, "option_names"))), why);
  // Group records beyond the count, or with another field, are left unused: unknown records.
  std::map<std::string, int64_t> member_group;
  for (size_t gi = 0; gi < opt.groups.size(); ++gi)
    for (const std::string& p : opt.groups[gi].params)
      if (!member_group.emplace(p, static_cast<int64_t>(gi)).second)
        reader.fail(ix.info(*ix.find(group_record(gi, "params"))),
                    "parameter " + io::quote_name(p) + " is also in group " + std::to_string(member_group[p]));
  std::map<std::string, const ParamIdentity*> params;
  for (const ParamIdentity& p : d.params) params.emplace(p.name, &p);
  for (size_t i : ix.with_prefix(kStatePrefix)) {
    const RecordInfo& r = records[i];
    const std::string rest = r.name.substr(std::strlen(kStatePrefix));
    const size_t slash = rest.rfind('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size())
      reader.fail(r, "an optimizer state record must be named optimizer/state/<parameter>/<field>");
    const std::string param = rest.substr(0, slash), field = rest.substr(slash + 1);
    auto p = params.find(param);
    if (p == params.end() || !member_group.count(param))
      reader.fail(r, "state for " + io::quote_name(param) + ", which is not a parameter in an optimizer group");
    DecodedParamState& st = opt.state[param];
    if (field == "step") {
      ix.expect(i, O, RecordType::I64, std::vector<int64_t>{});
      st.step = ix.numbers<int64_t>(i)[0];
      if (st.step < 0) reader.fail(r, "step " + std::to_string(st.step) + " is negative");
    } else {
      if (r.role != O) reader.fail(r, "role should be optimizer");
      if (r.type != RecordType::F32 && r.type != RecordType::F64)
        reader.fail(r, std::string("optimizer buffers are F32 or F64, got ") + format::type_name(r.type));
      if (r.shape != p->second->shape)
        reader.fail(r, "shape " + shape_text(r.shape) + " differs from its parameter's " + shape_text(p->second->shape));
      if (const std::string why = buffer_problem(opt.type, st.buffers.empty() ? "" : st.buffers.back().first, field);
          !why.empty())
        reader.fail(r, why);
      st.buffers.emplace_back(field, i);
    }
  }
  for (const auto& [param, st] : opt.state)
    if (!ix.find(state_record(param, "step")))
      reader.fail("optimizer state of " + io::quote_name(param) + " has no step record");
  // Identities and groups must agree.
  for (const ParamIdentity& p : d.params) {
    auto m = member_group.find(p.name);
    const int64_t listed = m == member_group.end() ? -1 : m->second;
    if (listed != p.group)
      reader.fail("parameter " + io::quote_name(p.name) + " is in group " + std::to_string(p.group) +
                  " by identity/group but the optimizer lists it in group " + std::to_string(listed));
  }
  for (const auto& [name, gi] : member_group)
    if (!params.count(name))
      reader.fail("optimizer group " + std::to_string(gi) + " lists " + io::quote_name(name) +
                  ", which is not a parameter in the model records");
  d.optimizer = std::move(opt);
}

void decode_scheduler(Index& ix, Decoded& d, bool meta_only) {
  const Role S = Role::Scheduler;
  auto type = ix.find(kSchedulerType);
  if (!type) return;
  ix.expect(*type, S, RecordType::Utf8);
  DecodedScheduler s;
  size_t names = ix.require(kSchedValueNames, "a STRLIST");
  size_t values = ix.require(kSchedValueValues, "an F64 list");
  std::vector<size_t> lists = ix.with_prefix(kSchedListPrefix);
  if (meta_only) return;
  s.type = ix.text(kSchedulerType, S);
  if (const std::string why = scheduler_type_problem(s.type); !why.empty()) ix.reader().fail(ix.info(*type), why);
  std::vector<std::string> keys = ix.strings(names, S);
  for (const std::string& k : keys)
    if (const std::string why = scheduler_value_problem(s.type, k); !why.empty()) ix.reader().fail(ix.info(names), why);
  s.values = zip_map(ix, names, keys, ix.f64s(values, S, static_cast<int64_t>(keys.size())));
  for (size_t i : lists) {
    const std::string key = ix.info(i).name.substr(std::strlen(kSchedListPrefix));
    if (key.empty() || key.find('/') != std::string::npos) ix.reader().fail(ix.info(i), "malformed scheduler list name");
    if (const std::string why = scheduler_list_problem(s.type, key); !why.empty()) ix.reader().fail(ix.info(i), why);
    s.lists[key] = ix.f64s(i, S);
  }
  d.scheduler = std::move(s);
}

}  // namespace

namespace {


// An optimizer type, its group options and its state buffers (in their record order).
struct OptimizerWords {
  const char* type;
  std::vector<std::string> options, buffers;
};
const std::vector<OptimizerWords>& optimizer_words() {
  static const std::vector<OptimizerWords> words = [] {
    const std::vector<std::string> adam_options = {"lr",           "initial_lr", "beta1",   "beta2",
                                                   "eps",          "weight_decay", "amsgrad", "maximize"};
    const std::vector<std::string> adam_buffers = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    return std::vector<OptimizerWords>{
        {"Adam", adam_options, adam_buffers},
        {"AdamW", adam_options, adam_buffers},
        {"SGD", {"lr", "initial_lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"}, {"momentum_buffer"}}};
  }();
  return words;
}

// A scheduler type, its value names and its list names.
struct SchedulerWords {
  const char* type;
  std::vector<std::string> values, lists;
};
const std::vector<SchedulerWords>& scheduler_words() {
  static const std::vector<SchedulerWords> words = {
      {"StepLR", {"last_epoch", "step_count", "step_size", "gamma"}, {"last_lr", "base_lrs"}},
      {"MultiStepLR", {"last_epoch", "step_count", "gamma"}, {"last_lr", "base_lrs", "milestones"}},
      {"CosineAnnealingLR", {"last_epoch", "step_count", "T_max", "eta_min"}, {"last_lr", "base_lrs"}},
      {"ReduceLROnPlateau",
       {"last_epoch", "mode_max", "factor", "patience", "threshold", "threshold_abs", "cooldown", "min_lr", "eps",
        "best", "num_bad_epochs", "cooldown_counter"},
       {"last_lr", "min_lrs"}}};
  return words;
}

const char* kModes[] = {"", "feature-extract", "finetune", "finetune-from=layer1", "finetune-from=layer2",
                        "finetune-from=layer3", "finetune-from=layer4"};

template <typename Words>
const Words* find_words(const std::vector<Words>& all, const std::string& type) {
  for (const Words& w : all)
    if (type == w.type) return &w;
  return nullptr;
}

template <typename Words>
std::string type_list(const std::vector<Words>& all) {
  std::string out;
  for (const Words& w : all) out += (out.empty() ? "" : ", ") + std::string(w.type);
  return out;
}

std::string word_list(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

// The position of `word` in `words`, or -1.
int64_t position(const std::vector<std::string>& words, const std::string& word) {
  for (size_t i = 0; i < words.size(); ++i)
    if (words[i] == word) return static_cast<int64_t>(i);
  return -1;
}

}  // namespace

std::string optimizer_type_problem(const std::string& type) {
  if (find_words(optimizer_words(), type)) return "";
  return "optimizer type " + io::quote_name(type) + " is not one of " + type_list(optimizer_words());
}

std::string option_problem(const std::string& type, const std::string& option) {
  const OptimizerWords* w = find_words(optimizer_words(), type);
  if (!w || position(w->options, option) >= 0) return "";
  return "option " + io::quote_name(option) + " is not one of " + type + "'s (" + word_list(w->options) + ")";
}

std::string buffer_problem(const std::string& type, const std::string& previous, const std::string& buffer) {
  const OptimizerWords* w = find_words(optimizer_words(), type);
  if (!w) return "";
  const int64_t at = position(w->buffers, buffer);
  if (at < 0) return "buffer " + io::quote_name(buffer) + " is not one of " + type + "'s (" + word_list(w->buffers) + ")";
  if (!previous.empty() && position(w->buffers, previous) >= at)
    return "buffer " + io::quote_name(buffer) + " comes after " + io::quote_name(previous) + ": " + type +
           "'s buffers are in the order " + word_list(w->buffers);
  return "";
}

std::string scheduler_type_problem(const std::string& type) {
  if (find_words(scheduler_words(), type)) return "";
  return "scheduler type " + io::quote_name(type) + " is not one of " + type_list(scheduler_words());
}

std::string scheduler_value_problem(const std::string& type, const std::string& name) {
  const SchedulerWords* w = find_words(scheduler_words(), type);
  if (!w || position(w->values, name) >= 0) return "";
  return "value " + io::quote_name(name) + " is not one of " + type + "'s (" + word_list(w->values) + ")";
}

std::string scheduler_list_problem(const std::string& type, const std::string& name) {
  const SchedulerWords* w = find_words(scheduler_words(), type);
  if (!w || position(w->lists, name) >= 0) return "";
  return "list " + io::quote_name(name) + " is not one of " + type + "'s (" + word_list(w->lists) + ")";
}

std::string mode_problem(const std::string& mode) {
  if (std::find(std::begin(kModes), std::end(kModes), mode) != std::end(kModes)) return "";
  return "mode " + io::quote_name(mode) + " is not one of feature-extract, finetune, finetune-from=layer1..layer4 (or empty)";
}

std::string model_record(const std::string& tensor) { return kModelPrefix + tensor; }
std::string group_record(size_t group, const char* field) {
  return kGroupPrefix + std::to_string(group) + "/" + field;
}
std::string state_record(const std::string& param, const std::string& field) {
  return kStatePrefix + param + "/" + field;
}

DType to_dtype(RecordType type) {
  switch (type) {
    case RecordType::F32: return DType::Float32;
    case RecordType::F64: return DType::Float64;
    case RecordType::I64: return DType::Int64;
    case RecordType::U8: return DType::UInt8;
    case RecordType::Bool: return DType::Bool;
    default: break;
  }
  throw CheckpointError(std::string("record type ") + format::type_name(type) + " is not a tensor type");
}

RecordType to_record_type(DType dtype) {
  switch (dtype) {
    case DType::Float32: return RecordType::F32;
    case DType::Float64: return RecordType::F64;
    case DType::Int64: return RecordType::I64;
    case DType::UInt8: return RecordType::U8;
    case DType::Bool: return RecordType::Bool;
  }
  throw CheckpointError("unknown dtype");
}

Decoded decode(const Reader& reader, bool meta_only) {
  Index ix(reader);
  Decoded d;
  // Model tensors, and the identity of the parameters among them.
  for (size_t i : ix.with_prefix(kModelPrefix)) {
    const RecordInfo& r = ix.info(i);
    if (r.role != Role::Parameter && r.role != Role::Buffer)
      reader.fail(r, "model records have role parameter or buffer");
    if (!format::is_numeric(r.type)) reader.fail(r, std::string("a model tensor cannot be ") + format::type_name(r.type));
    const std::string name = r.name.substr(std::strlen(kModelPrefix));
    if (name.empty() || name.find('/') != std::string::npos) reader.fail(r, "malformed tensor name");
    d.model.emplace_back(name, i);
    if (r.role == Role::Parameter) d.params.push_back({name, r.shape, to_dtype(r.type), false, -1});
  }
  const int64_t p = static_cast<int64_t>(d.params.size());
  size_t trainable = ix.require(kTrainable, "BOOL [parameters]");
  ix.expect(trainable, Role::Meta, RecordType::Bool, std::vector<int64_t>{p});
  size_t group = ix.require(kGroup, "I64 [parameters]");
  ix.expect(group, Role::Meta, RecordType::I64, std::vector<int64_t>{p});
  if (!meta_only) {
    std::vector<uint8_t> flags = ix.numbers<uint8_t>(trainable);
    std::vector<int64_t> groups = ix.numbers<int64_t>(group);
    for (size_t k = 0; k < d.params.size(); ++k) {
      if (flags[k] > 1) reader.fail(ix.info(trainable), "element " + std::to_string(k) + " is not 0 or 1");
      if (groups[k] < -1) reader.fail(ix.info(group), "element " + std::to_string(k) + " is below -1");
      d.params[k].trainable = flags[k] == 1;
      d.params[k].group = groups[k];
    }
  }
  decode_optimizer(ix, d, meta_only);
  if (!meta_only && !d.optimizer)
    for (const ParamIdentity& id : d.params)
      if (id.group != -1)
        reader.fail("parameter " + io::quote_name(id.name) + " is in optimizer group " + std::to_string(id.group) +
                    " but the file has no optimizer");
  decode_scheduler(ix, d, meta_only);
  decode_meta(ix, d.meta);
  ix.check_all_used();
  return d;
}

// ---------------------------------------------------------------------------------------------
// Encoding

void RecordList::fail(const std::string& what) const { throw CheckpointError(context_ + ": " + what); }

void check_component(const RecordList& out, const std::string& name, const char* what) {
  if (name.empty() || name.find('/') != std::string::npos || name.find('\0') != std::string::npos)
    out.fail(std::string(what) + " " + io::quote_name(name) + " cannot be stored: names must be non-empty, without '/' or NUL");
}

void RecordList::owned(const std::string& name, Role role, RecordType type, std::vector<int64_t> shape,
                       std::vector<uint8_t> bytes) {
  OutRecord r;
  r.info.name = name;
  r.info.role = role;
  r.info.type = type;
  r.info.shape = std::move(shape);
  r.owned = std::move(bytes);
  records_.push_back(std::move(r));
}

void RecordList::tensor(const std::string& name, Role role, DType dtype, const std::vector<int64_t>& shape,
                        const void* data, size_t nbytes) {
  OutRecord r;
  r.info.name = name;
  r.info.role = role;
  r.info.type = to_record_type(dtype);
  r.info.shape = shape;
  r.data = static_cast<const uint8_t*>(data);
  r.size = nbytes;
  static const uint8_t kEmpty = 0;
  if (!r.data) r.data = &kEmpty;  // an empty tensor: zero bytes, but not "owned"
  records_.push_back(std::move(r));
}

template <typename T>
static std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

void RecordList::i64(const std::string& name, Role role, int64_t value) {
  owned(name, role, RecordType::I64, {}, bytes_of(std::vector<int64_t>{value}));
}
void RecordList::i64s(const std::string& name, Role role, const std::vector<int64_t>& values, std::vector<int64_t> shape) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  owned(name, role, RecordType::I64, std::move(shape), bytes_of(values));
}
void RecordList::f64(const std::string& name, Role role, double value) {
  owned(name, role, RecordType::F64, {}, bytes_of(std::vector<double>{value}));
}
void RecordList::f64s(const std::string& name, Role role, const std::vector<double>& values) {
  owned(name, role, RecordType::F64, {static_cast<int64_t>(values.size())}, bytes_of(values));
}
void RecordList::bools(const std::string& name, Role role, const std::vector<bool>& values) {
  std::vector<uint8_t> bytes;
  for (bool b : values) bytes.push_back(b ? 1 : 0);
  owned(name, role, RecordType::Bool, {static_cast<int64_t>(values.size())}, std::move(bytes));
}
void RecordList::text(const std::string& name, Role role, const std::string& value) {
  if (!io::is_valid_utf8(value))
    fail("the value of " + name + " is not valid UTF-8");
  owned(name, role, RecordType::Utf8, {static_cast<int64_t>(value.size())},
        std::vector<uint8_t>(value.begin(), value.end()));
}
void RecordList::strings(const std::string& name, Role role, const std::vector<std::string>& values) {
  std::vector<uint8_t> bytes;
  for (const std::string& s : values) {
    if (s.find('\0') != std::string::npos || !io::is_valid_utf8(s))
      fail("the string " + io::quote_name(s) + " in " + name + " is not valid UTF-8 without NUL bytes");
    bytes.insert(bytes.end(), s.begin(), s.end());
    bytes.push_back(0);
  }
  owned(name, role, RecordType::StrList, {static_cast<int64_t>(values.size())}, std::move(bytes));
}

void encode_identity(RecordList& out, const std::vector<ParamIdentity>& params) {
  std::vector<bool> trainable;
  std::vector<int64_t> groups;
  for (const ParamIdentity& p : params) {
    trainable.push_back(p.trainable);
    groups.push_back(p.group);
  }
  out.bools(kTrainable, Role::Meta, trainable);
  out.i64s(kGroup, Role::Meta, groups);
}

void encode_optimizer_groups(RecordList& out, const std::string& type, const std::vector<DecodedGroup>& groups) {
  const Role O = Role::Optimizer;
  if (const std::string why = optimizer_type_problem(type); !why.empty()) out.fail(why);
  for (const DecodedGroup& g : groups)
    for (const auto& [k, v] : g.options)
      if (const std::string why = option_problem(type, k); !why.empty()) out.fail(why);
  out.text(kOptimizerType, O, type);
  out.i64(kOptimizerGroups, O, static_cast<int64_t>(groups.size()));
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    out.strings(group_record(gi, "params"), O, groups[gi].params);
    std::vector<std::string> keys;
    std::vector<double> values;
    for (const auto& [k, v] : groups[gi].options) {
      keys.push_back(k);
      values.push_back(v);
    }
    out.strings(group_record(gi, "option_names"), O, keys);
    out.f64s(group_record(gi, "option_values"), O, values);
  }
}

void encode_scheduler(RecordList& out, const DecodedScheduler& s) {
  const Role S = Role::Scheduler;
  if (const std::string why = scheduler_type_problem(s.type); !why.empty()) out.fail(why);
  for (const auto& [k, v] : s.values)
    if (const std::string why = scheduler_value_problem(s.type, k); !why.empty()) out.fail(why);
  for (const auto& [k, v] : s.lists)
    if (const std::string why = scheduler_list_problem(s.type, k); !why.empty()) out.fail(why);
  out.text(kSchedulerType, S, s.type);
  std::vector<std::string> keys;
  std::vector<double> values;
  for (const auto& [k, v] : s.values) {
    keys.push_back(k);
    values.push_back(v);
  }
  out.strings(kSchedValueNames, S, keys);
  out.f64s(kSchedValueValues, S, values);
  for (const auto& [k, v] : s.lists) {
    check_component(out, k, "scheduler list");
    out.f64s(kSchedListPrefix + k, S, v);
  }
}

void encode_meta(RecordList& out, const TrainingMeta& m) {
  const Role M = Role::Meta;
  out.i64("meta/epoch", M, m.epoch);
  out.f64("meta/best_val_acc", M, m.best_val_acc);
  out.i64("meta/best_epoch", M, m.best_epoch);
  out.text("meta/mode", M, m.mode);  // valid UTF-8 first, then one of the modes
  if (const std::string why = mode_problem(m.mode); !why.empty()) out.fail(why);
  out.text("meta/arch", M, m.arch);
  out.i64("meta/num_classes", M, m.num_classes);
  out.strings("meta/classes", M, m.classes);
  out.strings("meta/class_names", M, m.class_names);
  out.i64("meta/image_size", M, m.image_size);
  out.i64("meta/resize", M, m.resize);
  out.f64s("meta/mean", M, m.mean);
  out.f64s("meta/std", M, m.std);
  std::vector<std::string> names;
  std::vector<int64_t> states;
  for (const auto& [name, st] : m.generators) {
    names.push_back(name);
    states.push_back(static_cast<int64_t>(st.first));
    states.push_back(static_cast<int64_t>(st.second));
  }
  out.strings("meta/generator_names", M, names);
  out.i64s("meta/generator_states", M, states, {static_cast<int64_t>(names.size()), 2});
  names.clear();
  std::vector<int64_t> counters;
  for (const auto& [name, v] : m.counters) {
    names.push_back(name);
    counters.push_back(v);
  }
  out.strings("meta/counter_names", M, names);
  out.i64s("meta/counter_values", M, counters);
  names.clear();
  std::vector<std::string> values;
  for (const auto& [k, v] : m.strings) {
    names.push_back(k);
    values.push_back(v);
  }
  out.strings("meta/string_keys", M, names);
  out.strings("meta/string_values", M, values);
  std::vector<int64_t> epochs, counts;
  std::vector<std::vector<double>> fields(5);
  std::vector<double> lrs;
  for (const EpochRecord& r : m.history) {
    epochs.push_back(r.epoch);
    fields[0].push_back(r.train_loss);
    fields[1].push_back(r.train_acc);
    fields[2].push_back(r.val_loss);
    fields[3].push_back(r.val_acc);
    fields[4].push_back(r.seconds);
    counts.push_back(static_cast<int64_t>(r.lrs.size()));
    lrs.insert(lrs.end(), r.lrs.begin(), r.lrs.end());
  }
  out.i64s("meta/history/epoch", M, epochs);
  for (size_t k = 0; k < 5; ++k) out.f64s(std::string("meta/history/") + kHistoryFields[k], M, fields[k]);
  out.i64s("meta/history/lr_counts", M, counts);
  out.f64s("meta/history/lrs", M, lrs);
  out.text("meta/sepal_version", M, m.sepal_version);
}

}  // namespace sepal::checkpoint::schema
