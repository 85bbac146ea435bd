// schema.h: what the records of a checkpoint mean: their names, roles, types and shapes
// (docs/checkpoint-format.md, "Records"), decoded into tensor-free structures that point at the
// tensor records, and encoded from plain values. decode() checks every rule before it returns:
// required records present, each with its expected role, type and shape, no unknown record,
// group members and parameter identities consistent, optimizer state shaped like its parameter.
// Tensor data is not read here (checkpoint.cpp reads it straight into tensors); only the small
// records (strings, scalars, lists) are. No Tensor is used, so the fuzzer compiles this alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/format.h"
#include "checkpoint/meta.h"

namespace sepal::checkpoint::schema {

// Record names.
std::string model_record(const std::string& tensor);  // "model/<tensor>"
inline constexpr const char* kTrainable = "identity/trainable";
inline constexpr const char* kGroup = "identity/group";
inline constexpr const char* kOptimizerType = "optimizer/type";
inline constexpr const char* kOptimizerGroups = "optimizer/groups";
std::string group_record(size_t group, const char* field);  // "optimizer/group/<i>/<field>"
std::string state_record(const std::string& param, const std::string& field);  // "optimizer/state/<p>/<field>"
inline constexpr const char* kSchedulerType = "scheduler/type";

struct DecodedGroup {
  std::map<std::string, double> options;
  std::vector<std::string> params;
};
struct DecodedParamState {
  int64_t step = 0;
  std::vector<std::pair<std::string, size_t>> buffers;  // buffer name -> record index, file order
};
struct DecodedOptimizer {
  std::string type;
  std::vector<DecodedGroup> groups;
  std::map<std::string, DecodedParamState> state;
};
struct DecodedScheduler {
  std::string type;
  std::map<std::string, double> values;
  std::map<std::string, std::vector<double>> lists;
};
struct Decoded {
  std::vector<std::pair<std::string, size_t>> model;  // tensor name -> record index, file order
  std::vector<ParamIdentity> params;                  // the Parameter records, same order
  std::optional<DecodedOptimizer> optimizer;
  std::optional<DecodedScheduler> scheduler;
  TrainingMeta meta;
};

// Validates the records' meaning and reads the small ones. meta_only: validates the container,
// the model and identity records' names, roles and types, and the meta records; reads only the
// meta records (optimizer and scheduler records are not examined).
Decoded decode(const format::Reader& reader, bool meta_only = false);

DType to_dtype(format::RecordType type);  // numeric types only
format::RecordType to_record_type(DType dtype);

// Builds the records of a file. Tensor data is referenced, not copied: it must outlive the write.
class RecordList {
 public:
  explicit RecordList(std::string context) : context_(std::move(context)) {}
  void tensor(const std::string& name, format::Role role, DType dtype, const std::vector<int64_t>& shape,
              const void* data, size_t nbytes);
  void i64(const std::string& name, format::Role role, int64_t value);
  void i64s(const std::string& name, format::Role role, const std::vector<int64_t>& values,
            std::vector<int64_t> shape = {});  // shape defaults to [values.size()]
  void f64(const std::string& name, format::Role role, double value);
  void f64s(const std::string& name, format::Role role, const std::vector<double>& values);
  void bools(const std::string& name, format::Role role, const std::vector<bool>& values);
  void text(const std::string& name, format::Role role, const std::string& value);
  void strings(const std::string& name, format::Role role, const std::vector<std::string>& values);
  std::vector<format::OutRecord>& records() { return records_; }
  [[noreturn]] void fail(const std::string& what) const;

 private:
  void owned(const std::string& name, format::Role role, format::RecordType type, std::vector<int64_t> shape,
             std::vector<uint8_t> bytes);
  std::string context_;
  std::vector<format::OutRecord> records_;
};

// A name used inside a record name ("model/<name>", "optimizer/state/<name>/<buffer>"): non-empty,
// no '/', no NUL; throws CheckpointError "<context>: <what> <name> ...".
void check_component(const RecordList& out, const std::string& name, const char* what);

// The closed value lists of docs/checkpoint-format.md, shared by the reader and the writer:
// each returns "" when the value is allowed, else why not. Names of an unknown type are not
// judged (the type itself is the error). `previous` is the buffer recorded just before (or "").
std::string optimizer_type_problem(const std::string& type);
std::string option_problem(const std::string& type, const std::string& option);
std::string buffer_problem(const std::string& type, const std::string& previous, const std::string& buffer);
std::string scheduler_type_problem(const std::string& type);
std::string scheduler_value_problem(const std::string& type, const std::string& name);
std::string scheduler_list_problem(const std::string& type, const std::string& name);
std::string mode_problem(const std::string& mode);

void encode_identity(RecordList& out, const std::vector<ParamIdentity>& params);
void encode_optimizer_groups(RecordList& out, const std::string& type, const std::vector<DecodedGroup>& groups);
void encode_scheduler(RecordList& out, const DecodedScheduler& sched);
void encode_meta(RecordList& out, const TrainingMeta& meta);

}  // namespace sepal::checkpoint::schema
