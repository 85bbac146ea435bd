// resnet.cpp: torchvision's ResNet family (see resnet.h). Every child is registered with the
// member that forward() calls it through, so a head swapped with replace_module("fc", ...) is
// used at once; children are called as (*child)(x), which books their work under their name in a
// profile (tensor/profiler.h). Every conv + BatchNorm (+ residual) + ReLU runs through conv_bn_act
// (layers/conv_bn.h), which folds BatchNorm into the convolution in eval mode.
#include "layers/resnet.h"

#include <atomic>

#include "autograd/functions.h"
#include "layers/init.h"
#include "tensor/backend.h"
#include "tensor/error.h"

namespace sepal::nn {

namespace {
std::atomic<bool> channels_last_enabled{true};
}  // namespace

void set_channels_last(bool enabled) { channels_last_enabled = enabled; }
bool channels_last() { return channels_last_enabled; }

namespace {
std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, Generator* gen) {
  // torchvision: 3x3 convs pad 1, 1x1 pad 0, 7x7 stem pad 3; never a bias before BatchNorm
  return std::make_shared<Conv2d>(in, out, kernel, stride, kernel / 2, /*bias=*/false, gen);
}
}  // namespace

Tensor ResidualBlock::identity(const Tensor& x) {
  if (!downsample_) return x;
  // torchvision's downsample, Sequential(conv 1x1, BatchNorm), is a conv_bn_act unit too
  if (auto* seq = dynamic_cast<Sequential*>(downsample_.get()); seq && seq->size() == 2) {
    const profile::Scope scope(seq->scope_name());  // as (*downsample_)(x) would open
    return conv_bn_act((*seq)[0], (*seq)[1], fold_downsample_, x, nullptr);
  }
  return (*downsample_)(x);
}

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, ModulePtr downsample, Generator* gen)
    : ResidualBlock("BasicBlock") {
  register_module("conv1", conv(inplanes, planes, 3, stride, gen), &conv1_);
  register_module("bn1", std::make_shared<BatchNorm2d>(planes), &bn1_);
  register_module("relu", std::make_shared<ReLU>(), &relu_);
  register_module("conv2", conv(planes, planes, 3, 1, gen), &conv2_);
  register_module("bn2", std::make_shared<BatchNorm2d>(planes), &bn2_);
  if (downsample) register_module("downsample", downsample, &downsample_);
}

Tensor BasicBlock::forward(const Tensor& x) {
  // relu(bn1(conv1(x))), then relu(bn2(conv2(.)) + identity(x))
  const Tensor out = conv_bn_act(conv1_, bn1_, fold1_, x, relu_);
  return conv_bn_act(conv2_, bn2_, fold2_, out, relu_, identity(x));
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, ModulePtr downsample, Generator* gen)
    : ResidualBlock("Bottleneck") {
  register_module("conv1", conv(inplanes, planes, 1, 1, gen), &conv1_);
  register_module("bn1", std::make_shared<BatchNorm2d>(planes), &bn1_);
  register_module("conv2", conv(planes, planes, 3, stride, gen), &conv2_);
  register_module("bn2", std::make_shared<BatchNorm2d>(planes), &bn2_);
  register_module("conv3", conv(planes, planes * expansion, 1, 1, gen), &conv3_);
  register_module("bn3", std::make_shared<BatchNorm2d>(planes * expansion), &bn3_);
  register_module("relu", std::make_shared<ReLU>(), &relu_);
  if (downsample) register_module("downsample", downsample, &downsample_);
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = conv_bn_act(conv1_, bn1_, fold1_, x, relu_);
  out = conv_bn_act(conv2_, bn2_, fold2_, out, relu_);
  return conv_bn_act(conv3_, bn3_, fold3_, out, relu_, identity(x));
}

