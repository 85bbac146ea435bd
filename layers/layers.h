// layers.h: the standard layers (torch.nn equivalents). Each is a Module whose parameters and
// buffers carry torchvision's names (weight, bias, running_mean, running_var,
// num_batches_tracked). Create them with std::make_shared, e.g.
//   auto head = std::make_shared<nn::Sequential>(nn::ModuleList{
//       std::make_shared<nn::Linear>(512, 102), std::make_shared<nn::LogSoftmax>(1)});
#pragma once
#include <array>
#include <memory>
#include <vector>

#include "autograd/nn_functions.h"
#include "layers/module.h"

namespace sepal::nn {

using ModuleList = std::vector<ModulePtr>;

// y = x W^T + b; weight [out, in], bias [out]. PyTorch's default initialisation.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  Tensor weight, bias;  // bias undefined when disabled
  int64_t in_features, out_features;
};

struct Conv2dSpec {
  std::array<int64_t, 2> kernel{3, 3};
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
};

// NCHW convolution; weight [out, in/groups, kh, kw]. PyTorch's default initialisation.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, const Conv2dSpec& spec, Generator* gen = nullptr);
  // Square kernel, stride, padding; no dilation or groups.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
         bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  Tensor weight, bias;
  int64_t in_channels, out_channels;
  Conv2dSpec spec;
};

// Batch normalisation over (N, H, W) per channel: weight 1, bias 0, running_mean 0, running_var 1,
// num_batches_tracked 0; momentum 0.1 and eps 1e-5 as PyTorch.
class BatchNorm2d;
// Training-mode batch statistics computed across processes (SyncBatchNorm): when a BatchNorm2d
// has one, its training forward is sync->forward(*this, input) (which also updates the running
// statistics). dist::convert_sync_batch_norm installs them.
class BatchNormSync {
 public:
  virtual ~BatchNormSync() = default;
  virtual Tensor forward(BatchNorm2d& bn, const Tensor& input) = 0;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& input) override;
  // relu(forward(input)) in one pass (batch_norm_relu); conv_bn_act uses it in training mode.
  Tensor forward_relu(const Tensor& input);
  std::string extra_repr() const override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  int64_t num_features;
  double eps, momentum;
  std::shared_ptr<BatchNormSync> sync;  // null: statistics of the local batch

 private:
  Tensor run(const Tensor& input, bool relu);
};

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& input) override { return input.relu(); }
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0, int64_t dilation = 1,
                     bool ceil_mode = false);
  Tensor forward(const Tensor& input) override { return max_pool2d(input, options); }
  std::string extra_repr() const override;
  MaxPool2dOptions options;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::array<int64_t, 2> output_size) : Module("AdaptiveAvgPool2d"), output_size(output_size) {}
  Tensor forward(const Tensor& input) override { return adaptive_avg_pool2d(input, output_size); }
  std::string extra_repr() const override;
  std::array<int64_t, 2> output_size;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  Tensor forward(const Tensor& input) override { return dropout(input, p, is_training(), gen_); }
  std::string extra_repr() const override;
  double p;

 private:
  Generator* gen_;
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : Module("Flatten"), start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& input) override { return input.flatten(start_dim, end_dim); }
  int64_t start_dim, end_dim;
};

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& input) override { return input; }
};

class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim) : Module("LogSoftmax"), dim(dim) {}
  Tensor forward(const Tensor& input) override { return log_softmax(input, dim); }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim); }
  int64_t dim;
};

class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim) : Module("Softmax"), dim(dim) {}
  Tensor forward(const Tensor& input) override { return softmax(input, dim); }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim); }
  int64_t dim;
};

// Applies its children in order; they are named "0", "1", ... (so a Linear inside a Sequential
// head registered as "fc" has the keys fc.0.weight and fc.0.bias).
class Sequential : public Module {
 public:
  explicit Sequential(const ModuleList& modules = {});
  void push_back(ModulePtr module);
  Tensor forward(const Tensor& input) override;
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const { return named_children().at(i).second; }
};

}  // namespace sepal::nn
