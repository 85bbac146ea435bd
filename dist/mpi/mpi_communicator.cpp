// mpi_communicator.cpp: the MPI communicator (MPI_COMM_WORLD, C bindings). One communication
// thread initialises MPI, runs every MPI call in the order the caller queued them, and finalises
// MPI at exit: a collective progresses there while the caller computes (MPI's non-blocking
// collectives would only progress inside MPI calls), and MPI needs only MPI_THREAD_FUNNELED.
// CUDA tensors are staged through host memory: copied to the host when queued and back in wait(),
// both in the caller's thread, so no CUDA call runs on the communication thread.
// C bindings only: no MPI C++ bindings (removed in MPI-3, and a link dependency of their own)
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "autograd/grad_mode.h"
#include "dist/communicator.h"
#include "tensor/error.h"

namespace sepal::dist {

bool built_with_mpi() { return true; }

namespace {

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<size_t>(length));
}

void check_mpi(int code, const char* what) {
  if (code != MPI_SUCCESS) throw Error(std::string("MPI: ") + what + " failed: " + mpi_error_text(code));
}

// A job queued on the communication thread; wait() returns once it ran.
class QueuedWork : public Work {
 public:
  void wait() override {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return done_; });
    }
    if (error_) std::rethrow_exception(error_);
    if (after_) {
      auto after = std::move(after_);
      after_ = nullptr;
      after();
    }
  }
  void finish(std::exception_ptr error) {
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
      error_ = error;
    }
    cv_.notify_all();
  }
  std::function<void()> after_;  // runs in the waiting thread (copies a staged result back)

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
};

// The process's MPI: initialised once by the communication thread, finalised at exit.
class MpiRuntime {
 public:
  static MpiRuntime& get() {
    static MpiRuntime* runtime = [] {
      auto* r = new MpiRuntime();
      std::atexit([] { get().stop(); });
      return r;
    }();
    return *runtime;
  }

  int rank = 0, size = 1, local_rank = 0, local_size = 1;

  std::shared_ptr<QueuedWork> enqueue(std::function<void()> job) {
    auto work = std::make_shared<QueuedWork>();
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopped_) throw Error("MPI: the communicator was used after MPI was finalised");
      queue_.push_back({std::move(job), work});
    }
    cv_.notify_all();
    return work;
  }
  void run_and_wait(std::function<void()> job) { enqueue(std::move(job))->wait(); }

 private:
  MpiRuntime() {
    thread_ = std::thread([this] { loop(); });
    // the shape of the job is known once MPI_Init_thread has run there
    run_and_wait([this] {
      check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
      check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
      MPI_Comm node;
      check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node),
                "MPI_Comm_split_type");
      MPI_Comm_rank(node, &local_rank);
      MPI_Comm_size(node, &local_size);
      MPI_Comm_free(&node);
    });
  }

  void loop() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      owns_mpi_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    while (true) {
      Job job;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) break;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      std::exception_ptr error;
      try {
        job.run();
      } catch (...) {
        error = std::current_exception();
      }
      job.work->finish(error);
    }
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_mpi_ && !finalized) MPI_Finalize();
  }

  void stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopped_) return;
      stopping_ = stopped_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  struct Job {
    std::function<void()> run;
    std::shared_ptr<QueuedWork> work;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false, stopped_ = false, owns_mpi_ = false;
  std::thread thread_;
};

MPI_Datatype mpi_type(const Tensor& t, const char* op) {
  switch (t.dtype()) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
    default:
      throw Error(std::string("MPI ") + op + ": dtype " + dtype_name(t.dtype()) +
                  " is not supported (float32, float64, int64)");
  }
}

// Calls f(pointer, count) over chunks of at most INT_MAX elements (MPI counts are int).
template <typename F>
void in_chunks(void* data, int64_t numel, size_t element_size, F f) {
  char* p = static_cast<char*>(data);
  for (int64_t done = 0; done < numel;) {
    const int count = static_cast<int>(std::min<int64_t>(numel - done, INT_MAX));
    f(p + done * static_cast<int64_t>(element_size), count);
    done += count;
  }
}

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator() : mpi_(MpiRuntime::get()) {}
  int rank() const override { return mpi_.rank; }
  int size() const override { return mpi_.size; }
  int local_rank() const override { return mpi_.local_rank; }
  int local_size() const override { return mpi_.local_size; }
  std::string backend_name() const override { return "mpi"; }

  WorkHandle all_reduce_async(const Tensor& t) override {
    return collective(t, "all_reduce", [](void* p, int count, MPI_Datatype type) {
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, p, count, type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    });
  }
  WorkHandle broadcast_async(const Tensor& t, int root) override {
    check_root(root);
    return collective(t, "broadcast", [root](void* p, int count, MPI_Datatype type) {
      check_mpi(MPI_Bcast(p, count, type, root, MPI_COMM_WORLD), "MPI_Bcast");
    });
  }
  void all_reduce_host(std::vector<double>& values) override {
    mpi_.run_and_wait([&] {
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM,
                              MPI_COMM_WORLD),
                "MPI_Allreduce");
    });
  }
  void broadcast_bytes(std::string& bytes, int root) override {
    check_root(root);
    mpi_.run_and_wait([&] {
      unsigned long long n = bytes.size();
      check_mpi(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, root, MPI_COMM_WORLD), "MPI_Bcast");
      bytes.resize(n);
      in_chunks(bytes.data(), static_cast<int64_t>(n), 1, [&](void* p, int count) {
        check_mpi(MPI_Bcast(p, count, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
      });
    });
  }
  void barrier() override {
    mpi_.run_and_wait([] { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); });
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);  // from this thread: the communication thread may be blocked
    std::_Exit(code);
  }

 private:
  void check_root(int root) const {
    if (root < 0 || root >= size())
      throw Error("MPI broadcast: root " + std::to_string(root) + " outside ranks [0, " + std::to_string(size()) + ")");
  }

  template <typename Op>
  WorkHandle collective(const Tensor& t, const char* name, Op op) {
    const MPI_Datatype type = mpi_type(t, name);
    if (!t.is_contiguous())
      throw Error(std::string("MPI ") + name + ": the tensor " + shape_str(t.shape()) + " must be contiguous");
    NoGradGuard no_grad;
    // CUDA: a host copy now, the result copied back in wait() (both in this thread)
    const Tensor host = t.device().is_cpu() ? t : t.cpu();
    auto work = mpi_.enqueue([host, type, op] {  // holds the buffer until the collective ran
      in_chunks(host.raw_data(), host.numel(), dtype_size(host.dtype()), [&](void* p, int count) { op(p, count, type); });
    });
    if (!t.device().is_cpu()) {
      Tensor device_tensor = t;
      work->after_ = [device_tensor, host]() mutable { device_tensor.copy_(host); };
    }
    return work;
  }

  MpiRuntime& mpi_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi() { return std::make_unique<MpiCommunicator>(); }

}  // namespace sepal::dist
