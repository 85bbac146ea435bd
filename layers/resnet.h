// resnet.h: ResNet-18, 34 and 50 exactly as torchvision builds them (v1.5: in a Bottleneck the
// stride sits on the 3x3 convolution): the stem conv1 7x7/2, bn1, relu, maxpool 3x3/2, layer1..4
// of BasicBlocks or Bottlenecks (a downsample 1x1 conv + BatchNorm on the first block of layers
// 2-4 and wherever the shape changes), avgpool to 1x1, fc. Same state_dict keys
// ("layer2.0.downsample.0.weight"), same initialisation (kaiming normal, fan_out, for
// convolutions; BatchNorm weight 1, bias 0; Linear's default for fc).
// forward() calls its children through members bound at registration, which replace_module
// repoints (module.h), so a swapped head or block part is used at once; nothing is looked up by name.
#pragma once
#include <array>
#include <memory>
#include <string>

#include "layers/conv_bn.h"
#include "layers/layers.h"

namespace sepal::nn {

// Channels-last activations (issue 15 item 2), a process-wide switch, on by default. On, a ResNet
// converts its [N, 3, H, W] input to MemoryFormat::ChannelsLast where the device's kernels take it
// (the CPU; Backend::takes_channels_last), and every layer after it keeps that layout: oneDNN's
// convolutions read and write it without reordering, BatchNorm, ReLU, the residual add, pooling
// and all their gradients work on it directly. The public layout stays NCHW (the shape, indexing,
// the logits); only the strides of the activations in between change. Off, everything is NCHW.
void set_channels_last(bool enabled);
bool channels_last();

// What BasicBlock and Bottleneck share: the children both have and the residual branch. Each
// conv + BatchNorm pair runs through conv_bn_act (layers/conv_bn.h), which folds and fuses them in
// eval mode; the fold_* members cache the folded weights of each pair.
class ResidualBlock : public Module {
 protected:
  using Module::Module;
  // downsample(x), or x when the block has no downsample.
  Tensor identity(const Tensor& x);
  ModulePtr conv1_, bn1_, conv2_, bn2_, relu_;
  ModulePtr downsample_;  // null when the block has none
  ConvBnFold fold1_, fold2_, fold3_, fold_downsample_;
};

class BasicBlock : public ResidualBlock {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, ModulePtr downsample, Generator* gen = nullptr);
  Tensor forward(const Tensor& input) override;
};

class Bottleneck : public ResidualBlock {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, ModulePtr downsample, Generator* gen = nullptr);
  Tensor forward(const Tensor& input) override;

 private:
  ModulePtr conv3_, bn3_;
};

enum class BlockKind { Basic, Bottleneck };

class ResNet : public Module {
 public:
  ResNet(BlockKind block, std::array<int64_t, 4> layers, int64_t num_classes = 1000, Generator* gen = nullptr);
  Tensor forward(const Tensor& input) override;
  // The 512 * expansion features before fc (the backbone's output), [N, F].
  Tensor features(const Tensor& input);
  int64_t feature_dim() const { return feature_dim_; }

 private:
  int64_t feature_dim_;
  ModulePtr conv1_, bn1_, relu_, maxpool_, avgpool_, fc_;
  ConvBnFold fold1_;  // the stem's conv1 + bn1
  std::array<ModulePtr, 4> layers_;  // layer1..layer4
};

// "resnet18", "resnet34" or "resnet50"; throws listing the known names otherwise.
std::shared_ptr<ResNet> resnet(const std::string& arch, int64_t num_classes = 1000, Generator* gen = nullptr);
std::shared_ptr<ResNet> resnet18(int64_t num_classes = 1000, Generator* gen = nullptr);
std::shared_ptr<ResNet> resnet34(int64_t num_classes = 1000, Generator* gen = nullptr);
std::shared_ptr<ResNet> resnet50(int64_t num_classes = 1000, Generator* gen = nullptr);

}  // namespace sepal::nn
