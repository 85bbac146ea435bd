// phases.h: one pass over a DataLoader: the train phase (forward, NLLLoss, backward, optimizer
// step per batch) and the evaluation phase (eval mode, no gradients, optional confusion matrix).
// Shared by `train`, `evaluate` and the demo.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataloader.h"
#include "dist/data_parallel.h"
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

// The forward pass and the NLLLoss of one batch (the loss booked under "loss" in a profile), its
// mean or (the train phase's exact averaging) its sum; *log_probs receives the model's output.
sepal::Tensor forward_loss(sepal::nn::Module& model, const sepal::data::Batch& batch, sepal::Tensor* log_probs,
                           sepal::Reduction reduction = sepal::Reduction::Mean);
// The backward pass of `loss`, the optimizer's step and zero_grad.
void backward_step(const sepal::Tensor& loss, sepal::optim::Optimizer& opt);

// Trains from the loader's current position to the end of its epoch (or until Ctrl-C, a
// non-finite loss, or `max_batches` batches, 0 = no limit), adding the job's totals to `totals`.
// Each step goes through `dp` (dist/data_parallel.h): the loss backpropagated is this rank's loss
// sum divided by the job's sample count, and every rank agrees to stop (Ctrl-C, SIGTERM, SIGUSR1
// on any rank) or on a non-finite loss. A rank with an empty shard still takes part, with a
// placeholder batch of `sample_shape` [C, H, W] under --sync-bn.
TrainPhase train_phase(sepal::nn::Module& model, sepal::data::DataLoader& loader, sepal::optim::Optimizer& opt,
                       sepal::dist::DataParallel& dp, PhaseTotals& totals, int64_t first_batch, int64_t max_batches,
                       const sepal::Shape& sample_shape);

// Evaluates the whole loader (eval mode, no gradients). `confusion` (optional) becomes
// [true class][predicted class] counts over num_classes. With `comm`, the loader holds this
// rank's shard and the totals returned are the whole job's.
PhaseTotals eval_phase(sepal::nn::Module& model, sepal::data::DataLoader& loader, int64_t num_classes,
                       std::vector<std::vector<int64_t>>* confusion, int64_t max_batches,
                       const std::string& label = "valid", sepal::dist::Communicator* comm = nullptr);

}  // namespace flowers