ResNet::ResNet(BlockKind block, std::array<int64_t, 4> layers, int64_t num_classes, Generator* gen)
    : Module("ResNet") {
  if (num_classes <= 0) throw Error("ResNet: num_classes must be positive, got " + std::to_string(num_classes));
  const int64_t expansion = block == BlockKind::Basic ? BasicBlock::expansion : Bottleneck::expansion;
  register_module("conv1", conv(3, 64, 7, 2, gen), &conv1_);
  register_module("bn1", std::make_shared<BatchNorm2d>(64), &bn1_);
  register_module("relu", std::make_shared<ReLU>(), &relu_);
  register_module("maxpool", std::make_shared<MaxPool2d>(3, 2, 1), &maxpool_);
  int64_t inplanes = 64;
  const int64_t planes_of[4] = {64, 128, 256, 512};
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = planes_of[stage], stride = stage == 0 ? 1 : 2;
    auto layer = std::make_shared<Sequential>();
    for (int64_t b = 0; b < layers[stage]; ++b) {
      const int64_t s = b == 0 ? stride : 1;
      ModulePtr downsample;
      if (b == 0 && (s != 1 || inplanes != planes * expansion))
        downsample = std::make_shared<Sequential>(
            ModuleList{conv(inplanes, planes * expansion, 1, s, gen), std::make_shared<BatchNorm2d>(planes * expansion)});
      if (block == BlockKind::Basic) layer->push_back(std::make_shared<BasicBlock>(inplanes, planes, s, downsample, gen));
      else layer->push_back(std::make_shared<Bottleneck>(inplanes, planes, s, downsample, gen));
      inplanes = planes * expansion;
    }
    register_module("layer" + std::to_string(stage + 1), layer, &layers_[stage]);
  }
  register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(std::array<int64_t, 2>{1, 1}), &avgpool_);
  feature_dim_ = 512 * expansion;
  register_module("fc", std::make_shared<Linear>(feature_dim_, num_classes, true, gen), &fc_);
  // torchvision's initialisation: convolutions kaiming normal (fan_out, relu); BatchNorm 1 and 0
  for (auto& [name, m] : named_modules()) {
    if (auto* c = dynamic_cast<Conv2d*>(m.get())) init::kaiming_normal_fan_out_relu_(c->weight, gen);
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m.get())) {
      init::constant_(bn->weight, 1.0);
      init::constant_(bn->bias, 0.0);
    }
  }
}

Tensor ResNet::features(const Tensor& x) {
  if (x.dim() != 4 || x.size(1) != 3)
    throw ShapeError("ResNet: expected images [N, 3, H, W], got " + shape_str(x.shape()));
  const bool to_channels_last = channels_last() && backend_for(x.device()).takes_channels_last(x.dtype());
  const Tensor input = to_channels_last ? x.contiguous(MemoryFormat::ChannelsLast) : x;
  Tensor h = (*maxpool_)(conv_bn_act(conv1_, bn1_, fold1_, input, relu_));
  for (const ModulePtr& layer : layers_) h = (*layer)(h);
  return (*avgpool_)(h).flatten(1);
}

Tensor ResNet::forward(const Tensor& x) { return (*fc_)(features(x)); }

std::shared_ptr<ResNet> resnet18(int64_t n, Generator* gen) { return std::make_shared<ResNet>(BlockKind::Basic, std::array<int64_t, 4>{2, 2, 2, 2}, n, gen); }
std::shared_ptr<ResNet> resnet34(int64_t n, Generator* gen) { return std::make_shared<ResNet>(BlockKind::Basic, std::array<int64_t, 4>{3, 4, 6, 3}, n, gen); }
std::shared_ptr<ResNet> resnet50(int64_t n, Generator* gen) { return std::make_shared<ResNet>(BlockKind::Bottleneck, std::array<int64_t, 4>{3, 4, 6, 3}, n, gen); }

std::shared_ptr<ResNet> resnet(const std::string& arch, int64_t n, Generator* gen) {
  if (arch == "resnet18") return resnet18(n, gen);
  if (arch == "resnet34") return resnet34(n, gen);
  if (arch == "resnet50") return resnet50(n, gen);
  throw Error("unknown architecture '" + arch + "' (expected resnet18, resnet34 or resnet50)");
}

}  // namespace sepal::nn
