// conv_onednn.cpp: float32 CPU convolution through oneDNN (forward_training, backward_data and
// backward_weights primitives; forward_inference with post-ops for the fused forward), and the
// CpuBackend conv methods, which send float32 here and float64 (which oneDNN lacks) to
// conv_im2col.cpp.
//
// Per distinct convolution (shapes, arguments, activation layout and OpenMP thread count, since
// oneDNN plans its work split for the thread count at creation) the primitive descriptors,
// primitives and the reorders between our plain layouts (OIHW or GOIHW weights; NCHW or
// channels-last NHWC activations) and the layouts oneDNN chooses are created once and cached.
// Row-major activations let oneDNN choose (format_tag::any: its blocked nChw16c, reordered to and
// from NCHW around every pass); channels-last activations are handed over as nhwc, which oneDNN's
// AVX-512 kernels read and write directly, so only the weights are reordered (the layout a
// channels-last network keeps from layer to layer, issue 15 item 2). Scratchpads and
// reordered copies come from the caching allocator on every call (scratchpad_mode::user), so
// cached primitives can run concurrently from several threads.
//
// bfloat16 precision (Conv2dArgs::precision, set by autocast) runs one of two ways
// (tensor/cpu_settings.h). Native asks oneDNN for bf16 inputs of every pass (source and weights
// forward, output gradient and weights or source backward) and float32 outputs: the reorders from
// our float32 tensors round to bf16 on the way (to nearest even, as tensor/kernels/bf16.h), and
// the primitive accumulates in float32. Emulated runs the float32 primitives on inputs rounded to
// bf16 values in the reordered copies (one more pass over them): the same products, as a bf16 x
// bf16 product is exact in float32.
#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "tensor/conv_key.h"
#include "tensor/cpu/conv.h"
#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu_settings.h"
#include "tensor/kernels/bf16.h"
#include "tensor/raw.h"

namespace sepal::cpu {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A stream object is not thread-safe; a CPU stream is a light handle, so each thread has one.
dnnl::stream& cpu_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

// One operand: the layout of our tensor, the layout the primitive chose, and the reorder
// between them (plain -> chosen for inputs, chosen -> plain for outputs), unless they coincide.
struct Operand {
  int arg = 0;  // DNNL_ARG_*
  memory::desc plain, chosen;
  dnnl::reorder reorder;
  bool direct() const { return plain == chosen; }
};

Operand make_operand(int arg, const memory::desc& plain, const memory::desc& chosen, bool output) {
  Operand o{arg, plain, chosen, {}};
  if (!o.direct()) {
    const dnnl::engine& e = cpu_engine();
    o.reorder = output ? dnnl::reorder(dnnl::reorder::primitive_desc(e, chosen, e, plain))
                       : dnnl::reorder(dnnl::reorder::primitive_desc(e, plain, e, chosen));
  }
  return o;
}

// One convolution pass: a primitive with two inputs and one output.
struct Pass {
  dnnl::primitive primitive;
  memory::desc scratchpad;
  Operand in0, in1, out;
  bool round_inputs = false;  // emulated bf16 (see the top of this file)
};

// The geometry of one convolution in oneDNN's terms (dilation counts the gaps: ours minus 1).
struct ConvDims {
  memory::dims src, weights, dst, strides, dilates, padding;
  memory::data_type inputs = memory::data_type::f32;  // of every pass; outputs are float32
  bool round_inputs = false;                           // emulated bf16: float32 inputs rounded to bf16
  Tag activations = Tag::nchw;                         // nhwc for channels-last tensors
  ConvDims(const Tensor& image, const Tensor& weight, const Tensor& out, const Conv2dArgs& a,
           cpu::Bf16Kernels bf16) {
    if (channels_last(image)) activations = Tag::nhwc;
    if (a.precision == Precision::BFloat16) {
      if (bf16 == cpu::Bf16Kernels::Native) inputs = memory::data_type::bf16;
      else round_inputs = true;
    }
    const int64_t G = a.groups, K = weight.size(0);
    src = {image.size(0), image.size(1), image.size(2), image.size(3)};
    dst = {out.size(0), K, out.size(2), out.size(3)};
    if (G == 1) weights = {K, weight.size(1), weight.size(2), weight.size(3)};
    else weights = {G, K / G, weight.size(1), weight.size(2), weight.size(3)};
    strides = {a.stride[0], a.stride[1]};
    dilates = {a.dilation[0] - 1, a.dilation[1] - 1};
    padding = {a.padding[0], a.padding[1]};
  }
  // The activations of a call are channels-last when its source-side tensor (input or input
  // gradient, allocated by the op in the input's format) is not row-major.
  static bool channels_last(const Tensor& image) { return !image.is_contiguous(); }
  memory::desc plain_src() const { return {src, memory::data_type::f32, activations}; }
  memory::desc plain_dst() const { return {dst, memory::data_type::f32, activations}; }
  memory::desc plain_weights() const {
    return {weights, memory::data_type::f32, weights.size() == 4 ? Tag::oihw : Tag::goihw};
  }
  // What a primitive is asked for: weights in any layout; activations likewise for NCHW tensors,
  // exactly nhwc for channels-last ones (inputs in the pass's input type, outputs float32).
  memory::desc input_weights() const { return {weights, inputs, Tag::any}; }
  memory::desc output_weights() const { return {weights, memory::data_type::f32, Tag::any}; }
  memory::desc input_act(const memory::dims& d) const { return {d, inputs, act_tag()}; }
  memory::desc output_act(const memory::dims& d) const { return {d, memory::data_type::f32, act_tag()}; }
  Tag act_tag() const { return activations == Tag::nhwc ? Tag::nhwc : Tag::any; }
};

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// Everything cached for one convolution: the forward descriptor (also the hint the backward
// passes need), and the three passes, each built on first use.
struct ConvPlan {
  ConvDims dims;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  std::once_flag built[3];
  Pass pass[3];

