// sepal.h: the umbrella header. `#include <sepal.h>` gives tensors, autograd and (as they land)
// layers, optimizers, checkpoints and data loading.
#pragma once
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "tensor/device.h"
#include "tensor/generator.h"
#include "tensor/raw.h"
#include "tensor/tensor.h"
