// conv.cu: CUDA 2-D convolution through cuDNN (NCHW tensors, [K, C/groups, R, S] filters,
// CUDNN_CROSS_CORRELATION as PyTorch's conv2d).
//
// This uses cuDNN's legacy convolution API (cudnnConvolutionForward / BackwardData /
// BackwardFilter) rather than the graph API: it is still shipped and supported in cuDNN 9, it
// takes far less code for three fixed operations, and caching one algorithm per shape is
// straightforward. Per distinct convolution (device, dtype, shapes and arguments) the
// descriptors are built once and each pass picks its algorithm once, from the
// cudnnGet*Algorithm_v7 heuristics: the first ranked algorithm that succeeds, keeps full float32
// precision and whose workspace fits. Workspaces come from the backend's caching allocator.
//
// Precision: float32 runs with CUDNN_FMA_MATH. CUDNN_DEFAULT_MATH would let cuDNN 8/9 use TF32
// tensor cores for float32 on sm_80 and newer (10-bit mantissa), so float32 results would not
// match the CPU; PyTorch sets CUDNN_FMA_MATH likewise when TF32 is disallowed.
#include <cuda_runtime_api.h>

#include <array>
#include <algorithm>
#include <climits>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tensor/cuda/check.h"
#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/device_guard.h"

namespace sepal::cuda {

#ifdef SEPAL_WITH_CUDNN

namespace {

// Owns one cuDNN descriptor.
template <typename T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Descriptor {
 public:
  Descriptor() { SEPAL_CUDNN_CHECK(Create(&desc_)); }
  ~Descriptor() { (void)Destroy(desc_); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  T get() const { return desc_; }

 private:
  T desc_ = nullptr;
};
using TensorDesc = Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc =
    Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;

// Largest workspace an algorithm may ask for (also bounded by the device's free memory).
constexpr size_t kMaxWorkspace = size_t(1) << 30;

int to_int(int64_t v) {
  if (v < 0 || v > INT_MAX) throw Error("conv2d: size " + std::to_string(v) + " exceeds the int range cuDNN accepts");
  return static_cast<int>(v);
}

cudnnDataType_t cudnn_type(DType t) {
  if (t == DType::Float32) return CUDNN_DATA_FLOAT;
  if (t == DType::Float64) return CUDNN_DATA_DOUBLE;
  throw DTypeError(std::string("conv2d: cuDNN takes float32 or float64, got ") + dtype_name(t));
}

enum Pass { Forward = 0, BackwardData = 1, BackwardFilter = 2 };
const char* pass_name(Pass p) {
  return p == Forward ? "conv2d" : p == BackwardData ? "conv2d_backward_input" : "conv2d_backward_weight";
}

// One pass: its own convolution descriptor (its math type is the chosen algorithm's), the
// algorithm and its workspace size.
struct PassPlan {
  ConvDesc conv;
  int algo = 0;
  size_t workspace = 0;
};

// The shape of the chosen heuristic result, the same for the three perf structs.
struct Choice {
  int algo;
  cudnnMathType_t math;
};

// The first of `count` heuristic results that succeeded, stays in FMA math for float32 (the
// descriptor asked for it; PyTorch asserts the same), and whose workspace fits the limit.
template <typename Perf>
bool first_fitting(const Perf* perf, int count, bool fp32, size_t limit, Choice* out) {
  for (int i = 0; i < count; ++i) {
    const Perf& p = perf[i];
    if (p.status != CUDNN_STATUS_SUCCESS || p.memory > limit) continue;
    if (fp32 && p.mathType != CUDNN_FMA_MATH) continue;
    *out = {static_cast<int>(p.algo), p.mathType};
    return true;
  }
  return false;
}

// Descriptors and per-pass algorithms of one convolution on one device.
class ConvPlan {
 public:
  ConvPlan(const Tensor& image, const Tensor& weight, const Tensor& out, const Conv2dArgs& a)
      : dtype_(cudnn_type(image.dtype())), args_(a) {
    SEPAL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_.get(), CUDNN_TENSOR_NCHW, dtype_, to_int(image.size(0)),
                                                 to_int(image.size(1)), to_int(image.size(2)), to_int(image.size(3))));
    SEPAL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y_.get(), CUDNN_TENSOR_NCHW, dtype_, to_int(out.size(0)),
                                                 to_int(out.size(1)), to_int(out.size(2)), to_int(out.size(3))));
    SEPAL_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_.get(), dtype_, CUDNN_TENSOR_NCHW, to_int(weight.size(0)),
                                                 to_int(weight.size(1)), to_int(weight.size(2)),
                                                 to_int(weight.size(3))));
  }

  // The pass's plan, its algorithm chosen on first use.
  const PassPlan& get(Pass pass, cudnnHandle_t handle) {
    std::call_once(once_[pass], [&] { choose(pass, handle); });
    return passes_[pass];
  }

  cudnnTensorDescriptor_t x() const { return x_.get(); }
  cudnnTensorDescriptor_t y() const { return y_.get(); }
  cudnnFilterDescriptor_t w() const { return w_.get(); }

 private:
  void choose(Pass pass, cudnnHandle_t handle) {
    PassPlan& p = passes_[pass];
    const bool fp32 = dtype_ == CUDNN_DATA_FLOAT;
    SEPAL_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        p.conv.get(), to_int(args_.padding[0]), to_int(args_.padding[1]), to_int(args_.stride[0]),
        to_int(args_.stride[1]), to_int(args_.dilation[0]), to_int(args_.dilation[1]), CUDNN_CROSS_CORRELATION, dtype_));
    SEPAL_CUDNN_CHECK(cudnnSetConvolutionGroupCount(p.conv.get(), to_int(args_.groups)));
    SEPAL_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv.get(), fp32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH));

    size_t free_bytes = 0, total_bytes = 0;
    SEPAL_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const size_t limit = std::min(kMaxWorkspace, free_bytes);
    Choice c{};
    bool found = false;
    int n = 0;
    if (pass == Forward) {
      std::array<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT> perf{};
      SEPAL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, x(), w(), p.conv.get(), y(),
                                                               static_cast<int>(perf.size()), &n, perf.data()));
      found = first_fitting(perf.data(), n, fp32, limit, &c);
    } else if (pass == BackwardData) {
      std::array<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT> perf{};
      SEPAL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, w(), y(), p.conv.get(), x(),
                                                                    static_cast<int>(perf.size()), &n, perf.data()));
      found = first_fitting(perf.data(), n, fp32, limit, &c);
    } else {
      std::array<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT> perf{};
      SEPAL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, x(), y(), p.conv.get(), w(),
                                                                      static_cast<int>(perf.size()), &n, perf.data()));
      found = first_fitting(perf.data(), n, fp32, limit, &c);
    }
    if (!found)
      throw CudaError(std::string(pass_name(pass)) + ": cuDNN offers no algorithm for this convolution within " +
                      std::to_string(limit >> 20) + " MiB of workspace" + (fp32 ? " without TF32" : ""));
    SEPAL_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv.get(), c.math));
    p.algo = c.algo;
    // the workspace the chosen algorithm needs, as cuDNN reports it for this exact configuration
    if (pass == Forward)
      SEPAL_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle, x(), w(), p.conv.get(), y(),
                                                                static_cast<cudnnConvolutionFwdAlgo_t>(c.algo),
                                                                &p.workspace));
    else if (pass == BackwardData)
      SEPAL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
          handle, w(), y(), p.conv.get(), x(), static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo), &p.workspace));
    else
      SEPAL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
          handle, x(), y(), p.conv.get(), w(), static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo), &p.workspace));
  }

  cudnnDataType_t dtype_;
  Conv2dArgs args_;
  TensorDesc x_, y_;  // the image-shaped [N, C, H, W] and output-shaped [N, K, P, Q] tensors
  FilterDesc w_;
  std::once_flag once_[3];
  PassPlan passes_[3];
};

