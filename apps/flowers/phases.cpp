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

Tensor forward_loss(sepal::nn::Module& model, const sepal::data::Batch& batch, Tensor* log_probs) {
  *log_probs = model(batch.images);
  const sepal::profile::Scope scope("loss");
  return sepal::nn::NLLLoss()(*log_probs, batch.labels);
}

void backward_step(const Tensor& loss, sepal::optim::Optimizer& opt) {
  loss.backward();
  opt.step();
  opt.zero_grad();
}

TrainPhase train_phase(sepal::nn::Module& model, sepal::data::DataLoader& loader, sepal::optim::Optimizer& opt,
                       PhaseTotals& totals, int64_t first_batch, int64_t max_batches) {
  TrainPhase result;
  result.batch = first_batch;
  Progress progress("train", static_cast<int64_t>(loader.num_batches()));
  const int64_t images_before = totals.count;
  while (auto batch = loader.next()) {
    Tensor log_probs;
    Tensor loss = forward_loss(model, *batch, &log_probs);
    const double value = loss.item<double>();
    const int64_t n = batch->labels.shape()[0];
    if (!std::isfinite(value)) {
      result.end = PhaseEnd::NonFiniteLoss;
      result.message = "the training loss became " + std::string(std::isnan(value) ? "NaN" : "infinite") +
                       " at batch " + std::to_string(result.batch + 1);
      progress.finish();
      return result;
    }
    backward_step(loss, opt);
    totals.loss_sum += value * n;
    totals.count += n;
    totals.correct += sepal::nn::count_correct(log_probs.detach(), batch->labels);
    ++result.batch;
    progress.update(result.batch, totals.loss(), totals.acc(), totals.count - images_before);
    if (interrupted()) {
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
                       std::vector<std::vector<int64_t>>* confusion, int64_t max_batches, const std::string& label) {
  model.eval();
  sepal::NoGradGuard no_grad;
  PhaseTotals totals;
  if (confusion) confusion->assign(num_classes, std::vector<int64_t>(num_classes, 0));
  Progress progress(label, static_cast<int64_t>(loader.num_batches()));
  sepal::nn::NLLLoss sum_loss(sepal::Reduction::Sum);
  loader.start_epoch(0);
  int64_t batches = 0;
  while (auto batch = loader.next()) {
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
  return totals;
}

}  // namespace flowers
