// sepal.h: the umbrella header. `#include <sepal.h>` gives tensors, autograd and (as they land)
// layers, optimizers, checkpoints and data loading.
#pragma once
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/nn_functions.h"
#include "checkpoint/safetensors.h"
#include "layers/init.h"
#include "layers/layers.h"
#include "layers/loss.h"
#include "layers/module.h"
#include "layers/resnet.h"
#include "optim/optim.h"
#include "tensor/device.h"
#include "tensor/generator.h"
#include "tensor/raw.h"
#include "tensor/tensor.h"