  explicit ConvPlan(const ConvDims& d) : dims(d) {
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                         d.input_act(d.src), d.input_weights(), d.output_act(d.dst), d.strides,
                                         d.dilates, d.padding, d.padding);
    fwd_pd = dnnl::convolution_forward::primitive_desc(desc, user_scratchpad(), cpu_engine());
  }

  enum Kind { Forward = 0, BackwardData = 1, BackwardWeights = 2 };

  const Pass& get(Kind kind) {
    std::call_once(built[kind], [&] { pass[kind] = build(kind); });
    return pass[kind];
  }

 private:
  Pass build(Kind kind) const {
    Pass p = build_primitive(kind);
    p.round_inputs = dims.round_inputs;
    return p;
  }

  Pass build_primitive(Kind kind) const {
    const ConvDims& d = dims;
    const dnnl::engine& e = cpu_engine();
    const auto algo = dnnl::algorithm::convolution_direct;
    if (kind == Forward)
      return {dnnl::convolution_forward(fwd_pd), fwd_pd.scratchpad_desc(),
              make_operand(DNNL_ARG_SRC, d.plain_src(), fwd_pd.src_desc(), false),
              make_operand(DNNL_ARG_WEIGHTS, d.plain_weights(), fwd_pd.weights_desc(), false),
              make_operand(DNNL_ARG_DST, d.plain_dst(), fwd_pd.dst_desc(), true)};
    if (kind == BackwardData) {
      dnnl::convolution_backward_data::desc desc(algo, d.output_act(d.src), d.input_weights(),
                                                 d.input_act(d.dst), d.strides, d.dilates, d.padding, d.padding);
      dnnl::convolution_backward_data::primitive_desc pd(desc, user_scratchpad(), e, fwd_pd);
      return {dnnl::convolution_backward_data(pd), pd.scratchpad_desc(),
              make_operand(DNNL_ARG_DIFF_DST, d.plain_dst(), pd.diff_dst_desc(), false),
              make_operand(DNNL_ARG_WEIGHTS, d.plain_weights(), pd.weights_desc(), false),
              make_operand(DNNL_ARG_DIFF_SRC, d.plain_src(), pd.diff_src_desc(), true)};
    }
    dnnl::convolution_backward_weights::desc desc(algo, d.input_act(d.src), d.output_weights(),
                                                  d.input_act(d.dst), d.strides, d.dilates, d.padding, d.padding);
    dnnl::convolution_backward_weights::primitive_desc pd(desc, user_scratchpad(), e, fwd_pd);
    return {dnnl::convolution_backward_weights(pd), pd.scratchpad_desc(),
            make_operand(DNNL_ARG_SRC, d.plain_src(), pd.src_desc(), false),
            make_operand(DNNL_ARG_DIFF_DST, d.plain_dst(), pd.diff_dst_desc(), false),
            make_operand(DNNL_ARG_DIFF_WEIGHTS, d.plain_weights(), pd.diff_weights_desc(), true)};
  }
};

