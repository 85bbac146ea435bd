// data_parallel.cpp: start-up agreement, buffer broadcasts and the exact-averaging step (see
// data_parallel.h).
#include "dist/data_parallel.h"

#include <cmath>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "tensor/error.h"

namespace sepal::dist {

DataParallel::DataParallel(Communicator& comm, nn::Module& model, DataParallelOptions options)
    : comm_(comm), model_(model) {
  std::vector<std::string> structure;
  for (const auto& [name, t] : model.named_parameters())
    structure.push_back("parameter " + name + " " + shape_str(t.shape()) + (t.requires_grad() ? "" : " frozen"));
  for (const auto& [name, t] : model.named_buffers()) structure.push_back("buffer " + name + " " + shape_str(t.shape()));
  check_same_on_all_ranks(comm, structure, "the models' parameters and buffers");
  std::vector<Tensor> state;
  for (const auto& [name, t] : model.named_parameters()) state.push_back(t);
  for (const auto& [name, t] : model.named_buffers()) {
    state.push_back(t);
    buffers_.push_back(t);
  }
  {
    NoGradGuard no_grad;
    broadcast_tensors(comm, state, 0);
  }
  if (comm.size() > 1) {
    reducer_ = std::make_unique<GradientReducer>(comm, model.named_parameters(), options.buckets);
    if (options.sync_bn) sync_ = convert_sync_batch_norm(model, comm);
  }
}

void DataParallel::before_forward() {
  if (comm_.size() == 1 || sync_ || !model_.is_training()) return;
  NoGradGuard no_grad;
  broadcast_tensors(comm_, buffers_, 0);
}

void DataParallel::placeholder_batch(bool on) {
  if (sync_) sync_->set_local_batch_empty(on);
}

StepTotals DataParallel::backward(const Tensor& local_loss_sum, int64_t local_count, int64_t local_correct,
                                  bool stop_requested) {
  double loss = 0;
  if (local_loss_sum.defined()) loss = local_loss_sum.item<double>();
  const bool non_finite = !std::isfinite(loss);
  std::vector<double> totals{static_cast<double>(local_count), non_finite ? 0.0 : loss,
                             static_cast<double>(local_correct), stop_requested ? 1.0 : 0.0, non_finite ? 1.0 : 0.0};
  comm_.all_reduce_host(totals);
  StepTotals t;
  t.count = static_cast<int64_t>(totals[0]);
  t.loss_sum = totals[1];
  t.correct = static_cast<int64_t>(totals[2]);
  t.stop = totals[3] > 0;
  t.non_finite = totals[4] > 0;
  if (t.non_finite || t.count == 0) return t;
  if (local_loss_sum.defined() && local_loss_sum.requires_grad()) (local_loss_sum / static_cast<double>(t.count)).backward();
  if (reducer_) reducer_->finish();
  t.stepped = true;
  return t;
}

}  // namespace sepal::dist
