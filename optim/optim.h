// optim.h: everything optim/ offers: the Optimizer base with named parameter groups (SGD, Adam,
// AdamW) and their typed options, their state dicts and load reports, the fused update entry
// points, and the LR schedulers (StepLR, MultiStepLR, CosineAnnealingLR, ReduceLROnPlateau).
#pragma once
#include "optim/adam.h"
#include "optim/fused.h"
#include "optim/optimizer.h"
#include "optim/options.h"
#include "optim/plateau.h"
#include "optim/scheduler.h"
#include "optim/sgd.h"
#include "optim/state.h"
