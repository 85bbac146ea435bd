// feature_cache.h: --cache-features. In feature-extract mode without random augmentation the frozen
// backbone (in eval mode) maps an image to the same features every epoch, so they are computed
// once and each epoch trains only the head on them: the same batches in the same shuffled order
// as the DataLoader would give, at the cost of the head's forward and backward alone.
#pragma once
#include <memory>
#include <vector>

#include "data/dataloader.h"
#include "data/transforms.h"
#include "phases.h"
#include "sepal.h"

namespace flowers {

class FeatureCache {
 public:
  // Runs the backbone over both splits once (valid preprocessing, no gradients).
  FeatureCache(sepal::nn::ResNet& model, std::shared_ptr<const sepal::data::Dataset> train,
               std::shared_ptr<const sepal::data::Dataset> valid, const sepal::data::ImagePipeline& transform,
               const sepal::data::DataLoaderOptions& train_options);
  // One epoch of the head over the cached train features in the loader's shuffled order.
  TrainPhase train_epoch(sepal::nn::ResNet& model, sepal::optim::Optimizer& opt, int64_t epoch, PhaseTotals& totals,
                         int64_t max_batches);
  PhaseTotals evaluate(sepal::nn::ResNet& model, int64_t max_batches);
  double seconds_to_build() const { return build_seconds_; }

 private:
  struct Split {
    std::vector<float> features;  // [N, F] row-major, host
    std::vector<int64_t> labels;  // [N]
  };
  static Split extract(sepal::nn::ResNet& model, sepal::data::DataLoader& loader, int64_t feature_dim);
  // Rows `rows` of `split` as a [n, F] tensor and [n] labels on the device.
  std::pair<sepal::Tensor, sepal::Tensor> gather(const Split& split, const std::vector<size_t>& rows) const;

  sepal::data::DataLoaderOptions options_;
  std::unique_ptr<sepal::data::DataLoader> order_;  // only for epoch_order(): the same shuffle
  int64_t feature_dim_ = 0;
  Split train_, valid_;
  double build_seconds_ = 0;
};

}  // namespace flowers
