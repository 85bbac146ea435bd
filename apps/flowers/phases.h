// phases.h: one pass over a DataLoader: the train phase (forward, NLLLoss, backward, optimizer
// step per batch) and the evaluation phase (eval mode, no gradients, optional confusion matrix).
// Shared by `train`, `evaluate` and the demo.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataloader.h"
#include "sepal.h"

namespace flowers {

struct PhaseTotals {
  double loss_sum = 0;  // sum over samples of the per-sample loss
  int64_t correct = 0, count = 0;
  double loss() const { return count ? loss_sum / count : 0.0; }
  double acc() const { return count ? static_cast<double>(correct) / count : 0.0; }
};

enum class PhaseEnd { Finished, Interrupted, NonFiniteLoss, BatchLimit };

struct TrainPhase {
  PhaseEnd end = PhaseEnd::Finished;
  int64_t batch = 0;  // batches of the epoch done when it ended
  std::string message;
};

// The forward pass and the NLLLoss of one batch (the loss booked under "loss" in a profile);
// *log_probs receives the model's output.
sepal::Tensor forward_loss(sepal::nn::Module& model, const sepal::data::Batch& batch, sepal::Tensor* log_probs);
// The backward pass of `loss`, the optimizer's step and zero_grad.
void backward_step(const sepal::Tensor& loss, sepal::optim::Optimizer& opt);

// Trains from the loader's current position to the end of its epoch (or until Ctrl-C, a
// non-finite loss, or `max_batches` batches, 0 = no limit), adding to `totals`.
TrainPhase train_phase(sepal::nn::Module& model, sepal::data::DataLoader& loader, sepal::optim::Optimizer& opt,
                       PhaseTotals& totals, int64_t first_batch, int64_t max_batches);

// Evaluates the whole loader (eval mode, no gradients). `confusion` (optional) becomes
// [true class][predicted class] counts over num_classes.
PhaseTotals eval_phase(sepal::nn::Module& model, sepal::data::DataLoader& loader, int64_t num_classes,
                       std::vector<std::vector<int64_t>>* confusion, int64_t max_batches,
                       const std::string& label = "valid");

}  // namespace flowers
