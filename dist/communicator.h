// communicator.h: the processes of a data-parallel job and their collectives. A Communicator
// knows its rank among `size` processes (and among those on its host), sums tensors over all
// ranks in place (all_reduce) or copies rank `root`'s tensor to every rank (broadcast), each
// asynchronously with a Work handle to wait on, plus host-side helpers for a few scalars or
// bytes, a barrier, and abort (which ends every rank of the job).
//
// Three implementations: single-process (no dependency; every collective is the identity), MPI
// (host buffers; CUDA tensors staged through host memory; one communication thread drives MPI so
// that collectives progress while the caller computes) and NCCL (CUDA tensors on its own stream,
// ordered by events; bootstrapped and helped by MPI). Every rank must issue the same collectives
// in the same order: that is the caller's contract, as in MPI.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/tensor.h"

namespace sepal::dist {

// A collective in flight. wait() blocks until it is complete on this rank and rethrows its error.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};
using WorkHandle = std::shared_ptr<Work>;

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // rank among the processes on this host
  virtual int local_size() const = 0;
  virtual std::string backend_name() const = 0;  // "single", "mpi" or "nccl"

  // Sums the dense tensor `t` over all ranks, in place (float32, float64, int64). `t` must stay
  // alive and untouched until the handle's wait() returns.
  virtual WorkHandle all_reduce_async(const Tensor& t) = 0;
  // Overwrites the dense tensor `t` with rank `root`'s, in place, on every rank.
  virtual WorkHandle broadcast_async(const Tensor& t, int root) = 0;
  void all_reduce(const Tensor& t) { all_reduce_async(t)->wait(); }
  void broadcast(const Tensor& t, int root) { broadcast_async(t, root)->wait(); }

  // Host helpers (blocking): element-wise sum of `values` over all ranks (exact for integers
  // below 2^53), and rank `root`'s bytes on every rank.
  virtual void all_reduce_host(std::vector<double>& values) = 0;
  virtual void broadcast_bytes(std::string& bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every process of the job with `code` (MPI_Abort / ncclCommAbort); never returns.
  [[noreturn]] virtual void abort(int code) = 0;
};

// The job's shape as the launcher (mpirun of Open MPI, MPICH/Hydra's PMI, PMIx) announced it in
// the environment, or nullopt outside a launcher.
struct LaunchInfo {
  int rank = 0, size = 1, local_rank = 0, local_size = 1;
  std::string launcher;  // "Open MPI", "PMI" or "PMIx"
};
std::optional<LaunchInfo> detect_launch();

bool built_with_mpi();
bool built_with_nccl();

// One process, no dependency: every collective returns at once with `t` unchanged.
std::unique_ptr<Communicator> make_single_process();
// MPI_COMM_WORLD (initialises MPI; finalises it when the communicator is destroyed). Throws
// sepal::Error when the build has no MPI (SEPAL_MPI off).
std::unique_ptr<Communicator> make_mpi();
// NCCL over the ranks of `bootstrap` (an MPI communicator, which also serves the host helpers and
// broadcasts NCCL's unique id; the single-process one for a one-rank job), for CUDA tensors on
// `device`. Throws sepal::Error when the build has no NCCL.
std::unique_ptr<Communicator> make_nccl(std::unique_ptr<Communicator> bootstrap, Device device);

// ---- helpers over any communicator ----

// Broadcasts each tensor of `tensors` from `root` in place, packed into one buffer per dtype
// and device (one collective each instead of one per tensor).
void broadcast_tensors(Communicator& comm, const std::vector<Tensor>& tensors, int root);

// Checks that every rank holds the same list of "name shape" lines (rank 0's is the reference);
// throws sepal::Error on every rank, naming the first difference and the rank that has it.
void check_same_on_all_ranks(Communicator& comm, const std::vector<std::string>& lines, const std::string& what);

}  // namespace sepal::dist
