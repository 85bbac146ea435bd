// conv.cu: CUDA 2-D convolution through cuDNN (NCHW tensors, [K, C/groups, R, S] filters,
// CUDNN_CROSS_CORRELATION as PyTorch's conv2d).
//
// This uses cuDNN's legacy convolution API (cudnnConvolutionForward / BackwardData /
// BackwardFilter) rather than the graph API: it is still shipped and supported in cuDNN 9 and
// takes far less code for three fixed operations. Per distinct convolution (device, dtype,
// shapes, arguments, and the TF32 and benchmark switches of tensor/cuda_settings.h) the tensor
// descriptors are built once, and each pass ranks its algorithms once: by cuDNN's heuristics
// (cudnnGet*Algorithm_v7), or with set_cudnn_benchmark(true) by timing them
// (cudnnFind*AlgorithmEx). Each call then runs the first ranked algorithm that works, falling back
// to the next on "not supported", a bad parameter or a workspace that cannot be allocated; the
// rules live in conv_algos.h (tested on the CPU). Workspaces come from the backend's caching
// allocator. Handles are per thread (handles.h).
//
// Precision: float32 without TF32 (the default) sets CUDNN_FMA_MATH on every descriptor and skips
// tensor-op algorithms, so float32 results match the CPU (PyTorch does the same when TF32 is
// disallowed); with set_allow_tf32(true) cuDNN's own math type per algorithm is used. bfloat16
// precision (autocast) runs each pass on bfloat16 copies (bf16.cuh: the inputs rounded, the
// bfloat16 output widened into the float32 tensor) with float32 compute, tensor cores allowed, as
// cuDNN's BFLOAT16 configuration requires x, w and y in one type: unlike the CPU, the output is
// rounded to bfloat16 too (as torch.autocast's bf16 outputs are).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tensor/conv_key.h"
#include "tensor/cuda/bf16.cuh"
#include "tensor/cuda/check.h"
#include "tensor/cuda/conv_algos.h"
#include "tensor/cuda/cuda_backend.h"
#include "tensor/cuda/elementwise.cuh"
#include "tensor/cuda/device_guard.h"
#include "tensor/cuda/handles.h"
#include "tensor/cuda_settings.h"
#include "tensor/kernels/conv_epilogue.h"
#include "tensor/kernels/layouts.h"

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

// The largest workspace handed to cudnnFind*AlgorithmEx (halved until it can be allocated).
constexpr size_t kMaxFindWorkspace = size_t(2) << 30;

int to_int(int64_t v) {
  if (v < 0 || v > INT_MAX) throw Error("conv2d: size " + std::to_string(v) + " exceeds the int range cuDNN accepts");
  return static_cast<int>(v);
}

// The data type of a convolution's tensors: bfloat16 under bf16 autocast, else the dtype's.
cudnnDataType_t cudnn_type(DType t, Precision precision) {
  if (t == DType::Float32) return precision == Precision::BFloat16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  if (t == DType::Float64) return CUDNN_DATA_DOUBLE;
  throw DTypeError(std::string("conv2d: cuDNN takes float32 or float64, got ") + dtype_name(t));
}

enum Pass { Forward = 0, BackwardData = 1, BackwardFilter = 2 };
const char* pass_name(Pass p) {
  return p == Forward ? "conv2d" : p == BackwardData ? "conv2d_backward_input" : "conv2d_backward_weight";
}

// The device buffers of one call: x image-shaped [N, C, H, W], w the filter, y output-shaped
// [N, K, P, Q]. The pass writes one of them (y, x or w); cudnnFind*AlgorithmEx writes it too.
struct Buffers {
  void* x;
  void* w;
  void* y;
};

// cuDNN's perf rows (the three perf structs share these fields) as conv_algos.h rows.
template <typename Perf>
std::vector<AlgoResult> to_results(const Perf* perf, int count) {
  std::vector<AlgoResult> rows;
  for (int i = 0; i < count; ++i)
    rows.push_back({static_cast<int>(perf[i].algo), perf[i].status == CUDNN_STATUS_SUCCESS,
                    static_cast<ConvMath>(perf[i].mathType), perf[i].memory});
  return rows;
}