// Cache key: device, dtype, every size and argument.
using PlanKey = std::array<int64_t, 16>;
struct PlanKeyHash {
  size_t operator()(const PlanKey& k) const {
    size_t h = 0;
    for (int64_t v : k) h = h * 1000003u ^ std::hash<int64_t>()(v);
    return h;
  }
};

ConvPlan& plan_for(int device, const Tensor& image, const Tensor& weight, const Tensor& out, const Conv2dArgs& a) {
  static std::mutex mutex;
  static auto* plans = new std::unordered_map<PlanKey, std::unique_ptr<ConvPlan>, PlanKeyHash>();  // never freed,
  // like the backends: descriptors must not be destroyed after cuDNN has unloaded at exit
  const PlanKey key{device, static_cast<int64_t>(image.dtype()), image.size(0), image.size(1), image.size(2),
                    image.size(3), weight.size(0), weight.size(2), weight.size(3), a.stride[0], a.stride[1],
                    a.padding[0], a.padding[1], a.dilation[0], a.dilation[1], a.groups};
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<ConvPlan>& plan = (*plans)[key];
  if (!plan) plan = std::make_unique<ConvPlan>(image, weight, out, a);
  return *plan;
}

// A workspace from the backend's caching allocator for the duration of one call. Kernels run in
// order on the default stream, so the block is reused only by work queued after this call's.
class Workspace {
 public:
  Workspace(CudaBackend& backend, size_t bytes)
      : backend_(backend), bytes_(bytes), ptr_(bytes ? backend.allocate(bytes) : nullptr) {}
  ~Workspace() {
    if (ptr_) backend_.deallocate(ptr_, bytes_);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* get() const { return ptr_; }

 private:
  CudaBackend& backend_;
  size_t bytes_;
  void* ptr_;
};

// alpha = 1, beta = 0 (overwrite), in the precision cuDNN expects for the data type.
struct Scaling {
  double d1 = 1.0, d0 = 0.0;
  float f1 = 1.0f, f0 = 0.0f;
  const void* one(DType t) const { return t == DType::Float64 ? static_cast<const void*>(&d1) : &f1; }
  const void* zero(DType t) const { return t == DType::Float64 ? static_cast<const void*>(&d0) : &f0; }
};

}  // namespace

