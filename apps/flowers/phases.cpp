// phases.cpp: the train and evaluation passes.
#include "phases.h"

#include <cmath>

#include "progress.h"

namespace flowers {

using sepal::Tensor;

namespace {
// Arg-max per row of [N, K] log-probabilities, on the host.
std::vector<int64_t> predictions(const Tensor& scores) {
  Tensor host = scores.detach().cpu().to(sepal::DType::Float32).contiguous();
  const int64_t n = host.shape()[0], k = host.shape()[1];
  std::vector<float> v = host.to_vector<float>();
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (v[i * k + j] > v[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}
}  // namespace

Tensor forward_loss(sepal::nn::Module& model, const sepal::data::Batch& batch, Tensor* log_probs,
                    sepal::Reduction reduction) {
  *log_probs = model(batch.images);
  const sepal::profile::Scope scope("loss");
  return sepal::nn::NLLLoss(reduction)(*log_probs, batch.labels);
}

void backward_step(const Tensor& loss, sepal::optim::Optimizer& opt) {
  loss.backward();
  opt.step();
  opt.zero_grad();
}

TrainPhase train_phase(sepal::nn::Module& model, sepal::data::DataLoader& loader, sepal::optim::Optimizer& opt,
                       sepal::dist::DataParallel& dp, PhaseTotals& totals, int64_t first_batch, int64_t max_batches,
                       const sepal::Shape& sample_shape) {
  TrainPhase result;
  result.batch = first_batch;
  Progress progress("train", static_cast<int64_t>(loader.num_batches()));
  const int64_t images_before = totals.count;
  while (auto batch = loader.next()) {
    dp.before_forward();
    const int64_t n = batch->labels.shape()[0];
    Tensor loss_sum;
    int64_t correct = 0;
    if (n > 0) {
      Tensor log_probs;
      loss_sum = forward_loss(model, *batch, &log_probs, sepal::Reduction::Sum);
      correct = sepal::nn::count_correct(log_probs.detach(), batch->labels);
    } else if (dp.sync_bn()) {  // an empty shard joins the BatchNorm layers' collectives
      dp.placeholder_batch(true);
      sepal::Shape shape{1};
      shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
      loss_sum = model(sepal::zeros(shape, sepal::TensorOptions().device(batch->images.device()))).sum() * 0.0;
      dp.placeholder_batch(false);
    }
    const sepal::dist::StepTotals t = dp.backward(loss_sum, n, correct, interrupted());
    if (t.non_finite) {
      opt.zero_grad();
      result.end = PhaseEnd::NonFiniteLoss;
      result.message = "the training loss became NaN or infinite at batch " + std::to_string(result.batch + 1);
      progress.finish();
      return result;
    }
    if (t.stepped) opt.step();
    opt.zero_grad();
    totals.loss_sum += t.loss_sum;
    totals.count += t.count;
    totals.correct += t.correct;
    ++result.batch;
    progress.update(result.batch, totals.loss(), totals.acc(), totals.count - images_before);
    if (t.stop) {
      result.end = PhaseEnd::Interrupted;
      break;
    }
    if (max_batches > 0 && result.batch - first_batch >= max_batches) {
      result.end = PhaseEnd::BatchLimit;
      break;
    }
  }
  progress.finish();
  return result;
}

PhaseTotals eval_phase(sepal::nn::Module& model, sepal::data::DataLoader& loader, int64_t num_classes,
                       std::vector<std::vector<int64_t>>* confusion, int64_t max_batches, const std::string& label,
                       sepal::dist::Communicator* comm) {
  model.eval();
  sepal::NoGradGuard no_grad;
  PhaseTotals totals;
  if (confusion) confusion->assign(num_classes, std::vector<int64_t>(num_classes, 0));
  Progress progress(label, static_cast<int64_t>(loader.num_batches()));
  sepal::nn::NLLLoss sum_loss(sepal::Reduction::Sum);
  loader.start_epoch(0);
  int64_t batches = 0;
  while (auto batch = loader.next()) {
    if (batch->labels.shape()[0] == 0) {  // an empty shard
      progress.update(++batches, totals.loss(), totals.acc(), totals.count);
      if (max_batches > 0 && batches >= max_batches) break;
      continue;
    }
    Tensor log_probs = model(batch->images);
    totals.loss_sum += sum_loss(log_probs, batch->labels).item<double>();
    std::vector<int64_t> pred = predictions(log_probs);
    std::vector<int64_t> truth = batch->labels.cpu().to_vector<int64_t>();
    for (size_t i = 0; i < pred.size(); ++i) {
      totals.correct += pred[i] == truth[i];
      if (confusion) ++(*confusion)[truth[i]][pred[i]];
    }
    totals.count += static_cast<int64_t>(pred.size());
    progress.update(++batches, totals.loss(), totals.acc(), totals.count);
    if (max_batches > 0 && batches >= max_batches) break;
  }
  progress.finish();
  if (comm && comm->size() > 1) {
    std::vector<double> sums{totals.loss_sum, static_cast<double>(totals.correct), static_cast<double>(totals.count)};
    comm->all_reduce_host(sums);
    totals = {sums[0], static_cast<int64_t>(sums[1]), static_cast<int64_t>(sums[2])};
  }
  return totals;
}

}  // namespace flowers
