// init.h: parameter initialisation with torch.nn.init's formulas, drawing from a seeded
// Generator (the default one when null). All functions fill the tensor in place, untracked.
#pragma once
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace sepal::nn::init {

// fan_in = size(1) * receptive field, fan_out = size(0) * receptive field (torch's convention).
int64_t fan_in(const Tensor& weight);
int64_t fan_out(const Tensor& weight);

void uniform_(Tensor& t, double low, double high, Generator* gen = nullptr);
void normal_(Tensor& t, double mean, double std, Generator* gen = nullptr);
void constant_(Tensor& t, double value);
// kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / fan_out), as torchvision's
// ResNet initialises its convolutions.
void kaiming_normal_fan_out_relu_(Tensor& t, Generator* gen = nullptr);
// PyTorch's default for Linear and Conv2d weights, kaiming_uniform_(a=sqrt(5)):
// uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)); their biases use the same bound.
void default_weight_(Tensor& weight, Generator* gen = nullptr);
void default_bias_(Tensor& bias, const Tensor& weight, Generator* gen = nullptr);

}  // namespace sepal::nn::init
