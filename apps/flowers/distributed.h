// distributed.h: the data-parallel side of `flowers train` (docs/distributed.md). open_job reads
// --dist, --dist-backend and the launcher's environment (mpirun: Open MPI, MPICH/PMI, PMIx) and
// opens the communicator: the single-process one without a launcher or with --dist off, so the
// same command line runs as one process or as many. Ranks other than 0 print nothing; a failure
// on any rank prints "[rank r]" with its message and ends the whole job (abort_job).
#pragma once
#include <memory>
#include <string>

#include "config.h"
#include "dist/communicator.h"
#include "tensor/device.h"

namespace flowers {

struct Job {
  std::unique_ptr<sepal::dist::Communicator> comm;
  int local_rank = 0;
  int threads = 0;  // OpenMP threads of this rank (0: left as configured)
  bool root() const { return comm->rank() == 0; }
  bool distributed() const { return comm->size() > 1; }
  std::string describe() const;  // the startup line's text
};

// The device of this rank: --device auto under a launcher picks cuda:<local rank> when CUDA is
// present. Throws UsageError for a CUDA device that does not exist.
sepal::Device choose_device(const std::string& text, int local_rank);
// Opens the job for `config` on `device` (NCCL for a CUDA device when built with it, unless
// --dist-backend says otherwise). Throws UsageError when the flags ask for what the build lacks.
Job open_job(const TrainConfig& config, const sepal::Device& device);
// Ranks other than 0: standard output and error go to /dev/null (abort_job still reaches the
// real standard error).
void silence_other_ranks(const Job& job);
// "[rank r] flowers train: error: <message>" on the real standard error, then ends every rank.
[[noreturn]] void abort_job(const Job& job, const std::string& message, int code);

}  // namespace flowers
