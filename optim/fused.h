// fused.h: the two implementations of one Adam/AdamW update over a list of tensor sets
// (tensor/fused_optim.h): the fused multi-tensor backend kernel, and the per-tensor reference
// composed from raw ops (one op per line of PyTorch 1.13's single-tensor Adam). Both give the
// same bits; the benchmark compares their speed. Adam::step picks one (AdamImpl).
#pragma once
#include <string>
#include <vector>

#include "tensor/fused_optim.h"

namespace sepal::optim {

// Checks every set (defined, contiguous, floating, one shape per set, the param's dtype and
// device, no overlap between a set's tensors; errors name the set by `names[k]` when given)
// and runs the backend's adam_step once per (device, dtype) among the sets.
void adam_step_fused(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args,
                     const std::vector<std::string>& names = {});

// The same update with raw ops, tensor by tensor (about 14 kernels per tensor).
void adam_step_per_tensor(const std::vector<AdamTensorSet>& sets, const AdamStepArgs& args);

}  // namespace sepal::optim
