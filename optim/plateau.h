// plateau.h: ReduceLROnPlateau, PyTorch 1.13's: step(metric) once per epoch with a validation
// metric (through the Scheduler interface, so sched->step(val_loss) steps any scheduler); after more than `patience` epochs without an improvement (relative or absolute
// threshold, for a metric to minimise or maximise) every group's lr becomes
// max(lr * factor, min_lr) (unchanged when that moves it by eps or less), followed by `cooldown`
// epochs in which bad epochs are not counted.
#pragma once
#include <cstdint>
#include <vector>

#include "optim/scheduler.h"

namespace sepal::optim {

enum class PlateauMode : uint8_t { Min, Max };
enum class ThresholdMode : uint8_t { Rel, Abs };

struct PlateauOptions {
  PlateauMode mode = PlateauMode::Min;
  double factor = 0.1;  // < 1
  int64_t patience = 10;
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::Rel;
  int64_t cooldown = 0;
  double min_lr = 0.0;          // for every group without an entry in min_lrs
  std::vector<double> min_lrs;  // per group (empty, or one per group at construction)
  double eps = 1e-8;
};

class ReduceLROnPlateau : public Scheduler {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, PlateauOptions options = {});
  // Throws sepal::Error, changing nothing, when `metric` is absent: it decides the reduction.
  void step(std::optional<double> metric = std::nullopt) override;
  bool uses_metric() const override { return true; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  int64_t cooldown_counter() const { return cooldown_counter_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }

 protected:
  void save(SchedulerStateDict& out) const override;
  void load(const SchedulerStateDict& in) override;

 private:
  bool is_better(double a, double best) const;
  double min_lr(size_t group) const;
  static void check(const PlateauOptions& o, const std::string& where);

  PlateauOptions options_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
};

}  // namespace sepal::optim
