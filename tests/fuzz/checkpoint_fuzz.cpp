// checkpoint_fuzz.cpp: the libFuzzer target of the checkpoint reader. It runs the whole validation
// path a file goes through in load_checkpoint (preamble, record table, schema, every record's data
// and checksum) on arbitrary bytes; anything but a CheckpointError (a crash, a sanitizer report,
// another exception, an allocation beyond -malloc_limit_mb) is a finding. Built by
// scripts/fuzz.sh with clang -fsanitize=fuzzer,address,undefined from the reader sources only
// (checkpoint/crc32c.cpp, format.cpp, schema.cpp: no Tensor, no library). With
// FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION defined, checksum mismatches are ignored so that
// mutations reach the checks behind them; the script also runs a build with checksums on.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "checkpoint/format.h"
#include "checkpoint/schema.h"

namespace ck = sepal::checkpoint;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ck::format::ReadAt read_at = [&](uint64_t offset, uint8_t* dst, size_t n) {
    if (offset > size || n > size - offset) __builtin_trap();  // the reader asked for an unchecked range
    if (n > 0) std::memcpy(dst, data + offset, n);
  };
  try {
    ck::format::Reader reader(size, read_at, "fuzz-input");
    ck::schema::decode(reader, /*meta_only=*/true);
    ck::schema::Decoded d = ck::schema::decode(reader);
    // What load_checkpoint does next: read every tensor record (here into plain memory).
    for (const auto& [name, index] : d.model) reader.read(reader.records()[index]);
    if (d.optimizer)
      for (const auto& [name, st] : d.optimizer->state)
        for (const auto& [buf, index] : st.buffers) reader.read(reader.records()[index]);
  } catch (const ck::CheckpointError&) {
    // The only acceptable outcome for a malformed input.
  }
  return 0;
}
