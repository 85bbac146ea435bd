// distributed.cpp: the job of `flowers train`: launcher detection, communicator, threads per
// rank, silenced ranks and the abort path (see distributed.h).
#include "distributed.h"

#include <fcntl.h>
#include <omp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cli.h"
#include "tensor/cuda_info.h"

namespace flowers {

namespace {
int real_stderr = 2;  // a duplicate of the original standard error once ranks are silenced
}

sepal::Device choose_device(const std::string& text, int local_rank) {
  if (text == "auto") {
    const int gpus = sepal::cuda_device_count();
    if (gpus > 0 && sepal::dist::detect_launch()) return sepal::Device::cuda(local_rank % gpus);
    return sepal::Device::best();
  }
  sepal::Device d = sepal::Device::parse(text);
  if (d.is_cuda() && d.index >= sepal::cuda_device_count())
    throw UsageError("--device " + text + ": no such CUDA device (" + std::to_string(sepal::cuda_device_count()) +
                     " present" + (sepal::built_with_cuda() ? "" : "; this build has no CUDA backend") + ")");
  return d;
}

Job open_job(const TrainConfig& c, const sepal::Device& device) {
  namespace dist = sepal::dist;
  Job job;
  const std::optional<dist::LaunchInfo> launch = dist::detect_launch();
  if (c.dist == "off" || !launch) {
    job.comm = dist::make_single_process();
    return job;
  }
  if (!dist::built_with_mpi()) {
    if (launch->size > 1)
      throw UsageError("launched as " + std::to_string(launch->size) + " ranks by " + launch->launcher +
                       ", but this build has no MPI: rebuild after `apt-get install libopenmpi-dev openmpi-bin`, "
                       "or run one process (--dist off)");
    job.comm = dist::make_single_process();
    return job;
  }
  std::string backend = c.dist_backend;
  if (backend == "auto") backend = device.is_cuda() && dist::built_with_nccl() ? "nccl" : "mpi";
  if (backend == "nccl" && !device.is_cuda())
    throw UsageError("--dist-backend nccl needs a CUDA device (--device " + c.device + " is " + device.str() + ")");
  if (backend == "nccl" && !dist::built_with_nccl())
    throw UsageError("--dist-backend nccl: this build has no NCCL (it needs the CUDA backend and nccl.h)");
  job.comm = dist::make_mpi();
  if (backend == "nccl") job.comm = dist::make_nccl(std::move(job.comm), device);
  job.local_rank = job.comm->local_rank();
  // the host's cores shared among its ranks, unless the user chose (OMP_NUM_THREADS)
  if (job.distributed() && !std::getenv("OMP_NUM_THREADS")) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    job.threads = std::max(1, cores / std::max(1, job.comm->local_size()));
    omp_set_num_threads(job.threads);
  }
  return job;
}

std::string Job::describe() const {
  if (!distributed()) return "";
  std::string s = std::to_string(comm->size()) + " ranks (" + comm->backend_name() + ", " +
                  std::to_string(comm->local_size()) + " on this host)";
  s += threads > 0 ? ", " + std::to_string(threads) + " threads per rank (" +
                         std::to_string(std::thread::hardware_concurrency()) + " cores / " +
                         std::to_string(comm->local_size()) + " ranks)"
                   : ", " + std::to_string(omp_get_max_threads()) + " threads per rank (OMP_NUM_THREADS)";
  return s + "; rank 0 prints and writes";
}

void silence_other_ranks(const Job& job) {
  static bool silenced = false;  // once: a second dup would keep /dev/null as the "real" stderr
  if (job.root() || silenced) return;
  silenced = true;
  std::fflush(stdout);
  std::fflush(stderr);
  real_stderr = ::dup(2);
  const int null = ::open("/dev/null", O_WRONLY);
  if (null >= 0) {
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::close(null);
  }
}

void abort_job(const Job& job, const std::string& message, int code) {
  std::fflush(stdout);
  const std::string line = "[rank " + std::to_string(job.comm->rank()) + "] flowers train: error: " + message + "\n";
  if (::write(real_stderr, line.data(), line.size()) < 0) {
  }
  job.comm->abort(code);
  std::_Exit(code);  // (abort does not return)
}

}  // namespace flowers