// Plans by every size and argument, the precision (with the bf16 kernel choice) and the thread
// count the plan was made for.
ConvPlan& plan_for(const Tensor& image, const Tensor& weight, const Tensor& out, const Conv2dArgs& a) {
  static std::mutex mutex;
  static ConvPlanCache<ConvPlan, 4> plans;
  const cpu::Bf16Kernels bf16 = cpu::effective_bf16_kernels();
  const auto key = conv_plan_key(image, weight, a, a.precision, bf16, omp_get_max_threads(),
                                 ConvDims::channels_last(image));
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<ConvPlan>& plan = plans[key];
  if (!plan) plan = std::make_unique<ConvPlan>(ConvDims(image, weight, out, a, bf16));
  return *plan;
}

// A parallel memcpy (oneDNN's same-layout reorder runs its generic "simple:any" kernel: 6 ms of
// a ResNet-18 eval forward for the residuals against about 1 ms).
void copy_bytes(const void* from, void* to, size_t bytes) {
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), static_cast<int64_t>(bytes >> 18)));
#pragma omp parallel for if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const size_t begin = bytes * static_cast<size_t>(c) / static_cast<size_t>(chunks);
    const size_t end = bytes * static_cast<size_t>(c + 1) / static_cast<size_t>(chunks);
    std::memcpy(static_cast<char*>(to) + begin, static_cast<const char*>(from) + begin, end - begin);
  }
}

// out[i] = in[i] rounded to the nearest bfloat16 value (in == out allowed).
void round_to_bf16_values(const float* in, float* out, size_t count) {
  const int64_t n = static_cast<int64_t>(count);
#pragma omp parallel for simd if (n >= (int64_t(1) << 16))
  for (int64_t i = 0; i < n; ++i) out[i] = kernels::bf16_round(in[i]);
}

// The memories of one primitive execution over our plain buffers: inputs reordered into the
// chosen layouts where they differ (and rounded for emulated bf16), the output in the chosen
// layout, and the scratchpad. The buffers it allocates stay alive until finish() has waited for
// the stream.
class Execution {
 public:
  const dnnl::engine& e = cpu_engine();
  dnnl::stream& s = cpu_stream();
  std::unordered_map<int, memory> args;

  memory buffer(const memory::desc& md) {
    buffers_.push_back(empty({static_cast<int64_t>(md.get_size())}, DType::UInt8));
    return memory(md, e, buffers_.back().raw_data());
  }
  // Binds an input: our buffer itself, or a copy in the chosen layout (rounded for emulated
  // bf16), which it returns (undefined when none was made).
  Tensor input(const Operand& o, const void* ptr, bool round_inputs) {
    memory user(o.plain, e, const_cast<void*>(ptr));
    if (o.direct() && !round_inputs) {
      args.insert({o.arg, user});
      return Tensor();
    }
    memory chosen = buffer(o.chosen);
    if (!o.direct()) o.reorder.execute(s, user, chosen);
    if (round_inputs) {
      s.wait();
      const float* from = static_cast<const float*>(o.direct() ? ptr : chosen.get_data_handle());
      round_to_bf16_values(from, static_cast<float*>(chosen.get_data_handle()), o.chosen.get_size() / sizeof(float));
    }
    args.insert({o.arg, chosen});
    return buffers_.back();
  }
  // Binds an input already in the chosen layout.
  void prepared_input(const Operand& o, const Tensor& copy) {
    args.insert({o.arg, memory(o.chosen, e, copy.raw_data())});
  }
  // The output, in the chosen layout (a buffer, unless that is the plain layout).
  memory output(const Operand& o, void* ptr) {
    user_out_ = memory(o.plain, e, ptr);
    memory result = o.direct() ? user_out_ : buffer(o.chosen);
    args.insert({o.arg, result});
    return result;
  }
  // Runs the primitive, reorders the output back to our layout, and waits.
  void finish(const Pass& p) {
    if (p.scratchpad.get_size() > 0) args.insert({DNNL_ARG_SCRATCHPAD, buffer(p.scratchpad)});
    p.primitive.execute(s, args);
    if (!p.out.direct()) p.out.reorder.execute(s, args.at(p.out.arg), user_out_);
    s.wait();
  }