// One pass's ranked algorithms, each with its own convolution descriptor (its math type set once,
// so threads sharing the plan never change a descriptor another is using), and the index of the
// algorithm that ran last.
struct PassPlan {
  std::vector<AlgoCandidate> ranked;
  std::vector<std::unique_ptr<ConvDesc>> descs;
  std::atomic<size_t> first{0};
};

// Descriptors and per-pass algorithm lists of one convolution on one device.
class ConvPlan {
 public:
  ConvPlan(const Tensor& image, const Tensor& weight, const Tensor& out, const Conv2dArgs& a, AlgoPolicy policy,
           bool benchmark)
      : dtype_(cudnn_type(image.dtype(), a.precision)),
        compute_(dtype_ == CUDNN_DATA_BFLOAT16 ? CUDNN_DATA_FLOAT : dtype_), args_(a), policy_(policy), benchmark_(benchmark),
        shapes_("input " + shape_str(image.shape()) + ", weight " + shape_str(weight.shape()) + ", output " +
                shape_str(out.shape())) {
    SEPAL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_.get(), CUDNN_TENSOR_NCHW, dtype_, to_int(image.size(0)),
                                                 to_int(image.size(1)), to_int(image.size(2)), to_int(image.size(3))));
    SEPAL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y_.get(), CUDNN_TENSOR_NCHW, dtype_, to_int(out.size(0)),
                                                 to_int(out.size(1)), to_int(out.size(2)), to_int(out.size(3))));
    SEPAL_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_.get(), dtype_, CUDNN_TENSOR_NCHW, to_int(weight.size(0)),
                                                 to_int(weight.size(1)), to_int(weight.size(2)),
                                                 to_int(weight.size(3))));
  }

  // The pass's plan, its algorithms ranked on first use (timed on `buf` in benchmark mode).
  PassPlan& get(Pass pass, cudnnHandle_t handle, CudaBackend& backend, const Buffers& buf) {
    std::call_once(once_[pass], [&] { rank(pass, handle, backend, buf); });
    return passes_[pass];
  }

  cudnnTensorDescriptor_t x() const { return x_.get(); }
  cudnnTensorDescriptor_t y() const { return y_.get(); }
  cudnnFilterDescriptor_t w() const { return w_.get(); }
  const std::string& shapes() const { return shapes_; }

 private:
  void describe(const ConvDesc& conv, ConvMath math) const {
    SEPAL_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        conv.get(), to_int(args_.padding[0]), to_int(args_.padding[1]), to_int(args_.stride[0]),
        to_int(args_.stride[1]), to_int(args_.dilation[0]), to_int(args_.dilation[1]), CUDNN_CROSS_CORRELATION, compute_));
    SEPAL_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.get(), to_int(args_.groups)));
    SEPAL_CUDNN_CHECK(cudnnSetConvolutionMathType(conv.get(), static_cast<cudnnMathType_t>(math)));
  }

  // cuDNN's heuristic ranking of every algorithm for the pass.
  std::vector<AlgoResult> heuristics(Pass pass, cudnnHandle_t h, cudnnConvolutionDescriptor_t conv) const {
    int n = 0;
    if (pass == Forward) {
      std::array<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT> perf{};
      SEPAL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, x(), w(), conv, y(), static_cast<int>(perf.size()),
                                                               &n, perf.data()));
      return to_results(perf.data(), n);
    }
    if (pass == BackwardData) {
      std::array<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT> perf{};
      SEPAL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w(), y(), conv, x(),
                                                                    static_cast<int>(perf.size()), &n, perf.data()));
      return to_results(perf.data(), n);
    }
    std::array<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT> perf{};
    SEPAL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, x(), y(), conv, w(),
                                                                    static_cast<int>(perf.size()), &n, perf.data()));
    return to_results(perf.data(), n);
  }

  // Every algorithm timed on the call's own buffers, fastest first (cudnnFind*AlgorithmEx writes
  // the pass's output, which the call then overwrites). The workspace is as large as the
  // heuristics ask for, within kMaxFindWorkspace and what the device can still give.
  std::vector<AlgoResult> timings(Pass pass, cudnnHandle_t h, cudnnConvolutionDescriptor_t conv, CudaBackend& backend,
                                  const Buffers& b, size_t wanted) const {
    size_t bytes = std::min(wanted, kMaxFindWorkspace);
    void* ws = nullptr;
    while (bytes > 0 && !(ws = backend.try_allocate(bytes))) bytes = bytes > (size_t(1) << 20) ? bytes / 2 : 0;
    struct Release {
      CudaBackend& backend;
      void* ptr;
      size_t bytes;
      ~Release() { if (ptr) backend.deallocate(ptr, bytes); }
    } release{backend, ws, bytes};
    int n = 0;
    if (pass == Forward) {
      std::array<cudnnConvolutionFwdAlgoPerf_t, CUDNN_CONVOLUTION_FWD_ALGO_COUNT> perf{};
      SEPAL_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, x(), b.x, w(), b.w, conv, y(), b.y,
                                                               static_cast<int>(perf.size()), &n, perf.data(), ws, bytes));
      return to_results(perf.data(), n);
    }
    if (pass == BackwardData) {
      std::array<cudnnConvolutionBwdDataAlgoPerf_t, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT> perf{};
      SEPAL_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, w(), b.w, y(), b.y, conv, x(), b.x,
                                                                    static_cast<int>(perf.size()), &n, perf.data(), ws,
                                                                    bytes));
      return to_results(perf.data(), n);
    }
    std::array<cudnnConvolutionBwdFilterAlgoPerf_t, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT> perf{};
    SEPAL_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, x(), b.x, y(), b.y, conv, w(), b.w,
                                                                    static_cast<int>(perf.size()), &n, perf.data(), ws,
                                                                    bytes));
    return to_results(perf.data(), n);
  }

  // The workspace cuDNN reports for exactly this descriptor and algorithm; false if it refuses.
  bool workspace_size(Pass pass, cudnnHandle_t h, cudnnConvolutionDescriptor_t conv, int algo, size_t* bytes) const {
    cudnnStatus_t st;
    if (pass == Forward)
      st = cudnnGetConvolutionForwardWorkspaceSize(h, x(), w(), conv, y(), static_cast<cudnnConvolutionFwdAlgo_t>(algo),
                                                   bytes);
    else if (pass == BackwardData)
      st = cudnnGetConvolutionBackwardDataWorkspaceSize(h, w(), y(), conv, x(),
                                                        static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), bytes);
    else
      st = cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x(), y(), conv, w(),
                                                          static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), bytes);
    return st == CUDNN_STATUS_SUCCESS;
  }

  void rank(Pass pass, cudnnHandle_t h, CudaBackend& backend, const Buffers& buf) {
    PassPlan& p = passes_[pass];
    const bool exact = !policy_.float32 || !policy_.allow_tf32;
    ConvDesc query;  // the math type the policy starts from: FMA for exact float32
    describe(query, exact && policy_.float32 ? ConvMath::Fma : ConvMath::Default);
    std::vector<AlgoResult> results = heuristics(pass, h, query.get());
    if (benchmark_) {
      size_t wanted = 0;
      for (const AlgoResult& r : results)
        if (r.ok) wanted = std::max(wanted, r.workspace);
      results = timings(pass, h, query.get(), backend, buf, wanted);
    }
    for (AlgoCandidate c : rank_algorithms(results, policy_)) {
      auto desc = std::make_unique<ConvDesc>();
      describe(*desc, c.math);
      if (!workspace_size(pass, h, desc->get(), c.algo, &c.workspace)) continue;
      p.ranked.push_back(c);
      p.descs.push_back(std::move(desc));
    }
  }

  cudnnDataType_t dtype_, compute_;  // of the tensors, and of the arithmetic
  Conv2dArgs args_;
  AlgoPolicy policy_;
  bool benchmark_;
  std::string shapes_;
  TensorDesc x_, y_;  // the image-shaped [N, C, H, W] and output-shaped [N, K, P, Q] tensors
  FilterDesc w_;
  std::once_flag once_[3];
  PassPlan passes_[3];
};

