// nccl_communicator.cpp: the NCCL communicator. CUDA tensors are summed or broadcast in place by
// NCCL on its own non-blocking stream, ordered with sepal's compute stream (tensor/cuda/handles.h)
// by two events, as in tensor/cuda/pinned.cpp:
//   1. `ready`, recorded on the compute stream and waited for by the NCCL stream, so the
//      collective reads what every kernel queued before it wrote;
//   2. `done`, recorded on the NCCL stream behind the collective and waited for by the compute
//      stream in Work::wait(), so every kernel queued later sees the result.
// No call blocks the host. An MPI communicator of the same ranks (`bootstrap`) broadcasts NCCL's
// unique id at creation and serves the host helpers (all_reduce_host, broadcast_bytes, barrier).
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "dist/communicator.h"
#include "tensor/cuda/check.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/handles.h"
#include "tensor/error.h"

namespace sepal::dist {

bool built_with_nccl() { return true; }

namespace {

void check_nccl(ncclResult_t result, const char* what, ncclComm_t comm = nullptr) {
  if (result == ncclSuccess) return;
  std::string text = std::string("NCCL: ") + what + " failed: " + ncclGetErrorString(result);
  const char* last = ncclGetLastError(comm);
  if (last && *last) text += std::string(" (") + last + ")";
  throw Error(text);
}

// What the communicator and its Works share, so that a Work may still be waited on (or dropped)
// after the communicator is gone. Destroyed once nothing can use the NCCL communicator any more.
struct NcclState {
  int device = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t ready = nullptr;
  std::mutex mu;  // one thread at a time records `ready` and launches on `comm`

  NcclState() = default;
  NcclState(const NcclState&) = delete;
  NcclState& operator=(const NcclState&) = delete;
  // Never throws; failures are ignored (it may run during teardown).
  ~NcclState() {
    cuda::DeviceGuard guard(device, std::nothrow);
    if (stream && cudaStreamSynchronize(stream) != cudaSuccess) (void)cudaGetLastError();
    if (comm) (void)ncclCommDestroy(comm);
    if (stream && cudaStreamDestroy(stream) != cudaSuccess) (void)cudaGetLastError();
    if (ready && cudaEventDestroy(ready) != cudaSuccess) (void)cudaGetLastError();
  }
};

// A collective queued on the NCCL stream. Holds the tensor until wait(), which orders the compute
// stream after the collective; dropped without wait(), it does the same without checking.
class NcclWork : public Work {
 public:
  NcclWork(std::shared_ptr<NcclState> state, Tensor tensor, cudaEvent_t done)
      : state_(std::move(state)), tensor_(std::move(tensor)), done_(done) {}
  NcclWork(const NcclWork&) = delete;
  NcclWork& operator=(const NcclWork&) = delete;
  ~NcclWork() override {
    if (tensor_.defined()) {
      cuda::DeviceGuard guard(state_->device, std::nothrow);
      if (cudaStreamWaitEvent(cuda::compute_stream(), done_, 0) != cudaSuccess) (void)cudaGetLastError();
    }
    if (done_ && cudaEventDestroy(done_) != cudaSuccess) (void)cudaGetLastError();
  }

  void wait() override {
    if (!tensor_.defined()) return;  // waited already
    ncclResult_t async_error = ncclSuccess;
    check_nccl(ncclCommGetAsyncError(state_->comm, &async_error), "ncclCommGetAsyncError", state_->comm);
    check_nccl(async_error, "a collective (asynchronous error)", state_->comm);
    cuda::DeviceGuard guard(state_->device);
    SEPAL_CUDA_CHECK(cudaStreamWaitEvent(cuda::compute_stream(), done_, 0));
    tensor_.mark_modified();  // NCCL wrote it behind the raw layer's back
    tensor_ = Tensor();
  }

