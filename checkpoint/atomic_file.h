// atomic_file.h: writing a file so that a crash or a kill at any moment leaves either the old
// file or the complete new one at the path, never a partial one: the bytes go to a temporary
// file in the same folder ("<path>.tmp-<pid>-<n>"), which is fsynced, renamed over the path,
// and then the folder is fsynced so the rename itself is durable. Used by the checkpoint and
// safetensors writers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace sepal::checkpoint {

// Receives the file's bytes in order; may be called any number of times.
using ByteSink = std::function<void(const uint8_t* data, size_t size)>;

// Calls produce(sink) to stream the contents, then commits them to `path` atomically. On any
// error (from the OS or thrown by `produce`) the temporary file is removed, `path` is left as it
// was, and the error propagates; OS errors are sepal::IOError "<context>: <what>: <reason>".
void write_file_atomically(const std::string& path, const std::function<void(const ByteSink&)>& produce,
                           const std::string& context);

// The folder holding `path` ("." for a bare name, "/" for "/name").
std::string parent_dir(const std::string& path);

// fsyncs a folder so renames and unlinks in it are durable (filesystems that cannot sync a
// folder, EINVAL/ENOTSUP, are accepted). Throws IOError "<context>: ...".
void sync_dir(const std::string& dir, const std::string& context);

}  // namespace sepal::checkpoint
