// handles.cpp: see handles.h. Handles live in per-thread slots (one per device); when a thread
// ends, its slots go to an idle pool that the next new thread takes from, so a program that
// starts many short threads does not create a handle per thread.
#include "tensor/cuda/handles.h"

#include <mutex>
#include <vector>

#include "tensor/cuda/check.h"
#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda_settings.h"

namespace sepal::cuda {

namespace {

// NVIDIA's recommended cuBLAS workspace for Hopper (and what PyTorch gives sm_90).
constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;

struct CublasSlot {
  cublasHandle_t handle = nullptr;
  void* workspace = nullptr;
};

#ifdef SEPAL_WITH_CUDNN
struct CudnnSlot {
  cudnnHandle_t handle = nullptr;
};
#endif

// Slots left behind by threads that ended, per device. Leaked on purpose: threads may end (and
// hand their slots back) during static destruction.
template <typename Slot>
class IdlePool {
 public:
  static IdlePool& instance() {
    static auto* pool = new IdlePool();
    return *pool;
  }
  bool take(int device, Slot* out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (device >= static_cast<int>(by_device_.size()) || by_device_[device].empty()) return false;
    *out = by_device_[device].back();
    by_device_[device].pop_back();
    return true;
  }
  void give(int device, const Slot& slot) {
    std::lock_guard<std::mutex> lock(mu_);
    if (device >= static_cast<int>(by_device_.size())) by_device_.resize(device + 1);
    by_device_[device].push_back(slot);
  }

 private:
  std::mutex mu_;
  std::vector<std::vector<Slot>> by_device_;
};

// One thread's slots, one per device; handed to the idle pool when the thread ends.
template <typename Slot>
class ThreadSlots {
 public:
  ~ThreadSlots() {
    for (size_t d = 0; d < by_device_.size(); ++d)
      if (by_device_[d].handle) IdlePool<Slot>::instance().give(static_cast<int>(d), by_device_[d]);
  }
  // The slot of `device`, filled from the idle pool or by create(device) on first use.
  template <typename Create>
  Slot& get(int device, Create create) {
    if (device >= static_cast<int>(by_device_.size())) by_device_.resize(device + 1);
    Slot& slot = by_device_[device];
    if (!slot.handle && !IdlePool<Slot>::instance().take(device, &slot)) slot = create(device);
    return slot;
  }

 private:
  std::vector<Slot> by_device_;
};

CublasSlot create_cublas(int device) {
  DeviceGuard guard(device);
  CublasSlot slot;
  SEPAL_CUBLAS_CHECK(cublasCreate(&slot.handle));
  try {
    slot.workspace = cuda_backend_at(device).allocate(kCublasWorkspaceBytes);
  } catch (...) {
    (void)cublasDestroy(slot.handle);
    throw;
  }
  return slot;
}

}  // namespace

cudaStream_t copy_stream(int device) {
  // one per device, created on first use and never destroyed (like the backends)
  static std::mutex mu;
  static auto* streams = new std::vector<cudaStream_t>();
  std::lock_guard<std::mutex> lock(mu);
  if (device >= static_cast<int>(streams->size())) streams->resize(device + 1, nullptr);
  cudaStream_t& s = (*streams)[device];
  if (!s) {
    DeviceGuard guard(device);
    // non-blocking: no implicit synchronisation with the legacy default stream, so copies overlap
    SEPAL_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  }
  return s;
}

cublasHandle_t cublas_handle(int device) {
  thread_local ThreadSlots<CublasSlot> mine;
  const CublasSlot& slot = mine.get(device, create_cublas);
  // cublasSetStream resets the handle's workspace to cuBLAS's own pool: re-attach ours after it
  SEPAL_CUBLAS_CHECK(cublasSetStream(slot.handle, compute_stream()));
  SEPAL_CUBLAS_CHECK(cublasSetWorkspace(slot.handle, slot.workspace, kCublasWorkspaceBytes));
  SEPAL_CUBLAS_CHECK(cublasSetMathMode(slot.handle, allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return slot.handle;
}

#ifdef SEPAL_WITH_CUDNN
cudnnHandle_t cudnn_handle(int device) {
  thread_local ThreadSlots<CudnnSlot> mine;
  const CudnnSlot& slot = mine.get(device, [](int d) {
    DeviceGuard guard(d);
    CudnnSlot s;
    SEPAL_CUDNN_CHECK(cudnnCreate(&s.handle));
    return s;
  });
  SEPAL_CUDNN_CHECK(cudnnSetStream(slot.handle, compute_stream()));
  return slot.handle;
}
#endif

}  // namespace sepal::cuda