// Plans by every size and argument, the device, the dtype, the precision and the two switches.
ConvPlan& plan_for(int device, const Tensor& image, const Tensor& weight, const Tensor& out, const Conv2dArgs& a) {
  static std::mutex mutex;
  static auto* plans = new ConvPlanCache<ConvPlan, 5>();  // never freed, like the backends: descriptors
  // must not be destroyed after cuDNN has unloaded at exit
  const bool bf16 = a.precision == Precision::BFloat16;  // rounds anyway: tensor-op algorithms are fine
  const AlgoPolicy policy{image.dtype() == DType::Float32, allow_tf32() || bf16};
  const bool benchmark = cudnn_benchmark();
  const auto key = conv_plan_key(image, weight, a, device, static_cast<int64_t>(image.dtype()), a.precision,
                                 policy.allow_tf32, benchmark);
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<ConvPlan>& plan = (*plans)[key];
  if (!plan) plan = std::make_unique<ConvPlan>(image, weight, out, a, policy, benchmark);
  return *plan;
}

// alpha = 1, beta = 0 (overwrite), in the precision cuDNN expects for the data type.
struct Scaling {
  double d1 = 1.0, d0 = 0.0;
  float f1 = 1.0f, f0 = 0.0f;
  const void* one(DType t) const { return t == DType::Float64 ? static_cast<const void*>(&d1) : &f1; }
  const void* zero(DType t) const { return t == DType::Float64 ? static_cast<const void*>(&d0) : &f0; }
};