cudnnContext* CudaBackend::cudnn() {
  std::call_once(cudnn_once_, [this] {
    DeviceGuard guard(index_);
    cudnnHandle_t handle = nullptr;
    SEPAL_CUDNN_CHECK(cudnnCreate(&handle));  // runs on the legacy default stream, like every kernel here
    cudnn_ = handle;
  });
  return cudnn_;
}

void CudaBackend::conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args) {
  DeviceGuard guard(index_);
  ConvPlan& plan = plan_for(index_, input, weight, out, args);
  const PassPlan& p = plan.get(Forward, cudnn());
  Workspace ws(*this, p.workspace);
  const Scaling s;
  SEPAL_CUDNN_CHECK(cudnnConvolutionForward(cudnn(), s.one(input.dtype()), plan.x(), input.raw_data(), plan.w(),
                                            weight.raw_data(), p.conv.get(),
                                            static_cast<cudnnConvolutionFwdAlgo_t>(p.algo), ws.get(), p.workspace,
                                            s.zero(input.dtype()), plan.y(), out.raw_data()));
}

void CudaBackend::conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_input,
                                        const Conv2dArgs& args) {
  DeviceGuard guard(index_);
  ConvPlan& plan = plan_for(index_, grad_input, weight, grad_out, args);
  const PassPlan& p = plan.get(BackwardData, cudnn());
  Workspace ws(*this, p.workspace);
  const Scaling s;
  SEPAL_CUDNN_CHECK(cudnnConvolutionBackwardData(cudnn(), s.one(grad_out.dtype()), plan.w(), weight.raw_data(),
                                                 plan.y(), grad_out.raw_data(), p.conv.get(),
                                                 static_cast<cudnnConvolutionBwdDataAlgo_t>(p.algo), ws.get(),
                                                 p.workspace, s.zero(grad_out.dtype()), plan.x(), grad_input.raw_data()));
}

void CudaBackend::conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Tensor& grad_weight,
                                         const Conv2dArgs& args) {
  DeviceGuard guard(index_);
  ConvPlan& plan = plan_for(index_, input, grad_weight, grad_out, args);
  const PassPlan& p = plan.get(BackwardFilter, cudnn());
  Workspace ws(*this, p.workspace);
  const Scaling s;
  SEPAL_CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn(), s.one(grad_out.dtype()), plan.x(), input.raw_data(),
                                                   plan.y(), grad_out.raw_data(), p.conv.get(),
                                                   static_cast<cudnnConvolutionBwdFilterAlgo_t>(p.algo), ws.get(),
                                                   p.workspace, s.zero(grad_out.dtype()), plan.w(),
                                                   grad_weight.raw_data()));
}

#else  // built without cuDNN: the methods exist (the interface requires them) and say why they cannot run

namespace {
[[noreturn]] void no_cudnn(const char* op) {
  throw CudaError(std::string(op) + ": this build of sepal has no cuDNN, so convolutions cannot run on CUDA; "
                  "install cuDNN (or set CUDNN_ROOT) and reconfigure, or run the model on the CPU");
}
}  // namespace

cudnnContext* CudaBackend::cudnn() { no_cudnn("cudnn"); }
void CudaBackend::conv2d_forward(const Tensor&, const Tensor&, const Tensor&, const Conv2dArgs&) {
  no_cudnn("conv2d");
}
void CudaBackend::conv2d_backward_input(const Tensor&, const Tensor&, const Tensor&, const Conv2dArgs&) {
  no_cudnn("conv2d_backward_input");
}
void CudaBackend::conv2d_backward_weight(const Tensor&, const Tensor&, const Tensor&, const Conv2dArgs&) {
  no_cudnn("conv2d_backward_weight");
}

#endif  // SEPAL_WITH_CUDNN

}  // namespace sepal::cuda
