// op_cases.h: the one table of op cases (ggml's test-backend-ops model). Each case names an op,
// the shapes and value domain of its inputs and a function applying it; the same table drives
// the float64 gradient checks (tests/autograd), the CUDA-versus-CPU checks (tests/cuda) and can
// drive benchmarks. The elementwise rows come from the op lists of tensor/kernels/elementwise_ops.h
// (a new op there is checked here with no edit); any other differentiable op gets a row here.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <sepal.h>

#include "autograd/nn_functions.h"

namespace sepal::testing {

enum class Domain { Any, Positive, AwayFromZero };  // input values: N(0,1), in [0.5, 2], |x| in [0.5, 2]

struct InputSpec {
  Shape shape;
  Domain domain = Domain::Any;
  bool transposed = false;  // build as the transpose of a contiguous tensor (non-contiguous input)
};

struct OpCase {
  std::string name;
  std::vector<InputSpec> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  bool differentiable = true;
};

// Deterministic inputs for a case on `device` in `dtype`, generated on the CPU in float64 so
// every device and dtype sees the same values.
inline std::vector<Tensor> make_inputs(const OpCase& c, DType dtype, Device device, uint64_t seed = 1234) {
  Generator gen(seed);
  std::vector<Tensor> out;
  for (const InputSpec& spec : c.inputs) {
    Shape shape = spec.shape;
    if (spec.transposed && shape.size() >= 2) std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
    Tensor x;
    switch (spec.domain) {
      case Domain::Any: x = randn(shape, DType::Float64, &gen); break;
      case Domain::Positive: x = uniform(shape, 0.5, 2.0, DType::Float64, &gen); break;
      case Domain::AwayFromZero: {
        Tensor mag = uniform(shape, 0.5, 2.0, DType::Float64, &gen);
        Tensor sign = where(lt(rand(shape, DType::Float64, &gen), 0.5), full({}, -1.0, DType::Float64),
                            full({}, 1.0, DType::Float64));
        x = mag * sign;
        break;
      }
    }
    x = raw::to_device(raw::cast(x, dtype), device);
    if (spec.transposed && shape.size() >= 2) x = raw::transpose(x, -1, -2);
    out.push_back(x);
  }
  return out;
}

// conv2d geometries, shared by the op table below and the oneDNN-versus-im2col test
// (tests/autograd/conv_test.cpp). input [N, C, H, W], weight [K, C/groups, R, S], bias [K].
struct ConvCase {
  std::string name;
  Shape input, weight;
  bool bias;
  Conv2dOptions options;  // stride, padding, dilation, groups
  bool transposed = false;  // input and weight as non-contiguous (transposed) views
};

inline std::vector<ConvCase> conv_cases() {
  return {
      {"3x3_bias", {2, 3, 6, 6}, {4, 3, 3, 3}, true, {}},
      {"stride2_pad1", {2, 3, 7, 7}, {4, 3, 3, 3}, true, {{2, 2}, {1, 1}}},
      {"dilation2", {1, 2, 7, 7}, {3, 2, 3, 3}, true, {{1, 1}, {2, 2}, {2, 2}}},
      {"groups2", {2, 4, 5, 5}, {6, 2, 3, 3}, true, {{1, 1}, {1, 1}, {1, 1}, 2}},
      {"depthwise", {2, 3, 5, 5}, {3, 1, 3, 3}, true, {{1, 1}, {1, 1}, {1, 1}, 3}},
      {"1x1", {2, 5, 4, 4}, {3, 5, 1, 1}, true, {}},
      {"1x1_stride2", {2, 4, 5, 5}, {6, 4, 1, 1}, false, {{2, 2}}},
      {"rect", {1, 2, 6, 7}, {3, 2, 2, 3}, true, {{2, 1}, {1, 0}, {1, 2}}},
      {"no_bias", {2, 3, 5, 5}, {2, 3, 3, 3}, false, {{1, 1}, {1, 1}}},
      {"odd", {2, 3, 7, 5}, {4, 3, 3, 2}, true, {{2, 2}, {1, 1}}},
      {"7x7_stride2_pad3", {1, 3, 9, 9}, {2, 3, 7, 7}, false, {{2, 2}, {3, 3}}},
      {"noncontiguous", {2, 3, 5, 6}, {2, 3, 3, 3}, false, {{1, 1}, {1, 1}}, true},
  };
}

// Every differentiable op, with broadcasting, non-contiguous and edge-case shapes.
inline std::vector<OpCase> op_cases() {
  using V = const std::vector<Tensor>&;
  std::vector<OpCase> cases;
  auto unary = [&](const std::string& name, Domain d, std::function<Tensor(const Tensor&)> f) {
    cases.push_back({name, {{{3, 5}, d}}, [f](V in) { return f(in[0]); }});
    cases.push_back({name + "_transposed", {{{4, 3}, d, true}}, [f](V in) { return f(in[0]); }});
  };
  // every op of the lists in tensor/kernels/elementwise_ops.h (x.name() calls sepal::name(x))
#define SEPAL_UNARY_CASE(Functor, name, domain) \
  unary(#name, Domain::domain, [](const Tensor& x) { return x.name(); });
  SEPAL_MATH_UNARY_OPS(SEPAL_UNARY_CASE)
#undef SEPAL_UNARY_CASE
  unary("neg_operator", Domain::Any, [](const Tensor& x) { return -x; });
  unary("add_scalar", Domain::Any, [](const Tensor& x) { return x + 2.5; });
  unary("rsub_scalar", Domain::Any, [](const Tensor& x) { return 2.5 - x; });
  unary("mul_scalar", Domain::Any, [](const Tensor& x) { return x * -1.5; });
  unary("div_scalar", Domain::Any, [](const Tensor& x) { return x / 4.0; });
  unary("rdiv_scalar", Domain::AwayFromZero, [](const Tensor& x) { return 3.0 / x; });
  unary("pow", Domain::Positive, [](const Tensor& x) { return x.pow(2.5); });
  unary("clamp", Domain::AwayFromZero, [](const Tensor& x) { return x.clamp(-1.0, 1.0); });

  auto binary = [&](const std::string& name, Domain db, std::function<Tensor(const Tensor&, const Tensor&)> f) {
    cases.push_back({name, {{{3, 4}}, {{3, 4}, db}}, [f](V in) { return f(in[0], in[1]); }});
    cases.push_back({name + "_broadcast", {{{2, 3, 4}}, {{3, 1}, db}}, [f](V in) { return f(in[0], in[1]); }});
    cases.push_back({name + "_broadcast_both", {{{4, 1}}, {{1, 5}, db}}, [f](V in) { return f(in[0], in[1]); }});
    cases.push_back({name + "_transposed", {{{3, 4}, Domain::Any, true}, {{3, 4}, db}},
                     [f](V in) { return f(in[0], in[1]); }});
  };
#define SEPAL_BINARY_CASE(Functor, name, domain_b) \
  binary(#name, Domain::domain_b, [](const Tensor& a, const Tensor& b) { return sepal::name(a, b); });
  SEPAL_BINARY_OPS(SEPAL_BINARY_CASE)
#undef SEPAL_BINARY_CASE
  binary("add_operator", Domain::Any, [](const Tensor& a, const Tensor& b) { return a + b; });
  binary("sub_operator", Domain::Any, [](const Tensor& a, const Tensor& b) { return a - b; });
  binary("mul_operator", Domain::Any, [](const Tensor& a, const Tensor& b) { return a * b; });
  binary("div_operator", Domain::AwayFromZero, [](const Tensor& a, const Tensor& b) { return a / b; });
  cases.push_back({"where", {{{3, 4}}, {{3, 4}}, {{1, 4}}},
                   [](V in) { return where(gt(in[0], 0.0), in[1], in[2]); }});

  auto reduction = [&](const std::string& name, std::function<Tensor(const Tensor&)> f, Shape shape = {3, 4, 5}) {
    cases.push_back({name, {{shape}}, [f](V in) { return f(in[0]); }});
  };
  reduction("sum_all", [](const Tensor& x) { return x.sum(); });
  reduction("sum_dim0", [](const Tensor& x) { return x.sum({0}); });
  reduction("sum_dims_keepdim", [](const Tensor& x) { return x.sum({0, 2}, true); });
  reduction("sum_negative_dim", [](const Tensor& x) { return x.sum({-1}); });
  reduction("mean_all", [](const Tensor& x) { return x.mean(); });
  reduction("mean_dim1", [](const Tensor& x) { return x.mean({1}); });
  reduction("mean_dims_keepdim", [](const Tensor& x) { return x.mean({1, 2}, true); });
  reduction("amax_all", [](const Tensor& x) { return x.max(); });
  reduction("amax_dim1", [](const Tensor& x) { return x.max({1}); });
  reduction("amin_dim2_keepdim", [](const Tensor& x) { return x.min({2}, true); });
  reduction("sum_size1_dims", [](const Tensor& x) { return x.sum({1}); }, {4, 1, 3});
  cases.push_back({"sum_transposed", {{{5, 4}, Domain::Any, true}}, [](V in) { return in[0].sum({0}); }});

  cases.push_back({"matmul", {{{3, 4}}, {{4, 5}}}, [](V in) { return matmul(in[0], in[1]); }});
  cases.push_back({"matmul_transposed", {{{3, 4}, Domain::Any, true}, {{4, 5}, Domain::Any, true}},
                   [](V in) { return matmul(in[0], in[1]); }});
  cases.push_back({"matmul_batched", {{{2, 3, 4}}, {{2, 4, 2}}}, [](V in) { return matmul(in[0], in[1]); }});
  cases.push_back({"matmul_broadcast_rhs", {{{2, 3, 4}}, {{4, 2}}}, [](V in) { return matmul(in[0], in[1]); }});
  cases.push_back({"matmul_broadcast_lhs", {{{3, 4}}, {{2, 4, 2}}}, [](V in) { return matmul(in[0], in[1]); }});
  cases.push_back({"matmul_vector_like", {{{1, 4}}, {{4, 1}}}, [](V in) { return matmul(in[0], in[1]); }});

  cases.push_back({"reshape", {{{2, 6}}}, [](V in) { return in[0].reshape({3, -1}) * 2.0; }});
  cases.push_back({"reshape_noncontiguous", {{{4, 3}, Domain::Any, true}}, [](V in) { return in[0].reshape({12}); }});
  cases.push_back({"view", {{{2, 6}}}, [](V in) { return in[0].view({4, 3}) * 2.0; }});
  cases.push_back({"permute", {{{2, 3, 4}}}, [](V in) { return in[0].permute({2, 0, 1}) * 2.0; }});
  cases.push_back({"transpose", {{{2, 3, 4}}}, [](V in) { return in[0].transpose(0, 2) * 2.0; }});
  cases.push_back({"narrow", {{{5, 4}}}, [](V in) { return in[0].narrow(0, 1, 3) * 2.0; }});
  cases.push_back({"select", {{{5, 4}}}, [](V in) { return in[0].select(1, -1) * 2.0; }});
  cases.push_back({"expand", {{{3, 1}}}, [](V in) { return in[0].expand({2, 3, 4}) * 2.0; }});
  cases.push_back({"squeeze_unsqueeze", {{{3, 1, 4}}}, [](V in) { return in[0].squeeze(1).unsqueeze(0) * 2.0; }});
  cases.push_back({"flatten", {{{2, 3, 4}}}, [](V in) { return in[0].flatten(1) * 2.0; }});
  cases.push_back({"contiguous", {{{4, 3}, Domain::Any, true}}, [](V in) { return in[0].contiguous() * 2.0; }});
  cases.push_back({"clone", {{{4, 3}}}, [](V in) { return in[0].clone() * 2.0; }});
  // a composite: log_softmax built from exp/sum/log, as the layers will use
  cases.push_back({"log_softmax_composite", {{{3, 5}}}, [](V in) {
                     Tensor shifted = in[0] - in[0].max({1}, true);
                     return shifted - shifted.exp().sum({1}, true).log();
                   }});

  for (const ConvCase& c : conv_cases()) {
    std::vector<InputSpec> in{{c.input, Domain::Any, c.transposed}, {c.weight, Domain::Any, c.transposed}};
    if (c.bias) in.push_back({{c.weight[0]}});
    const Conv2dOptions o = c.options;
    cases.push_back({"conv2d_" + c.name, in, [o](V t) { return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), o); }});
  }
  // batch_norm: running statistics are buffers, built inside the case on the input's device (the
  // training cases update them in place on every call, which must not change the output)
  auto stats = [](const Tensor& x, std::vector<double> values) {
    const int64_t n = static_cast<int64_t>(values.size());
    return from_vector(values, {n}, TensorOptions().dtype(x.dtype()).device(x.device()));
  };
  cases.push_back({"batch_norm_train_4d", {{{4, 3, 5, 5}}, {{3}}, {{3}}}, [stats](V in) {
                     return batch_norm(in[0], stats(in[0], {0.5, -1, 2}), stats(in[0], {1, 2, 0.5}), in[1], in[2], true);
                   }});
  // planes of 32 elements or more take the CPU backend's plane-by-plane path, smaller ones its
  // channel-range path (tensor/cpu/norm.cpp): both covered
  cases.push_back({"batch_norm_train_4d_large_planes", {{{2, 3, 6, 6}}, {{3}}, {{3}}}, [stats](V in) {
                     return batch_norm(in[0], stats(in[0], {0.5, -1, 2}), stats(in[0], {1, 2, 0.5}), in[1], in[2], true);
                   }});
  cases.push_back({"batch_norm_train_2d", {{{6, 4}}, {{4}}, {{4}}}, [stats](V in) {
                     return batch_norm(in[0], stats(in[0], {0, 0, 0, 0}), stats(in[0], {1, 1, 1, 1}), in[1], in[2], true);
                   }});
  cases.push_back({"batch_norm_train_no_affine_noncontiguous", {{{3, 2, 4, 5}, Domain::Any, true}},
                   [](V in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); }});
  cases.push_back({"batch_norm_eval", {{{4, 3, 5, 5}}, {{3}}, {{3}}}, [stats](V in) {
                     return batch_norm(in[0], stats(in[0], {0.5, -1, 2}), stats(in[0], {1, 2, 0.5}), in[1], in[2], false);
                   }});
  // BatchNorm+ReLU in one pass (the training-mode pair of a ResNet block), both CPU paths and eval
  cases.push_back({"batch_norm_relu_train_4d", {{{4, 3, 5, 5}}, {{3}}, {{3}}}, [stats](V in) {
                     return batch_norm_relu(in[0], stats(in[0], {0.5, -1, 2}), stats(in[0], {1, 2, 0.5}), in[1], in[2], true);
                   }});
  cases.push_back({"batch_norm_relu_train_4d_large_planes", {{{2, 3, 6, 6}}, {{3}}, {{3}}}, [stats](V in) {
                     return batch_norm_relu(in[0], Tensor(), Tensor(), in[1], in[2], true);
                   }});
  cases.push_back({"batch_norm_relu_eval", {{{4, 3, 5, 5}}, {{3}}, {{3}}}, [stats](V in) {
                     return batch_norm_relu(in[0], stats(in[0], {0.5, -1, 2}), stats(in[0], {1, 2, 0.5}), in[1], in[2], false);
                   }});
  cases.push_back({"batch_norm_eval_no_affine", {{{3, 4}}}, [stats](V in) {
                     return batch_norm(in[0], stats(in[0], {0.1, 0.2, -0.3, 0.4}), stats(in[0], {1.5, 0.7, 1, 2}),
                                       Tensor(), Tensor(), false);
                   }});

