// layers.cpp: constructors (parameters, buffers, initialisation) and forward passes of layers.h.
#include "layers/layers.h"

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "layers/init.h"
#include "tensor/error.h"
#include "tensor/raw.h"

namespace sepal::nn {

namespace {
std::string pair_str(const std::array<int64_t, 2>& v) {
  std::string s = "(";  // built by appending: GCC 12 warns falsely (-Wrestrict) on "(" + std::string
  s += std::to_string(v[0]) + ", " + std::to_string(v[1]) + ")";
  return s;
}
void check_positive(int64_t v, const char* what, const char* layer) {
  if (v <= 0) throw Error(std::string(layer) + ": " + what + " must be positive, got " + std::to_string(v));
}
}  // namespace

// ---- Linear ----
Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator* gen)
    : Module("Linear"), in_features(in), out_features(out) {
  check_positive(in, "in_features", "Linear");
  check_positive(out, "out_features", "Linear");
  weight = register_parameter("weight", empty({out, in}));
  init::default_weight_(weight, gen);
  if (with_bias) {
    bias = register_parameter("bias", empty({out}));
    init::default_bias_(bias, weight, gen);
  }
}
Tensor Linear::forward(const Tensor& input) { return linear(input, weight, bias); }
std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + (bias.defined() ? "True" : "False");
}

// ---- Conv2d ----
Conv2d::Conv2d(int64_t in, int64_t out, const Conv2dSpec& s, Generator* gen)
    : Module("Conv2d"), in_channels(in), out_channels(out), spec(s) {
  check_positive(in, "in_channels", "Conv2d");
  check_positive(out, "out_channels", "Conv2d");
  check_positive(s.groups, "groups", "Conv2d");
  if (in % s.groups || out % s.groups)
    throw Error("Conv2d: in_channels " + std::to_string(in) + " and out_channels " + std::to_string(out) +
                " must be divisible by groups " + std::to_string(s.groups));
  weight = register_parameter("weight", empty({out, in / s.groups, s.kernel[0], s.kernel[1]}));
  init::default_weight_(weight, gen);
  if (s.bias) {
    bias = register_parameter("bias", empty({out}));
    init::default_bias_(bias, weight, gen);
  }
}
Conv2d::Conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool with_bias, Generator* gen)
    : Conv2d(in, out, Conv2dSpec{{kernel, kernel}, {stride, stride}, {padding, padding}, {1, 1}, 1, with_bias}, gen) {}
Tensor Conv2d::forward(const Tensor& input) {
  return conv2d(input, weight, bias, Conv2dOptions{spec.stride, spec.padding, spec.dilation, spec.groups});
}
std::string Conv2d::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) + ", kernel_size=" +
                  pair_str(spec.kernel) + ", stride=" + pair_str(spec.stride);
  if (spec.padding != std::array<int64_t, 2>{0, 0}) s += ", padding=" + pair_str(spec.padding);
  if (spec.dilation != std::array<int64_t, 2>{1, 1}) s += ", dilation=" + pair_str(spec.dilation);
  if (spec.groups != 1) s += ", groups=" + std::to_string(spec.groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

// ---- BatchNorm2d ----
BatchNorm2d::BatchNorm2d(int64_t n, double eps, double momentum)
    : Module("BatchNorm2d"), num_features(n), eps(eps), momentum(momentum) {
  check_positive(n, "num_features", "BatchNorm2d");
  weight = register_parameter("weight", ones({n}));
  bias = register_parameter("bias", zeros({n}));
  running_mean = register_buffer("running_mean", zeros({n}));
  running_var = register_buffer("running_var", ones({n}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::Int64));
}
Tensor BatchNorm2d::forward(const Tensor& input) { return run(input, false); }
Tensor BatchNorm2d::forward_relu(const Tensor& input) { return run(input, true); }
Tensor BatchNorm2d::run(const Tensor& input, bool relu) {
  if (is_training()) {
    NoGradGuard no_grad;
    raw::binary_(BinaryOp::Add, num_batches_tracked, raw::scalar_like(num_batches_tracked, 1.0));
  }
  if (is_training() && sync) {
    const Tensor y = sync->forward(*this, input);
    return relu ? y.relu() : y;
  }
  return relu ? batch_norm_relu(input, running_mean, running_var, weight, bias, is_training(), momentum, eps)
              : batch_norm(input, running_mean, running_var, weight, bias, is_training(), momentum, eps);
}
std::string BatchNorm2d::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + std::to_string(eps) + ", momentum=" + std::to_string(momentum);
}

// ---- pooling, dropout ----
MaxPool2d::MaxPool2d(int64_t kernel, int64_t stride, int64_t padding, int64_t dilation, bool ceil_mode)
    : Module("MaxPool2d") {
  options = MaxPool2dOptions{{kernel, kernel}, {stride, stride}, {padding, padding}, {dilation, dilation}, ceil_mode};
}
std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + std::to_string(options.kernel[0]) + ", stride=" +
         std::to_string(options.stride[0] ? options.stride[0] : options.kernel[0]) +
         ", padding=" + std::to_string(options.padding[0]);
}
std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + pair_str(output_size); }

Dropout::Dropout(double p, Generator* gen) : Module("Dropout"), p(p), gen_(gen) {
  if (!(p >= 0.0 && p <= 1.0)) throw Error("Dropout: p must be in [0, 1], got " + std::to_string(p));
}
std::string Dropout::extra_repr() const { return "p=" + std::to_string(p); }

// ---- Sequential ----
Sequential::Sequential(const ModuleList& modules) : Module("Sequential") {
  for (const auto& m : modules) push_back(m);
}
void Sequential::push_back(ModulePtr module) { register_module(std::to_string(size()), std::move(module)); }
Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& [name, m] : named_children()) x = (*m)(x);
  return x;
}

}  // namespace sepal::nn
