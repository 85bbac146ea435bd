// feature_cache.cpp: FeatureCache.
#include "feature_cache.h"

#include <chrono>
#include <cmath>

#include "progress.h"

namespace flowers {

using sepal::Tensor;

FeatureCache::FeatureCache(sepal::nn::ResNet& model, std::shared_ptr<const sepal::data::Dataset> train,
                           std::shared_ptr<const sepal::data::Dataset> valid,
                           const sepal::data::ImagePipeline& transform, const sepal::data::DataLoaderOptions& options)
    : options_(options), feature_dim_(model.feature_dim()) {
  const auto t0 = std::chrono::steady_clock::now();
  sepal::data::DataLoaderOptions plain = options;
  plain.shuffle = false;
  order_ = std::make_unique<sepal::data::DataLoader>(train, transform, options);
  {
    sepal::data::DataLoader loader(train, transform, plain);
    train_ = extract(model, loader, feature_dim_);
  }
  {
    sepal::data::DataLoader loader(valid, transform, plain);
    valid_ = extract(model, loader, feature_dim_);
  }
  build_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

FeatureCache::Split FeatureCache::extract(sepal::nn::ResNet& model, sepal::data::DataLoader& loader,
                                          int64_t feature_dim) {
  model.eval();
  sepal::NoGradGuard no_grad;
  Split split;
  split.features.reserve(loader.dataset().size() * feature_dim);
  Progress progress("cache", static_cast<int64_t>(loader.num_batches()));
  loader.start_epoch(0);
  int64_t done = 0;
  while (auto batch = loader.next()) {
    std::vector<float> f = model.features(batch->images).cpu().contiguous().to_vector<float>();
    split.features.insert(split.features.end(), f.begin(), f.end());
    for (int64_t label : batch->labels.cpu().to_vector<int64_t>()) split.labels.push_back(label);
    progress.update(++done, 0, 0, static_cast<int64_t>(split.labels.size()));
  }
  progress.finish();
  return split;
}

std::pair<Tensor, Tensor> FeatureCache::gather(const Split& split, const std::vector<size_t>& rows) const {
  const int64_t n = static_cast<int64_t>(rows.size());
  std::vector<float> x(static_cast<size_t>(n * feature_dim_));
  std::vector<int64_t> y(n);
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(split.features.begin() + static_cast<std::ptrdiff_t>(rows[i] * feature_dim_), feature_dim_,
                x.begin() + i * feature_dim_);
    y[i] = split.labels[rows[i]];
  }
  return {sepal::from_vector(x, {n, feature_dim_}, options_.device), sepal::from_vector(y, {n}, sepal::TensorOptions().dtype(sepal::DType::Int64).device(options_.device))};
}

TrainPhase FeatureCache::train_epoch(sepal::nn::ResNet& model, sepal::optim::Optimizer& opt, int64_t epoch,
                                     PhaseTotals& totals, int64_t max_batches) {
  sepal::nn::ModulePtr head = model.child("fc");
  head->train();
  TrainPhase result;
  const std::vector<size_t> order = order_->epoch_order(epoch);
  const size_t bs = static_cast<size_t>(options_.batch_size);
  sepal::nn::NLLLoss criterion;
  for (size_t start = 0; start < order.size(); start += bs) {
    if (options_.drop_last && start + bs > order.size()) break;
    std::vector<size_t> rows(order.begin() + start, order.begin() + std::min(order.size(), start + bs));
    auto [x, y] = gather(train_, rows);
    Tensor log_probs = (*head)(x);
    Tensor loss = criterion(log_probs, y);
    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      result.end = PhaseEnd::NonFiniteLoss;
      result.message = "the training loss became non-finite at batch " + std::to_string(result.batch + 1);
      return result;
    }
    loss.backward();
    opt.step();
    opt.zero_grad();
    totals.loss_sum += value * static_cast<double>(rows.size());
    totals.count += static_cast<int64_t>(rows.size());
    totals.correct += sepal::nn::count_correct(log_probs.detach(), y);
    ++result.batch;
    if (interrupted()) {
      result.end = PhaseEnd::Interrupted;
      return result;
    }
    if (max_batches > 0 && result.batch >= max_batches) return result;
  }
  return result;
}

PhaseTotals FeatureCache::evaluate(sepal::nn::ResNet& model, int64_t max_batches) {
  sepal::nn::ModulePtr head = model.child("fc");
  head->eval();
  sepal::NoGradGuard no_grad;
  PhaseTotals totals;
  sepal::nn::NLLLoss sum_loss(sepal::Reduction::Sum);
  const size_t bs = static_cast<size_t>(options_.batch_size);
  int64_t batches = 0;
  for (size_t start = 0; start < valid_.labels.size(); start += bs) {
    std::vector<size_t> rows;
    for (size_t i = start; i < std::min(valid_.labels.size(), start + bs); ++i) rows.push_back(i);
    auto [x, y] = gather(valid_, rows);
    Tensor log_probs = (*head)(x);
    totals.loss_sum += sum_loss(log_probs, y).item<double>();
    totals.correct += sepal::nn::count_correct(log_probs, y);
    totals.count += static_cast<int64_t>(rows.size());
    if (max_batches > 0 && ++batches >= max_batches) break;
  }
  return totals;
}

}  // namespace flowers