 private:
  std::vector<Tensor> buffers_;  // reordered copies and the scratchpad
  memory user_out_;
};

// Runs one pass on our plain buffers.
void run(const Pass& p, const void* in0, const void* in1, void* out) {
  Execution x;
  x.input(p.in0, in0, p.round_inputs);
  x.input(p.in1, in1, p.round_inputs);
  x.output(p.out, out);
  x.finish(p);
}

// oneDNN reports failures as dnnl::error; sepal callers expect sepal::Error naming the op.
template <typename Fn>
void with_onednn(const char* op, const Tensor& a, const Tensor& b, Fn&& fn) {
  if (a.dtype() != DType::Float32) throw DTypeError(std::string(op) + ": the oneDNN path takes float32 only");
  try {
    fn();
  } catch (const dnnl::error& err) {
    throw Error(std::string(op) + ": oneDNN failed (" + err.what() + ") for " + shape_str(a.shape()) + " and " +
                shape_str(b.shape()));
  }
}

}  // namespace

void onednn_conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args) {
  with_onednn("conv2d", input, weight, [&] {
    const Pass& p = plan_for(input, weight, out, args).get(ConvPlan::Forward);
    run(p, input.raw_data(), weight.raw_data(), out.raw_data());
  });
}

void onednn_conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_input,
                                  const Conv2dArgs& args) {
  with_onednn("conv2d_backward_input", grad_out, weight, [&] {
    const Pass& p = plan_for(grad_input, weight, grad_out, args).get(ConvPlan::BackwardData);
    run(p, grad_out.raw_data(), weight.raw_data(), grad_input.raw_data());
  });
}

void onednn_conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Tensor& grad_weight,
                                   const Conv2dArgs& args) {
  with_onednn("conv2d_backward_weight", grad_out, input, [&] {
    const Pass& p = plan_for(input, grad_weight, grad_out, args).get(ConvPlan::BackwardWeights);
    run(p, input.raw_data(), grad_out.raw_data(), grad_weight.raw_data());
  });
}

// ---- fused inference forward (conv2d_forward_fused) ----
// A forward_inference convolution with the epilogue as oneDNN attributes: the bias as the
// primitive's bias, the residual as a sum post-op (the output buffer starts as the residual,
// reordered into the chosen layout; a copy for channels-last: a binary add post-op reading it in
// place made oneDNN 2.6 leave its brgconv kernels for slower jit ones), ReLU as an eltwise
// post-op after it. One plan per
// convolution, precision (bf16 under autocast, as ConvPlan) and epilogue kind, in a cache of its
// own beside ConvPlan's.
namespace {

// The inference path's weights in the layout its primitive chose, kept between calls: eval-mode
// convolutions run on constant weights (the folded BatchNorm's, recomputed only when a source
// changes), so their reorder (about 11 ms of a 125 ms ResNet-18 eval forward at batch 8, 224 px)
// is done once per weights version. Keyed by the weights' storage version (process-wide, never
// reused: tensor/storage.h), their address and the plan; the least recently used copies go when
// the cache passes kBytes. Thread-safe.
class InferenceWeightCache {
 public:
  static constexpr size_t kBytes = size_t(256) << 20;
  struct Key {
    uint64_t version;
    const void* data;
    const void* plan;
    bool operator==(const Key&) const = default;
  };
  // The cached copy for `key`, or an undefined tensor.
  Tensor find(const Key& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->first == key) {
        entries_.splice(entries_.begin(), entries_, it);  // most recent first
        return it->second;
      }
    return Tensor();
  }
  void insert(const Key& key, const Tensor& copy) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.emplace_front(key, copy);
    bytes_ += static_cast<size_t>(copy.numel());
    while (bytes_ > kBytes && entries_.size() > 1) {
      bytes_ -= static_cast<size_t>(entries_.back().second.numel());
      entries_.pop_back();
    }
  }
  static InferenceWeightCache& instance() {
    static InferenceWeightCache cache;
    return cache;
  }

 private:
  std::mutex mutex_;
  std::list<std::pair<Key, Tensor>> entries_;  // byte buffers (UInt8), most recently used first
  size_t bytes_ = 0;
};

