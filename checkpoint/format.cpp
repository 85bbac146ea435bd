// format.cpp: the checkpoint container: preamble and record-table validation, checksummed record
// reads, and the writer. See format.h and docs/checkpoint-format.md.
#include "checkpoint/format.h"

#include <bit>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "checkpoint/crc32c.h"
#include "io/utf8.h"

namespace sepal::checkpoint::format {

static_assert(std::endian::native == std::endian::little,
              "the checkpoint format is little-endian; this reader assumes a little-endian host");

namespace {

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
constexpr bool kCheckCrc = false;
#else
constexpr bool kCheckCrc = true;
#endif

constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

uint64_t get_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void put_le(std::vector<uint8_t>* out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

std::string hex32(uint32_t v) {
  const char* digits = "0123456789abcdef";
  std::string s = "0x";
  for (int i = 7; i >= 0; --i) s += digits[(v >> (4 * i)) & 15];
  return s;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// numel of dims (each <= INT64_MAX), or false when it (or the product of the non-zero dims)
// overflows int64.
bool checked_numel(const std::vector<int64_t>& shape, int64_t* out) {
  int64_t n = 1, nonzero = 1;
  bool zero = false;
  for (int64_t d : shape) {
    if (d == 0) {
      zero = true;
      continue;
    }
    if (nonzero > std::numeric_limits<int64_t>::max() / d) return false;
    nonzero *= d;
  }
  n = zero ? 0 : nonzero;
  *out = n;
  return true;
}

}  // namespace

const char* role_name(Role role) {
  switch (role) {
    case Role::Parameter: return "parameter";
    case Role::Buffer: return "buffer";
    case Role::Optimizer: return "optimizer";
    case Role::Scheduler: return "scheduler";
    case Role::Meta: return "meta";
  }
  return "unknown role";
}

const char* type_name(RecordType type) {
  switch (type) {
    case RecordType::F32: return "F32";
    case RecordType::F64: return "F64";
    case RecordType::I64: return "I64";
    case RecordType::U8: return "U8";
    case RecordType::Bool: return "BOOL";
    case RecordType::Utf8: return "UTF8";
    case RecordType::StrList: return "STRLIST";
  }
  return "unknown type";
}

size_t type_itemsize(RecordType type) {
  switch (type) {
    case RecordType::F32: return 4;
    case RecordType::F64: return 8;
    case RecordType::I64: return 8;
    case RecordType::U8: return 1;
    case RecordType::Bool: return 1;
    case RecordType::Utf8:
    case RecordType::StrList: return 0;
  }
  return 0;
}

bool is_numeric(RecordType type) { return type_itemsize(type) != 0; }

int64_t RecordInfo::numel() const {
  int64_t n = 0;
  return checked_numel(shape, &n) ? n : -1;
}


// ---------------------------------------------------------------------------------------------
// Reading

void Reader::fail(const std::string& what) const { throw CheckpointError(source_ + ": " + what); }

void Reader::fail(const RecordInfo& r, const std::string& what) const {
  throw CheckpointError(source_ + ": record " + io::quote_name(r.name) + " (" + role_name(r.role) + "): " + what);
}

Reader::Reader(uint64_t file_size, ReadAt read_at, std::string source)
    : source_(std::move(source)), read_at_(std::move(read_at)) {
  if (file_size < kPreambleSize)
    fail("file is " + std::to_string(file_size) + " bytes, too short for the " + std::to_string(kPreambleSize) +
         "-byte preamble of a sepal checkpoint (empty or truncated?)");
  uint8_t pre[kPreambleSize];
  read_at_(0, pre, kPreambleSize);
  if (std::memcmp(pre, kMagic, sizeof kMagic) != 0)
    fail("not a sepal checkpoint: the file does not start with the magic bytes 89 53 50 43 4B 0D 0A 1A "
         "(\"\\x89SPCK\\r\\n\\x1a\")");
  const uint32_t version = static_cast<uint32_t>(get_le(pre + 8, 4));
  const uint32_t flags = static_cast<uint32_t>(get_le(pre + 12, 4));
  const uint64_t header_size = get_le(pre + 16, 8);
  const uint64_t record_count = get_le(pre + 24, 8);
  const uint64_t data_size = get_le(pre + 32, 8);
  const uint32_t header_crc = static_cast<uint32_t>(get_le(pre + 40, 4));
  const uint32_t preamble_crc = static_cast<uint32_t>(get_le(pre + 44, 4));
  if (version != kVersion)
    fail("format version " + std::to_string(version) + " is not supported (this sepal reads version " +
         std::to_string(kVersion) + "; a newer sepal wrote it, or the file is corrupted)");
  const uint32_t pre_computed = crc32c(pre, 44);
  if (kCheckCrc && pre_computed != preamble_crc)
    fail("preamble checksum mismatch (stored " + hex32(preamble_crc) + ", computed " + hex32(pre_computed) +
         "): the first 48 bytes are corrupted");
  if (flags != 0) fail("unknown flags " + hex32(flags) + " in the preamble (version 1 defines none)");
  if (header_size > kMaxHeaderSize)
    fail("record table size " + std::to_string(header_size) + " exceeds the " + std::to_string(kMaxHeaderSize) +
         "-byte limit");
  if (record_count > kMaxRecords)
    fail("record count " + std::to_string(record_count) + " exceeds the limit of " + std::to_string(kMaxRecords));
  if (record_count > header_size / kMinEntrySize)
    fail("record count " + std::to_string(record_count) + " cannot fit in a " + std::to_string(header_size) +
         "-byte record table (each entry takes at least " + std::to_string(kMinEntrySize) + " bytes)");
  const uint64_t after_preamble = file_size - kPreambleSize;
  if (header_size > after_preamble)
    fail("the record table (" + std::to_string(header_size) + " bytes) runs past the end of the file (" +
         std::to_string(file_size) + " bytes): truncated?");
  const uint64_t room = after_preamble - header_size;
  if (data_size > room)
    fail("file is " + std::to_string(file_size) + " bytes but the preamble says " +
         std::to_string(kPreambleSize + header_size) + " + " + std::to_string(data_size) + " data bytes: truncated");
  if (data_size < room)
    fail(std::to_string(room - data_size) + " trailing bytes after the data region (file " +
         std::to_string(file_size) + " bytes, expected " + std::to_string(kPreambleSize + header_size + data_size) +
         ")");
  data_start_ = kPreambleSize + header_size;

  std::vector<uint8_t> table(static_cast<size_t>(header_size));
  if (!table.empty()) read_at_(kPreambleSize, table.data(), table.size());
  const uint32_t table_crc = crc32c(table.data(), table.size());
  if (kCheckCrc && table_crc != header_crc)
    fail("record table checksum mismatch (stored " + hex32(header_crc) + ", computed " + hex32(table_crc) +
         "): the record table is corrupted");
  parse_table(table, record_count, data_size);
}

void Reader::parse_table(const std::vector<uint8_t>& table, uint64_t record_count, uint64_t data_size) {
  const uint8_t* p = table.data();
  const size_t n = table.size();
  size_t pos = 0;
  uint64_t data_cursor = 0;
  std::unordered_set<std::string> names;
  records_.reserve(static_cast<size_t>(record_count));  // bounded by header_size / kMinEntrySize
  for (uint64_t i = 0; i < record_count; ++i) {
    const std::string entry = "record table entry " + std::to_string(i);
    auto need = [&](size_t bytes, const char* what) {
      if (n - pos < bytes)
        fail(entry + ": the table ends inside its " + std::string(what) + " (at table byte " +
             std::to_string(pos) + " of " + std::to_string(n) + ")");
    };
    need(2, "name length");
    const size_t name_len = static_cast<size_t>(get_le(p + pos, 2));
    pos += 2;
    if (name_len == 0 || name_len > kMaxNameLength)
      fail(entry + ": name length " + std::to_string(name_len) + " is outside 1.." + std::to_string(kMaxNameLength));
    need(name_len, "name");
    RecordInfo r;
    r.name.assign(reinterpret_cast<const char*>(p + pos), name_len);
    pos += name_len;
    if (!io::is_valid_utf8(r.name) ||
        r.name.find('\0') != std::string::npos)
      fail(entry + ": the name " + io::quote_name(r.name) + " is not valid UTF-8 without NUL bytes");
    if (!names.insert(r.name).second) fail(entry + ": the name " + io::quote_name(r.name) + " appears twice");
    need(4, "role, type and rank");
    const uint8_t role = p[pos], type = p[pos + 1], ndim = p[pos + 2], reserved = p[pos + 3];
    pos += 4;
    if (role > static_cast<uint8_t>(Role::Meta))
      fail(entry + " (" + io::quote_name(r.name) + "): unknown role " + std::to_string(role));
    r.role = static_cast<Role>(role);
    r.type = static_cast<RecordType>(type);
    const bool known_type = (type >= 1 && type <= 5) || type == 16 || type == 17;
    if (!known_type) fail(r, "unknown record type " + std::to_string(type));
    if (ndim > kMaxDims) fail(r, "rank " + std::to_string(ndim) + " exceeds the limit of " + std::to_string(kMaxDims));
    if (reserved != 0) fail(r, "reserved byte is " + std::to_string(reserved) + ", must be 0");
    need(size_t{8} * ndim + 20, "shape, offset, length and checksum");
    for (uint8_t d = 0; d < ndim; ++d) {
      uint64_t dim = get_le(p + pos, 8);
      pos += 8;
      if (dim > kInt64Max) fail(r, "dimension " + std::to_string(d) + " is " + std::to_string(dim) + ", too large");
      r.shape.push_back(static_cast<int64_t>(dim));
    }
    r.offset = get_le(p + pos, 8);
    r.length = get_le(p + pos + 8, 8);
    r.crc = static_cast<uint32_t>(get_le(p + pos + 16, 4));
    pos += 20;

    // The length must follow from the type and shape.
    if (is_numeric(r.type)) {
      int64_t numel = 0;
      if (!checked_numel(r.shape, &numel)) fail(r, "shape " + shape_text(r.shape) + " overflows int64");
      const uint64_t item = type_itemsize(r.type);
      if (static_cast<uint64_t>(numel) > kInt64Max / item)
        fail(r, "shape " + shape_text(r.shape) + " of " + type_name(r.type) + " overflows int64 bytes");
      const uint64_t expect = static_cast<uint64_t>(numel) * item;
      if (r.length != expect)
        fail(r, "length " + std::to_string(r.length) + " does not match " + type_name(r.type) + " " +
                    shape_text(r.shape) + " (" + std::to_string(expect) + " bytes)");
    } else if (r.shape.size() != 1) {
      fail(r, std::string(type_name(r.type)) + " records have rank 1, got shape " + shape_text(r.shape));
    } else if (r.type == RecordType::Utf8) {
      if (static_cast<uint64_t>(r.shape[0]) != r.length)
        fail(r, "UTF8 shape " + shape_text(r.shape) + " does not match its length " + std::to_string(r.length));
    } else {  // StrList: count strings, each ending in a 0 byte
      const uint64_t count = static_cast<uint64_t>(r.shape[0]);
      if (count > r.length || (count == 0) != (r.length == 0))
        fail(r, "STRLIST of " + std::to_string(count) + " strings cannot take " + std::to_string(r.length) + " bytes");
    }
    // Records lie back to back in table order: no holes, no overlaps.
    if (r.offset != data_cursor)
      fail(r, "offset " + std::to_string(r.offset) + " should be " + std::to_string(data_cursor) +
                  (r.offset < data_cursor ? " (it overlaps the previous record)" : " (it leaves a hole after the previous record)"));
    if (r.length > data_size - data_cursor)
      fail(r, "data [" + std::to_string(r.offset) + ", +" + std::to_string(r.length) +
                  ") runs past the end of the data region (" + std::to_string(data_size) + " bytes)");
    data_cursor += r.length;
    records_.push_back(std::move(r));
  }
  if (pos != n)
    fail(std::to_string(n - pos) + " bytes of the record table follow its last entry (" + std::to_string(record_count) +
         " records)");
  if (data_cursor != data_size)
    fail("the records cover " + std::to_string(data_cursor) + " of the " + std::to_string(data_size) +
         " data bytes; the rest belongs to no record");
}

void Reader::read(const RecordInfo& r, uint8_t* dst) const {
  if (r.length > 0) read_at_(data_start_ + r.offset, dst, static_cast<size_t>(r.length));
  const uint32_t computed = crc32c(dst, static_cast<size_t>(r.length));
  if (kCheckCrc && computed != r.crc)
    fail(r, "checksum mismatch (stored " + hex32(r.crc) + ", computed " + hex32(computed) + "): its data is corrupted");
}

std::vector<uint8_t> Reader::read(const RecordInfo& r) const {
  std::vector<uint8_t> out(static_cast<size_t>(r.length));  // length <= data size <= file size
  read(r, out.data());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

void write_container(std::vector<OutRecord>& records, const ByteSink& sink, const std::string& context) {
  auto fail = [&](const OutRecord& r, const std::string& what) {
    throw CheckpointError(context + ": record " + io::quote_name(r.info.name) + ": " + what);
  };
  std::vector<uint8_t> table;
  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  for (OutRecord& r : records) {
    RecordInfo& info = r.info;
    if (info.name.empty() || info.name.size() > kMaxNameLength)
      fail(r, "the name must be 1 to " + std::to_string(kMaxNameLength) + " bytes");
    if (!io::is_valid_utf8(info.name) || info.name.find('\0') != std::string::npos)
      fail(r, "the name is not valid UTF-8 without NUL bytes");
    if (!names.insert(info.name).second) fail(r, "the name appears twice");
    if (info.shape.size() > kMaxDims) fail(r, "rank " + std::to_string(info.shape.size()) + " exceeds " + std::to_string(kMaxDims));
    for (int64_t d : info.shape)
      if (d < 0) fail(r, "negative dimension in " + shape_text(info.shape));
    const uint64_t nbytes = r.nbytes();
    if (is_numeric(info.type)) {
      int64_t numel = 0;
      if (!checked_numel(info.shape, &numel) || static_cast<uint64_t>(numel) * type_itemsize(info.type) != nbytes)
        fail(r, std::to_string(nbytes) + " bytes do not match " + type_name(info.type) + " " + shape_text(info.shape));
    } else if (info.shape.size() != 1 ||
               (info.type == RecordType::Utf8 && static_cast<uint64_t>(info.shape[0]) != nbytes)) {
      fail(r, std::string(type_name(info.type)) + " shape " + shape_text(info.shape) + " does not match " +
                  std::to_string(nbytes) + " bytes");
    }
    info.offset = offset;
    info.length = nbytes;
    info.crc = crc32c(r.bytes(), nbytes);
    offset += nbytes;

    put_le(&table, info.name.size(), 2);
    table.insert(table.end(), info.name.begin(), info.name.end());
    table.push_back(static_cast<uint8_t>(info.role));
    table.push_back(static_cast<uint8_t>(info.type));
    table.push_back(static_cast<uint8_t>(info.shape.size()));
    table.push_back(0);
    for (int64_t d : info.shape) put_le(&table, static_cast<uint64_t>(d), 8);
    put_le(&table, info.offset, 8);
    put_le(&table, info.length, 8);
    put_le(&table, info.crc, 4);
  }
  if (records.size() > kMaxRecords) throw CheckpointError(context + ": " + std::to_string(records.size()) + " records exceed the limit");
  if (table.size() > kMaxHeaderSize)
    throw CheckpointError(context + ": the record table would be " + std::to_string(table.size()) +
                          " bytes, over the " + std::to_string(kMaxHeaderSize) + "-byte limit");
  std::vector<uint8_t> pre(kMagic, kMagic + sizeof kMagic);
  put_le(&pre, kVersion, 4);
  put_le(&pre, 0, 4);  // flags
  put_le(&pre, table.size(), 8);
  put_le(&pre, records.size(), 8);
  put_le(&pre, offset, 8);
  put_le(&pre, crc32c(table.data(), table.size()), 4);
  put_le(&pre, crc32c(pre.data(), pre.size()), 4);
  sink(pre.data(), pre.size());
  sink(table.data(), table.size());
  for (const OutRecord& r : records)
    if (r.nbytes() > 0) sink(r.bytes(), r.nbytes());
}

}  // namespace sepal::checkpoint::format
