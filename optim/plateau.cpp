// plateau.cpp: ReduceLROnPlateau, statement by statement as PyTorch 1.13's step() and
// _reduce_lr(), with its whole state (options, best, counters) saved and restored.
#include "optim/plateau.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sepal::optim {

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, PlateauOptions options)
    : Scheduler("ReduceLROnPlateau", optimizer), options_(std::move(options)) {
  check(options_, type_);
  if (!options_.min_lrs.empty() && options_.min_lrs.size() != optimizer.num_param_groups())
    throw Error(type_ + ": expected " + std::to_string(optimizer.num_param_groups()) + " min_lrs (one per group), got " +
                std::to_string(options_.min_lrs.size()));
  const double inf = std::numeric_limits<double>::infinity();
  best_ = options_.mode == PlateauMode::Min ? inf : -inf;
  last_lr_ = current_lrs();
}

void ReduceLROnPlateau::check(const PlateauOptions& o, const std::string& where) {
  if (!(o.factor < 1.0)) throw Error(where + ": factor must be < 1, got " + std::to_string(o.factor));
  if (o.patience < 0) throw Error(where + ": patience must be >= 0, got " + std::to_string(o.patience));
  if (o.cooldown < 0) throw Error(where + ": cooldown must be >= 0, got " + std::to_string(o.cooldown));
}

double ReduceLROnPlateau::min_lr(size_t group) const {
  return group < options_.min_lrs.size() ? options_.min_lrs[group] : options_.min_lr;
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const double t = options_.threshold;
  if (options_.mode == PlateauMode::Min)
    return options_.threshold_mode == ThresholdMode::Rel ? a < best * (1. - t) : a < best - t;
  return options_.threshold_mode == ThresholdMode::Rel ? a > best * (t + 1.) : a > best + t;
}

void ReduceLROnPlateau::step(std::optional<double> value) {
  if (!value)
    throw Error(type_ + ".step: needs the epoch's metric (step(val_loss)); it decides whether the lr is reduced");
  const double metric = *value;
  last_epoch_ += 1;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (in_cooldown()) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience) {
    for (size_t i = 0; i < optimizer_.num_param_groups(); ++i) {
      const double old_lr = optimizer_.lr(i);
      const double new_lr = std::max(old_lr * options_.factor, min_lr(i));
      if (old_lr - new_lr > options_.eps) optimizer_.set_lr(i, new_lr);
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_ = current_lrs();
}

void ReduceLROnPlateau::save(SchedulerStateDict& out) const {
  out.values["mode_max"] = options_.mode == PlateauMode::Max ? 1.0 : 0.0;
  out.values["factor"] = options_.factor;
  out.values["patience"] = static_cast<double>(options_.patience);
  out.values["threshold"] = options_.threshold;
  out.values["threshold_abs"] = options_.threshold_mode == ThresholdMode::Abs ? 1.0 : 0.0;
  out.values["cooldown"] = static_cast<double>(options_.cooldown);
  out.values["min_lr"] = options_.min_lr;
  out.lists["min_lrs"] = options_.min_lrs;
  out.values["eps"] = options_.eps;
  out.values["best"] = best_;
  out.values["num_bad_epochs"] = static_cast<double>(num_bad_epochs_);
  out.values["cooldown_counter"] = static_cast<double>(cooldown_counter_);
}

void ReduceLROnPlateau::load(const SchedulerStateDict& in) {
  const std::string where = type_ + ".load_state_dict";
  auto count = [&](const char* key) {
    const double v = value(in, key);
    if (!(v >= 0 && v == std::floor(v) && v < 9.0e15))
      throw Error(where + ": " + key + " must be a non-negative integer, got " + std::to_string(v));
    return static_cast<int64_t>(v);
  };
  auto flag = [&](const char* key) {
    const double v = value(in, key);
    if (v != 0.0 && v != 1.0) throw Error(where + ": " + key + " must be 0 or 1, got " + std::to_string(v));
    return v == 1.0;
  };
  PlateauOptions o;
  o.mode = flag("mode_max") ? PlateauMode::Max : PlateauMode::Min;
  o.factor = value(in, "factor");
  o.patience = count("patience");
  o.threshold = value(in, "threshold");
  o.threshold_mode = flag("threshold_abs") ? ThresholdMode::Abs : ThresholdMode::Rel;
  o.cooldown = count("cooldown");
  o.min_lr = value(in, "min_lr");
  o.min_lrs = list(in, "min_lrs");
  o.eps = value(in, "eps");
  check(o, where);
  const double best = value(in, "best");
  const int64_t bad = count("num_bad_epochs"), cooldown_counter = count("cooldown_counter");
  options_ = std::move(o);
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown_counter;
}

}  // namespace sepal::optim
