// sync_batch_norm.h: BatchNorm whose training statistics cover the whole job's batch, not the
// local one (PyTorch's SyncBatchNorm), and the differentiable all-reduce it is built from.
//
// Forward: each rank sums x and x*x per channel (in float64), the sums and the sample count are
// all-reduced, and every rank normalises with the global mean and (biased) variance, updating the
// running statistics with the global ones (unbiased variance), as one process with the whole
// batch would. Backward needs no code of its own: the all-reduce's backward all-reduces the
// incoming gradient, which yields the two reduced sums of the textbook SyncBatchNorm backward.
// Every rank must run the same BatchNorm layers in the same order, so a rank without samples in a
// step runs a placeholder batch with set_local_batch_empty(true): it then contributes nothing.
#pragma once
#include <memory>

#include "dist/communicator.h"
#include "layers/layers.h"

namespace sepal::dist {

// Sums `t` over all ranks (a new tensor); its gradient is the sum over ranks of the gradients.
Tensor all_reduce_sum(Communicator& comm, const Tensor& t);

class SyncBatchNorm : public nn::BatchNormSync {
 public:
  explicit SyncBatchNorm(Communicator& comm) : comm_(comm) {}
  Tensor forward(nn::BatchNorm2d& bn, const Tensor& input) override;
  // While on, this rank's input counts as zero samples (a placeholder batch).
  void set_local_batch_empty(bool empty) { local_empty_ = empty; }

 private:
  Communicator& comm_;
  bool local_empty_ = false;
};

// Gives every BatchNorm2d of `model` the same SyncBatchNorm and returns it.
std::shared_ptr<SyncBatchNorm> convert_sync_batch_norm(nn::Module& model, Communicator& comm);

}  // namespace sepal::dist