// Runs `pass` with the first ranked algorithm that works. launch(handle, plan, algo, conv,
// workspace, bytes, buffers) enqueues the cuDNN call on `buf` and returns its status. A workspace is returned to the cache right after
// the launch: the kernels run in order on compute_stream(), so only later work reuses it.
template <typename Launch>
void run_pass(CudaBackend& backend, int device, Pass pass, const Tensor& image, const Tensor& weight,
              const Tensor& out, const Conv2dArgs& args, const Buffers& buf, Launch launch) {
  ConvPlan& plan = plan_for(device, image, weight, out, args);
  cudnnHandle_t handle = cudnn_handle(device);
  PassPlan& p = plan.get(pass, handle, backend, buf);
  const size_t ran = run_first_working(p.ranked, p.first.load(), pass_name(pass), plan.shapes(),
                                       [&](const AlgoCandidate& c) {
    const size_t i = static_cast<size_t>(&c - p.ranked.data());
    void* ws = nullptr;
    if (c.workspace > 0 && !(ws = backend.try_allocate(c.workspace))) return Attempt::NoWorkspace;
    const cudnnStatus_t st = launch(handle, plan, c.algo, p.descs[i]->get(), ws, c.workspace, buf);
    if (ws) backend.deallocate(ws, c.workspace);
    if (st == CUDNN_STATUS_SUCCESS) return Attempt::Ran;
    if (cudnn_status_tries_next(static_cast<int>(st))) return Attempt::Unsupported;
    throw_cuda_error("cuDNN", pass_name(pass), __FILE__, __LINE__,
                     std::string(cudnnGetErrorString(st)) + " (algorithm " + std::to_string(c.algo) + ", " +
                         plan.shapes() + ")");
  });
  p.first.store(ran);
}

// run_pass in the call's precision. bfloat16: the pass's two inputs are rounded into bfloat16
// copies of x, w and y, the pass writes the bfloat16 copy of its output, which is then widened into
// the float32 tensor.
template <typename Launch>
void run_pass_in_precision(CudaBackend& backend, int device, Pass pass, const Tensor& image, const Tensor& weight,
                           const Tensor& out, const Conv2dArgs& args, const Buffers& buf, Launch launch) {
  if (args.precision != Precision::BFloat16 || image.dtype() != DType::Float32)
    return run_pass(backend, device, pass, image, weight, out, args, buf, launch);
  const int64_t counts[3] = {image.numel(), weight.numel(), out.numel()};
  void* const f32[3] = {buf.x, buf.w, buf.y};
  const int written = pass == Forward ? 2 : pass == BackwardData ? 0 : 1;
  Bf16Buffer x(backend, counts[0]), w(backend, counts[1]), y(backend, counts[2]);
  uint16_t* const b16[3] = {x.data(), w.data(), y.data()};
  for (int i = 0; i < 3; ++i)
    if (i != written) round_to_bf16(static_cast<const float*>(f32[i]), b16[i], counts[i]);
  run_pass(backend, device, pass, image, weight, out, args, Buffers{b16[0], b16[1], b16[2]}, launch);
  widen_bf16(b16[written], static_cast<float*>(f32[written]), counts[written]);
}

}  // namespace