  auto max_pool = [&](const std::string& name, InputSpec in, MaxPool2dOptions o) {
    cases.push_back({"max_pool2d_" + name, {in}, [o](V t) { return max_pool2d(t[0], o); }});
  };
  max_pool("3x3_stride2_pad1_stem", {{2, 3, 9, 9}}, {{3, 3}, {2, 2}, {1, 1}});
  max_pool("2x2_default_stride", {{2, 2, 6, 8}}, {{2, 2}});
  max_pool("ceil_mode_odd", {{2, 2, 7, 5}}, {{2, 2}, {2, 2}, {0, 0}, {1, 1}, true});
  max_pool("ceil_mode_pad", {{1, 2, 8, 6}}, {{3, 3}, {2, 2}, {1, 1}, {1, 1}, true});
  max_pool("dilation2", {{2, 2, 9, 9}}, {{3, 3}, {1, 1}, {1, 1}, {2, 2}});
  max_pool("rect_noncontiguous", {{2, 3, 6, 7}, Domain::Any, true}, {{3, 2}, {2, 1}, {1, 0}});
  max_pool("chw", {{3, 6, 6}}, {{3, 3}, {2, 2}, {1, 1}});

  auto adaptive = [&](const std::string& name, Shape in, std::array<int64_t, 2> size) {
    cases.push_back({"adaptive_avg_pool2d_" + name, {{in}}, [size](V t) { return adaptive_avg_pool2d(t[0], size); }});
  };
  adaptive("1x1", {2, 3, 5, 5}, {1, 1});
  adaptive("3x2_uneven", {2, 3, 7, 5}, {3, 2});
  adaptive("upsample_overlapping", {1, 2, 3, 4}, {5, 6});
  // the nn composites (autograd/nn_composites.cpp); targets are fixed int64 class indices
  auto targets = [](const Tensor& like) {
    return from_vector<int64_t>({2, 0, 4}, {3}, TensorOptions().dtype(DType::Int64).device(like.device()));
  };
  cases.push_back({"linear", {{{4, 3}}, {{2, 3}}, {{2}}}, [](V in) { return linear(in[0], in[1], in[2]); }});
  cases.push_back({"linear_3d_no_bias", {{{2, 4, 3}}, {{2, 3}}}, [](V in) { return linear(in[0], in[1]); }});
  cases.push_back({"log_softmax_dim0", {{{3, 5}}}, [](V in) { return log_softmax(in[0], 0); }});
  cases.push_back({"softmax", {{{3, 5}}}, [](V in) { return softmax(in[0], 1); }});
  cases.push_back({"nll_loss_sum", {{{3, 5}}}, [targets](V in) {
                     return nll_loss(log_softmax(in[0], 1), targets(in[0]), Reduction::Sum);
                   }});
  cases.push_back({"cross_entropy_mean", {{{3, 5}}}, [targets](V in) { return cross_entropy(in[0], targets(in[0])); }});
  cases.push_back({"cross_entropy_none", {{{3, 5}}}, [targets](V in) {
                     return cross_entropy(in[0], targets(in[0]), Reduction::None);
                   }});
  return cases;
}

}  // namespace sepal::testing
