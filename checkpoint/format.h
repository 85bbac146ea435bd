// format.h: the checkpoint container (docs/checkpoint-format.md is the specification): a
// 48-byte preamble (magic, version, sizes, two CRC-32C checksums), a record table (name, role,
// type, shape, offset, length and CRC-32C of each record) and the data region, records back to
// back in table order, nothing after. This layer knows nothing of tensors or of what the records
// mean (schema.h does); it validates every count, size and offset before using it, so a hostile
// file can only produce a CheckpointError, never a crash or an allocation larger than the file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "checkpoint/atomic_file.h"
#include "checkpoint/meta.h"

namespace sepal::checkpoint::format {

inline constexpr uint8_t kMagic[8] = {0x89, 'S', 'P', 'C', 'K', '\r', '\n', 0x1A};
inline constexpr uint32_t kVersion = 1;
inline constexpr size_t kPreambleSize = 48;
inline constexpr uint64_t kMaxHeaderSize = uint64_t{64} << 20;  // bytes of the record table
inline constexpr uint64_t kMaxRecords = uint64_t{1} << 20;
inline constexpr size_t kMaxNameLength = 1024;  // bytes
inline constexpr size_t kMaxDims = 8;
inline constexpr size_t kMinEntrySize = 2 + 1 + 4 + 8 + 8 + 4;  // a one-byte name, no dims

// What a record belongs to (the "role" byte).
enum class Role : uint8_t { Parameter = 0, Buffer = 1, Optimizer = 2, Scheduler = 3, Meta = 4 };
// The element type of a record (the "type" byte). Utf8: a string, shape [bytes]. StrList: shape
// [count], `count` strings each followed by a 0 byte.
enum class RecordType : uint8_t { F32 = 1, F64 = 2, I64 = 3, U8 = 4, Bool = 5, Utf8 = 16, StrList = 17 };

const char* role_name(Role role);
const char* type_name(RecordType type);
// Bytes per element of a numeric type; 0 for Utf8 and StrList.
size_t type_itemsize(RecordType type);
bool is_numeric(RecordType type);

struct RecordInfo {
  std::string name;
  Role role = Role::Meta;
  RecordType type = RecordType::U8;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // within the data region
  uint64_t length = 0;  // bytes
  uint32_t crc = 0;     // CRC-32C of the record's bytes
  int64_t numel() const;  // product of the shape (1 for a scalar)
};

// Copies n bytes at absolute file offset `offset` into dst, or throws.
using ReadAt = std::function<void(uint64_t offset, uint8_t* dst, size_t n)>;

// Validates the preamble and the record table at construction; reads record data on demand.
// Built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, checksum mismatches are ignored so that
// a fuzzer's mutations reach the code behind them (every other check still applies).
class Reader {
 public:
  Reader(uint64_t file_size, ReadAt read_at, std::string source);
  const std::vector<RecordInfo>& records() const { return records_; }
  const std::string& source() const { return source_; }
  uint64_t data_start() const { return data_start_; }
  // Reads the record's `length` bytes into dst and verifies its checksum.
  void read(const RecordInfo& r, uint8_t* dst) const;
  std::vector<uint8_t> read(const RecordInfo& r) const;
  // Throws CheckpointError "<source>: record "<name>" (<role>): <what>".
  [[noreturn]] void fail(const RecordInfo& r, const std::string& what) const;
  [[noreturn]] void fail(const std::string& what) const;

 private:
  void parse_table(const std::vector<uint8_t>& table, uint64_t record_count, uint64_t data_size);
  std::string source_;
  ReadAt read_at_;
  uint64_t data_start_ = 0;
  std::vector<RecordInfo> records_;
};

// A record to write: its info (offset, length and crc are filled in by write_container) and its
// bytes, either owned or pointing at memory that outlives the write.
struct OutRecord {
  RecordInfo info;
  std::vector<uint8_t> owned;
  const uint8_t* data = nullptr;  // when null, `owned` holds the bytes
  size_t size = 0;                // bytes at `data`
  const uint8_t* bytes() const { return data ? data : owned.data(); }
  size_t nbytes() const { return data ? size : owned.size(); }
};

// Checks every record (name, shape, length against its type; unique names), fills in offsets,
// lengths and checksums, and streams the file's bytes to `sink`. `context` starts error messages.
void write_container(std::vector<OutRecord>& records, const ByteSink& sink, const std::string& context);


}  // namespace sepal::checkpoint::format