 private:
  std::shared_ptr<NcclState> state_;
  Tensor tensor_;
  cudaEvent_t done_;
};

// A collective on no elements: nothing is launched (on any rank, as every rank has the same shape).
class DoneWork : public Work {
 public:
  void wait() override {}
};

// bfloat16 (ncclBfloat16) joins the list once sepal's DType has it.
ncclDataType_t nccl_type(const Tensor& t, const char* op) {
  switch (t.dtype()) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Int64: return ncclInt64;
    default:
      throw DTypeError(std::string("NCCL ") + op + ": dtype " + dtype_name(t.dtype()) +
                       " is not supported (float32, float64, int64)");
  }
}

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<Communicator> bootstrap, Device device)
      : bootstrap_(std::move(bootstrap)), state_(std::make_shared<NcclState>()) {
    state_->device = device.index;
    // rank 0's unique id to every rank; an empty string tells the others that rank 0 failed
    ncclUniqueId id;
    std::string bytes;
    std::string failure;
    if (rank() == 0) {
      try {
        check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
        bytes.assign(reinterpret_cast<const char*>(&id), sizeof(id));
      } catch (const Error& e) {
        failure = e.what();
      }
    }
    bootstrap_->broadcast_bytes(bytes, 0);
    if (!failure.empty()) throw Error(failure);
    if (bytes.size() != sizeof(id)) throw Error("NCCL: rank 0 could not create the communicator's unique id");
    std::memcpy(&id, bytes.data(), sizeof(id));

    cuda::DeviceGuard guard(device.index);
    check_nccl(ncclCommInitRank(&state_->comm, size(), id, rank()), "ncclCommInitRank");
    SEPAL_CUDA_CHECK(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking));
    SEPAL_CUDA_CHECK(cudaEventCreateWithFlags(&state_->ready, cudaEventDisableTiming));
  }

  int rank() const override { return bootstrap_->rank(); }
  int size() const override { return bootstrap_->size(); }
  int local_rank() const override { return bootstrap_->local_rank(); }
  int local_size() const override { return bootstrap_->local_size(); }
  std::string backend_name() const override { return "nccl"; }

  WorkHandle all_reduce_async(const Tensor& t) override {
    return collective(t, "all_reduce", [](NcclState& s, void* p, size_t count, ncclDataType_t type) {
      check_nccl(ncclAllReduce(p, p, count, type, ncclSum, s.comm, s.stream), "ncclAllReduce", s.comm);
    });
  }
  WorkHandle broadcast_async(const Tensor& t, int root) override {
    if (root < 0 || root >= size())
      throw Error("NCCL broadcast: root " + std::to_string(root) + " outside ranks [0, " +
                  std::to_string(size()) + ")");
    return collective(t, "broadcast", [root](NcclState& s, void* p, size_t count, ncclDataType_t type) {
      check_nccl(ncclBroadcast(p, p, count, type, root, s.comm, s.stream), "ncclBroadcast", s.comm);
    });
  }

  void all_reduce_host(std::vector<double>& values) override { bootstrap_->all_reduce_host(values); }
  void broadcast_bytes(std::string& bytes, int root) override { bootstrap_->broadcast_bytes(bytes, root); }
  void barrier() override { bootstrap_->barrier(); }
  [[noreturn]] void abort(int code) override {
    if (state_->comm) (void)ncclCommAbort(state_->comm);  // ends this rank's NCCL kernels
    bootstrap_->abort(code);
    std::_Exit(code);  // not reached: the compiler cannot see [[noreturn]] through the virtual call
  }

 private:
  template <typename Launch>
  WorkHandle collective(const Tensor& t, const char* name, Launch launch) {
    const ncclDataType_t type = nccl_type(t, name);
    const Device expected = Device::cuda(state_->device);
    if (t.device() != expected)
      throw DeviceError(std::string("NCCL ") + name + ": the tensor " + shape_str(t.shape()) + " is on " +
                        t.device().str() + ", not on the communicator's " + expected.str());
    if (!t.is_contiguous())
      throw Error(std::string("NCCL ") + name + ": the tensor " + shape_str(t.shape()) + " on " +
                  t.device().str() + " must be contiguous");
    if (t.numel() == 0) return std::make_shared<DoneWork>();

    cuda::DeviceGuard guard(state_->device);
    cudaEvent_t done = nullptr;
    SEPAL_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    auto work = std::make_shared<NcclWork>(state_, t, done);  // owns `done` from here on
    std::lock_guard<std::mutex> lock(state_->mu);
    SEPAL_CUDA_CHECK(cudaEventRecord(state_->ready, cuda::compute_stream()));
    SEPAL_CUDA_CHECK(cudaStreamWaitEvent(state_->stream, state_->ready, 0));
    launch(*state_, t.raw_data(), static_cast<size_t>(t.numel()), type);
    SEPAL_CUDA_CHECK(cudaEventRecord(done, state_->stream));
    return work;
  }

  std::unique_ptr<Communicator> bootstrap_;
  std::shared_ptr<NcclState> state_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl(std::unique_ptr<Communicator> bootstrap, Device device) {
  if (!bootstrap) throw Error("NCCL: make_nccl needs a bootstrap communicator (make_mpi())");
  if (!device.is_cuda()) throw DeviceError("NCCL: the communicator's device must be CUDA, not " + device.str());
  return std::make_unique<NcclCommunicator>(std::move(bootstrap), device);
}

}  // namespace sepal::dist
