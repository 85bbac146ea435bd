// data_parallel.h: one model trained by every rank of a job on its shard of each global batch,
// as PyTorch's DistributedDataParallel does, with exact averaging.
//
// At construction the ranks check that their parameters have the same names and shapes (an error
// names the first difference) and take rank 0's parameters and buffers. Each step:
//   1. before_forward(): with local BatchNorm, rank 0's buffers (running statistics) are
//      broadcast, as DDP's broadcast_buffers does; with sync_bn the BatchNorm layers compute their
//      statistics over the whole global batch instead (dist/sync_batch_norm.h).
//   2. the caller's forward on its shard gives the local SUM of per-sample losses;
//   3. backward(): one small all-reduce of {sample count, loss sum, correct, stop flag, non-finite
//      flag}; unless a rank's loss is not finite (every rank then stops) or the global batch is
//      empty, each rank backpropagates local_loss_sum / global_count, and the GradientReducer sums
//      the gradients over the ranks while backward runs. The sum is exactly the gradient of the
//      global batch's mean loss, whatever the shard sizes (uneven, empty, skipped samples).
//   4. the caller's optimizer step: every rank applies the same update.
// A rank with no sample passes an undefined loss (local BatchNorm) or runs a placeholder batch
// under placeholder_batch(true) and passes a zero loss (sync_bn), so it joins every collective.
#pragma once
#include <memory>

#include "dist/communicator.h"
#include "dist/gradient_reducer.h"
#include "dist/sync_batch_norm.h"
#include "layers/module.h"

namespace sepal::dist {

struct DataParallelOptions {
  ReducerOptions buckets;
  bool sync_bn = false;  // batch statistics over all ranks (a no-op with one rank)
};

// The global totals of one step (sums over the ranks).
struct StepTotals {
  int64_t count = 0;
  double loss_sum = 0;
  int64_t correct = 0;
  bool stop = false;        // some rank asked to stop after this step
  bool non_finite = false;  // some rank's loss was NaN or infinite: nothing was backpropagated
  bool stepped = false;     // gradients are ready for the optimizer
};

class DataParallel {
 public:
  DataParallel(Communicator& comm, nn::Module& model, DataParallelOptions options = {});

  Communicator& comm() const { return comm_; }
  bool sync_bn() const { return sync_ != nullptr; }
  // Before each training forward.
  void before_forward();
  // A rank without samples runs the placeholder batch between placeholder_batch(true) and
  // placeholder_batch(false) (sync_bn only: otherwise it runs no forward).
  void placeholder_batch(bool on);
  // local_loss_sum: the sum of this rank's per-sample losses (undefined: no sample and no forward).
  StepTotals backward(const Tensor& local_loss_sum, int64_t local_count, int64_t local_correct, bool stop_requested);
  const GradientReducer* reducer() const { return reducer_.get(); }

 private:
  Communicator& comm_;
  nn::Module& model_;
  std::unique_ptr<GradientReducer> reducer_;
  std::shared_ptr<SyncBatchNorm> sync_;
  std::vector<Tensor> buffers_;
};

}  // namespace sepal::dist
