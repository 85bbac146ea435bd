// channels_last_resnet_test.cpp: a ResNet-18 with channels-last activations (nn::set_channels_last,
// on by default) computes what the all-NCHW network computes: the logits, the loss, every
// parameter's gradient and the BatchNorm running statistics of a training step, and the logits
// of the folded eval forward, in float32 (oneDNN nhwc against blocked convolutions) and float64.
#include <gtest/gtest.h>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "layers/loss.h"
#include "layers/resnet.h"
#include "common/scaled_error.h"

namespace sepal::testing {
namespace {

struct Step {
  Tensor logits, loss;
  nn::NamedTensors grads, buffers;
};

// One training step's results, and the eval logits after it, with the switch as given.
std::pair<Step, Tensor> run(bool channels_last, DType dtype) {
  nn::set_channels_last(channels_last);
  Generator gen(3);
  auto model = nn::resnet18(10, &gen);
  model->to(dtype);
  const Tensor images = randn({2, 3, 48, 40}, TensorOptions().dtype(dtype), &gen);
  const Tensor labels = arange(2, DType::Int64);
  Step s;
  model->train();
  s.logits = log_softmax((*model)(images), 1);
  s.loss = nn::NLLLoss()(s.logits, labels);
  s.loss.backward();
  for (auto& [name, p] : model->named_parameters()) s.grads.push_back({name, p.grad()});
  s.buffers = model->named_buffers();
  model->eval();
  NoGradGuard no_grad;
  const Tensor eval_logits = (*model)(images);
  nn::set_channels_last(true);
  return {s, eval_logits};
}

TEST(ChannelsLastResNet, TrainingStepAndEvalMatchNchw) {
  EXPECT_TRUE(nn::channels_last());  // the default
  for (const DType dtype : {DType::Float32, DType::Float64}) {
    const double tol = dtype == DType::Float32 ? 1e-4 : 1e-10;
    const auto [cl, cl_eval] = run(true, dtype);
    const auto [nchw, nchw_eval] = run(false, dtype);
    EXPECT_LE(scaled_error(cl.logits, nchw.logits), tol) << dtype_name(dtype);
    EXPECT_LE(scaled_error(cl.loss, nchw.loss), tol);
    EXPECT_LE(scaled_error(cl_eval, nchw_eval), tol);
    ASSERT_EQ(cl.grads.size(), nchw.grads.size());
    for (size_t i = 0; i < cl.grads.size(); ++i) {
      ASSERT_TRUE(cl.grads[i].second.defined()) << cl.grads[i].first;
      EXPECT_TRUE(cl.grads[i].second.is_contiguous()) << cl.grads[i].first << ": parameter gradients stay row-major";
      EXPECT_LE(scaled_error(cl.grads[i].second, nchw.grads[i].second), tol) << cl.grads[i].first << " " << dtype_name(dtype);
    }
    for (size_t i = 0; i < cl.buffers.size(); ++i)
      EXPECT_LE(scaled_error(cl.buffers[i].second, nchw.buffers[i].second), tol) << cl.buffers[i].first;
  }
}

}  // namespace
}  // namespace sepal::testing
