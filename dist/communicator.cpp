// communicator.cpp: the single-process communicator, the launcher's environment, and the helpers
// over any communicator (packed broadcasts, the same-structure check).
#include "dist/communicator.h"

#include <cstdlib>
#include <map>

#include "autograd/grad_mode.h"
#include "tensor/error.h"

namespace sepal::dist {

namespace {

class DoneWork : public Work {
 public:
  void wait() override {}
};

class SingleProcess : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string backend_name() const override { return "single"; }
  WorkHandle all_reduce_async(const Tensor&) override { return std::make_shared<DoneWork>(); }
  WorkHandle broadcast_async(const Tensor&, int root) override {
    if (root != 0) throw Error("broadcast: root " + std::to_string(root) + " outside a job of 1 process");
    return std::make_shared<DoneWork>();
  }
  void all_reduce_host(std::vector<double>&) override {}
  void broadcast_bytes(std::string&, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
};

std::optional<int> env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < 0) return std::nullopt;
  return static_cast<int>(x);
}

}  // namespace

std::unique_ptr<Communicator> make_single_process() { return std::make_unique<SingleProcess>(); }

std::optional<LaunchInfo> detect_launch() {
  struct Names {
    const char *launcher, *rank, *size, *local_rank, *local_size;
  };
  const Names schemes[] = {
      {"Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
       "OMPI_COMM_WORLD_LOCAL_SIZE"},
      {"PMIx", "PMIX_RANK", "PMIX_SIZE", "PMIX_LOCAL_RANK", "PMIX_LOCAL_SIZE"},
      {"PMI", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
  };
  for (const Names& s : schemes) {
    const std::optional<int> rank = env_int(s.rank), size = env_int(s.size);
    if (!rank || !size || *size < 1 || *rank >= *size) continue;
    LaunchInfo info;
    info.launcher = s.launcher;
    info.rank = *rank;
    info.size = *size;
    info.local_rank = env_int(s.local_rank).value_or(0);
    info.local_size = env_int(s.local_size).value_or(1);
    return info;
  }
  return std::nullopt;
}

void broadcast_tensors(Communicator& comm, const std::vector<Tensor>& tensors, int root) {
  if (comm.size() == 1) return;
  NoGradGuard no_grad;
  // one packed buffer per (dtype, device), in first-seen order (the same on every rank)
  std::vector<std::vector<const Tensor*>> groups;
  std::map<std::pair<int, std::string>, size_t> group_of;
  for (const Tensor& t : tensors) {
    if (!t.defined() || t.numel() == 0) continue;
    auto [it, added] = group_of.try_emplace({static_cast<int>(t.dtype()), t.device().str()}, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(&t);
  }
  for (const auto& group : groups) {
    int64_t total = 0;
    for (const Tensor* t : group) total += t->numel();
    const Tensor& first = *group.front();
    Tensor flat = empty({total}, TensorOptions(first.dtype()).device(first.device()));
    int64_t offset = 0;
    for (const Tensor* t : group) {
      flat.narrow(0, offset, t->numel()).view(t->shape()).copy_(*t);
      offset += t->numel();
    }
    comm.broadcast(flat, root);
    offset = 0;
    for (const Tensor* t : group) {
      Tensor dst = *t;
      dst.copy_(flat.narrow(0, offset, t->numel()).view(t->shape()));
      offset += t->numel();
    }
  }
}

void check_same_on_all_ranks(Communicator& comm, const std::vector<std::string>& lines, const std::string& what) {
  if (comm.size() == 1) return;
  std::string reference;
  for (const std::string& l : lines) reference += l + "\n";
  std::string mine = reference;
  comm.broadcast_bytes(reference, 0);
  std::string difference;
  if (mine != reference) {
    size_t i = 0;
    size_t a = 0, b = 0;
    for (;; ++i) {
      const size_t ea = mine.find('\n', a), eb = reference.find('\n', b);
      const std::string la = ea == std::string::npos ? "(nothing)" : mine.substr(a, ea - a);
      const std::string lb = eb == std::string::npos ? "(nothing)" : reference.substr(b, eb - b);
      if (la != lb) {
        difference = what + " differ between ranks: entry " + std::to_string(i + 1) + " is '" + lb +
                     "' on rank 0 but '" + la + "' on rank " + std::to_string(comm.rank());
        break;
      }
      a = ea + 1;
      b = eb + 1;
    }
  }
  // every rank learns which rank differs first, and all throw together
  std::vector<double> first_bad(1, difference.empty() ? 0.0 : 1.0);
  comm.all_reduce_host(first_bad);
  if (first_bad[0] == 0) return;
  std::vector<double> flags(static_cast<size_t>(comm.size()), 0.0);
  flags[static_cast<size_t>(comm.rank())] = difference.empty() ? 0.0 : 1.0;
  comm.all_reduce_host(flags);
  int bad = 0;
  while (flags[static_cast<size_t>(bad)] == 0) ++bad;
  std::string message = difference;
  comm.broadcast_bytes(message, bad);
  throw Error(message);
}

#ifndef SEPAL_WITH_MPI
bool built_with_mpi() { return false; }
std::unique_ptr<Communicator> make_mpi() {
  throw Error("this build of sepal has no MPI (configure with -DSEPAL_MPI=ON after `apt-get install "
              "libopenmpi-dev openmpi-bin`)");
}
#endif
#ifndef SEPAL_WITH_NCCL
bool built_with_nccl() { return false; }
std::unique_ptr<Communicator> make_nccl(std::unique_ptr<Communicator>, Device) {
  throw Error("this build of sepal has no NCCL (it needs the CUDA backend and nccl.h; configure with "
              "-DSEPAL_NCCL=ON)");
}
#endif

}  // namespace sepal::dist