struct InferencePlan {
  Pass pass;  // in0 src, in1 weights, out dst
  memory::desc bias;
  dnnl::reorder residual_in;  // plain dst -> chosen dst, to start the sum post-op from

  InferencePlan(const ConvDims& d, const ConvEpilogue& epilogue) {
    dnnl::post_ops ops;
    if (epilogue.residual.defined()) ops.append_sum(1.0f);
    if (epilogue.relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    dnnl::primitive_attr attr = user_scratchpad();
    attr.set_post_ops(ops);
    const auto prop = dnnl::prop_kind::forward_inference;
    const auto algo = dnnl::algorithm::convolution_direct;
    if (epilogue.bias.defined()) bias = memory::desc({d.dst[1]}, memory::data_type::f32, Tag::x);
    const auto desc = epilogue.bias.defined()
                          ? dnnl::convolution_forward::desc(prop, algo, d.input_act(d.src), d.input_weights(),
                                                            bias, d.output_act(d.dst), d.strides, d.dilates,
                                                            d.padding, d.padding)
                          : dnnl::convolution_forward::desc(prop, algo, d.input_act(d.src), d.input_weights(),
                                                            d.output_act(d.dst), d.strides, d.dilates, d.padding,
                                                            d.padding);
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
    pass = {dnnl::convolution_forward(pd), pd.scratchpad_desc(),
            make_operand(DNNL_ARG_SRC, d.plain_src(), pd.src_desc(), false),
            make_operand(DNNL_ARG_WEIGHTS, d.plain_weights(), pd.weights_desc(), false),
            make_operand(DNNL_ARG_DST, d.plain_dst(), pd.dst_desc(), true)};
    pass.round_inputs = d.round_inputs;
    if (epilogue.residual.defined())  // used when the layouts differ (NCHW); else copy_bytes
      residual_in = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), d.plain_dst(), cpu_engine(),
                                                                pd.dst_desc()));
  }

  // The weights, from the cache when this plan reordered this version of them before.
  void bind_weights(Execution& x, const Tensor& weight) const {
    const bool constant = !weight.storage()->external();  // outside memory may change unseen: no cache
    if (!constant || (pass.in1.direct() && !pass.round_inputs))
      return void(x.input(pass.in1, weight.raw_data(), pass.round_inputs));
    InferenceWeightCache& cache = InferenceWeightCache::instance();
    const InferenceWeightCache::Key key{weight.version(), weight.raw_data(), this};
    if (const Tensor copy = cache.find(key); copy.defined()) return x.prepared_input(pass.in1, copy);
    const Tensor copy = x.input(pass.in1, weight.raw_data(), pass.round_inputs);
    x.s.wait();  // filled before another thread can find it
    cache.insert(key, copy);
  }

  void run(const Tensor& input, const Tensor& weight, const Tensor& out, const ConvEpilogue& epilogue) const {
    Execution x;
    x.input(pass.in0, input.raw_data(), pass.round_inputs);
    bind_weights(x, weight);
    if (epilogue.bias.defined()) x.args.insert({DNNL_ARG_BIAS, memory(bias, x.e, epilogue.bias.raw_data())});
    memory result = x.output(pass.out, out.raw_data());
    if (epilogue.residual.defined() && pass.out.direct()) {  // channels-last: the output's own layout
      copy_bytes(epilogue.residual.raw_data(), out.raw_data(), pass.out.plain.get_size());
    } else if (epilogue.residual.defined()) {
      memory residual(pass.out.plain, x.e, epilogue.residual.raw_data());
      residual_in.execute(x.s, residual, result);
    }
    x.finish(pass);
  }
};