void CudaBackend::conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args) {
  DeviceGuard guard(index_);
  const Scaling s;
  const DType t = input.dtype();
  const Buffers buf{input.raw_data(), weight.raw_data(), out.raw_data()};
  run_pass_in_precision(*this, index_, Forward, input, weight, out, args, buf,
           [&](cudnnHandle_t h, const ConvPlan& plan, int algo, cudnnConvolutionDescriptor_t conv, void* ws,
               size_t bytes, const Buffers& b) {
             return cudnnConvolutionForward(h, s.one(t), plan.x(), b.x, plan.w(), b.w, conv,
                                            static_cast<cudnnConvolutionFwdAlgo_t>(algo), ws, bytes, s.zero(t),
                                            plan.y(), b.y);
           });
}

void CudaBackend::conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_input,
                                        const Conv2dArgs& args) {
  DeviceGuard guard(index_);
  const Scaling s;
  const DType t = grad_out.dtype();
  const Buffers buf{grad_input.raw_data(), weight.raw_data(), grad_out.raw_data()};
  run_pass_in_precision(*this, index_, BackwardData, grad_input, weight, grad_out, args, buf,
           [&](cudnnHandle_t h, const ConvPlan& plan, int algo, cudnnConvolutionDescriptor_t conv, void* ws,
               size_t bytes, const Buffers& b) {
             return cudnnConvolutionBackwardData(h, s.one(t), plan.w(), b.w, plan.y(), b.y, conv,
                                                 static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), ws, bytes,
                                                 s.zero(t), plan.x(), b.x);
           });
}

void CudaBackend::conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Tensor& grad_weight,
                                         const Conv2dArgs& args) {
  DeviceGuard guard(index_);
  const Scaling s;
  const DType t = grad_out.dtype();
  const Buffers buf{input.raw_data(), grad_weight.raw_data(), grad_out.raw_data()};
  run_pass_in_precision(*this, index_, BackwardFilter, input, grad_weight, grad_out, args, buf,
           [&](cudnnHandle_t h, const ConvPlan& plan, int algo, cudnnConvolutionDescriptor_t conv, void* ws,
               size_t bytes, const Buffers& b) {
             return cudnnConvolutionBackwardFilter(h, s.one(t), plan.x(), b.x, plan.y(), b.y, conv,
                                                   static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), ws, bytes,
                                                   s.zero(t), plan.w(), b.w);
           });
}

#else  // built without cuDNN: the methods exist (the interface requires them) and say why they cannot run

namespace {
[[noreturn]] void no_cudnn(const char* op) {
  throw CudaError(std::string(op) + ": this build of sepal has no cuDNN, so convolutions cannot run on CUDA; "
                  "install cuDNN (or set CUDNN_ROOT) and reconfigure, or run the model on the CPU");
}
}  // namespace

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

// ---- fused inference forward: the convolution above, then the epilogue in one grid-stride pass
// (the shared per-element math of tensor/kernels/conv_epilogue.h) ----
namespace {
template <typename T>
__global__ void __launch_bounds__(kBlockSize) conv_epilogue_kernel(T* out, int64_t n, kernels::ConvEpilogueOp<T> op) {
  for (int64_t i = global_thread_index(); i < n; i += grid_stride()) out[i] = op(i, out[i]);
}
}  // namespace

void CudaBackend::conv2d_forward_fused(const Tensor& input, const Tensor& weight, const Tensor& out,
                                       const Conv2dArgs& args, const ConvEpilogue& epilogue) {
  conv2d_forward(input, weight, out, args);
  DeviceGuard guard(index_);
  dispatch_floating(input.dtype(), "conv2d_fused", [&]<typename T>() {
    const kernels::ConvEpilogueOp<T> op{kernels::ptr_or_null<T>(epilogue.bias),
                                        kernels::ptr_or_null<T>(epilogue.residual), epilogue.relu, out.size(1),
                                        out.size(2) * out.size(3)};
    const int64_t n = out.numel();
    conv_epilogue_kernel<T><<<grid_for(n), kBlockSize>>>(out.data_ptr<T>(), n, op);
    SEPAL_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace sepal::cuda
