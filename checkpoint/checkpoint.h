// checkpoint.h: sepal's checkpoint: the whole training state in one file (format:
// docs/checkpoint-format.md). capture() snapshots a live model, optimizer and scheduler (copied
// to the CPU, so training may go on); save_checkpoint() writes it atomically (a crash or kill at
// any moment leaves the old file or the new one); load_checkpoint() treats the file as hostile
// and throws CheckpointError naming the file, the record and what is wrong.
//
//   auto ckpt = checkpoint::capture(*model, &opt, &sched, meta);
//   checkpoint::save_checkpoint(ckpt, "runs/a/last.sepal");
//   auto back = checkpoint::load_checkpoint("runs/a/last.sepal");   // tensors on the CPU
//   auto plan = checkpoint::plan_resume(back, *model, opt, &sched, ResumePolicy::Auto);  // resume.h
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/meta.h"
#include "layers/module.h"
#include "optim/optimizer.h"
#include "optim/scheduler.h"

namespace sepal::checkpoint {

struct Checkpoint {
  nn::StateDict model;                // every parameter and buffer, state_dict order (CPU tensors)
  std::vector<ParamIdentity> params;  // the parameters among them, in the same order
  std::optional<optim::OptimizerStateDict> optimizer;  // CPU tensors
  std::optional<optim::SchedulerStateDict> scheduler;
  TrainingMeta meta;

  // The identity of parameter `name`, or nullptr.
  const ParamIdentity* param(const std::string& name) const;
};

// A snapshot: every tensor copied to the CPU (nothing shared with the live objects), each
// parameter's requires_grad and optimizer group recorded, meta.sepal_version set when empty.
// `opt` and `sched` may be null.
Checkpoint capture(const nn::Module& model, const optim::Optimizer* opt, const optim::Scheduler* sched,
                   TrainingMeta meta);

// Writes `ckpt` to `path` atomically: a temporary file in the same folder, fsync, rename over
// `path`, fsync of the folder. Everything is validated before the disk is touched; on error
// `path` is left as it was. Tensors may be on any device.
void save_checkpoint(const Checkpoint& ckpt, const std::string& path);
// The file's bytes (what save_checkpoint writes).
std::vector<uint8_t> serialize_checkpoint(const Checkpoint& ckpt);

// Reads and validates a checkpoint file; every tensor is created on the CPU. Throws
// CheckpointError (a sepal::IOError) for a missing, truncated, corrupted or malformed file.
Checkpoint load_checkpoint(const std::string& path);
// The same from memory (tests, fuzzers); `source_name` names the input in errors.
Checkpoint parse_checkpoint(const uint8_t* data, size_t size, const std::string& source_name);
// Only the training metadata: reads the preamble, the record table and the meta records (each
// checksum-verified), not the tensors. Fast on a 200 MB file (inspect, the best-checkpoint rule).
TrainingMeta load_checkpoint_meta(const std::string& path);

// The name of the first model tensor (then optimizer tensor) holding a NaN or an infinity, or
// nullopt when all are finite.
std::optional<std::string> first_non_finite(const Checkpoint& ckpt);

}  // namespace sepal::checkpoint