InferencePlan& inference_plan_for(const Tensor& image, const Tensor& weight, const Tensor& out, const Conv2dArgs& a,
                                  const ConvEpilogue& epilogue) {
  static std::mutex mutex;
  static ConvPlanCache<InferencePlan, 5> plans;
  const cpu::Bf16Kernels bf16 = cpu::effective_bf16_kernels();
  const auto key = conv_plan_key(image, weight, a, a.precision, bf16, omp_get_max_threads(), epilogue.kind(),
                                 ConvDims::channels_last(image));
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<InferencePlan>& plan = plans[key];
  if (!plan) plan = std::make_unique<InferencePlan>(ConvDims(image, weight, out, a, bf16), epilogue);
  return *plan;
}

}  // namespace

void onednn_conv2d_forward_fused(const Tensor& input, const Tensor& weight, const Tensor& out, const Conv2dArgs& args,
                                 const ConvEpilogue& epilogue) {
  with_onednn("conv2d_fused", input, weight, [&] {
    inference_plan_for(input, weight, out, args, epilogue).run(input, weight, out, epilogue);
  });
}

// ---- CpuBackend: float32 on oneDNN, float64 on im2col ----
namespace {
// im2col works on row-major tensors: channels-last operands (float64 in a channels-last network)
// go through row-major copies, and the result is copied back into `out`'s layout.
template <typename Fn>
void on_row_major(const Tensor& out, Fn fn) {
  if (out.is_contiguous()) return fn(out);
  const Tensor staged = empty(out.shape(), TensorOptions().dtype(out.dtype()).device(out.device()));
  fn(staged);
  raw::copy_(out, staged);
}
}  // namespace

void CpuBackend::conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& out,
                                const Conv2dArgs& args) {
  if (input.dtype() == DType::Float32) return onednn_conv2d_forward(input, weight, out, args);
  on_row_major(out, [&](const Tensor& o) { im2col_conv2d_forward(raw::contiguous(input), weight, o, args); });
}

void CpuBackend::conv2d_forward_fused(const Tensor& input, const Tensor& weight, const Tensor& out,
                                      const Conv2dArgs& args, const ConvEpilogue& epilogue) {
  if (input.dtype() == DType::Float32) return onednn_conv2d_forward_fused(input, weight, out, args, epilogue);
  ConvEpilogue row_major = epilogue;
  if (row_major.residual.defined()) row_major.residual = raw::contiguous(epilogue.residual);
  on_row_major(out, [&](const Tensor& o) {
    im2col_conv2d_forward_fused(raw::contiguous(input), weight, o, args, row_major);
  });
}

void CpuBackend::conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_input,
                                       const Conv2dArgs& args) {
  if (grad_out.dtype() == DType::Float32) return onednn_conv2d_backward_input(grad_out, weight, grad_input, args);
  on_row_major(grad_input, [&](const Tensor& gi) {
    im2col_conv2d_backward_input(raw::contiguous(grad_out), weight, gi, args);
  });
}

void CpuBackend::conv2d_backward_weight(const Tensor& grad_out, const Tensor& input, const Tensor& grad_weight,
                                        const Conv2dArgs& args) {
  if (grad_out.dtype() == DType::Float32) return onednn_conv2d_backward_weight(grad_out, input, grad_weight, args);
  im2col_conv2d_backward_weight(raw::contiguous(grad_out), raw::contiguous(input), grad_weight, args);
}

}  // namespace sepal::cpu
