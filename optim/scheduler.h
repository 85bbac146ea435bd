// scheduler.h: learning-rate schedulers with PyTorch 1.13's chainable semantics and timing.
// Construct one after the optimizer (it records each group's initial_lr, keeping one already
// there, and takes them as base_lrs; last_epoch becomes 0), then call step() once per epoch
// *after* optimizer.step(). Each step reads every group's current lr and sets the next, so
// schedulers chain. A group added to the optimizer later gets an initial_lr (its lr then) and a
// base lr on the next step(). Every scheduler saves and restores its whole state.
//
//   optim::StepLR sched(opt, 7, 0.1);        // epochs 0-6 at lr, 7-13 at lr/10, 14-20 at lr/100
//   for (epoch...) { train(...); sched.step(); }
//
// Every scheduler is stepped through the one Scheduler::step(metric): ReduceLROnPlateau
// (plateau.h) needs the metric (PyTorch's scheduler.step(val_loss)), the epoch schedulers ignore
// it, so a training loop holding any Scheduler calls sched->step(val_loss) once per epoch.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace sepal::optim {

// A scheduler's whole state as named numbers and number lists (what checkpoints store).
struct SchedulerStateDict {
  std::string type;                                 // "StepLR", "MultiStepLR", ...
  std::map<std::string, double> values;             // last_epoch, step_count, gamma, ...
  std::map<std::string, std::vector<double>> lists; // base_lrs, last_lr, milestones, ...
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  const std::string& type() const { return type_; }
  // Advances one epoch. `metric` (the epoch's validation loss, say) is what ReduceLROnPlateau
  // decides on; it throws without one. The epoch schedulers ignore it.
  virtual void step(std::optional<double> metric = std::nullopt) = 0;
  // Whether step() needs the metric (true for ReduceLROnPlateau).
  virtual bool uses_metric() const { return false; }
  // The lr of every group after the latest step (PyTorch's get_last_lr()).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }

  SchedulerStateDict state_dict() const;
  // Restores a state from state_dict() of a scheduler of the same type (hyperparameters
  // included), so this one continues exactly; throws sepal::Error naming a wrong type or a
  // missing or invalid entry, and then changes nothing. The optimizer's lrs are not touched:
  // they are restored with the optimizer's own state.
  void load_state_dict(const SchedulerStateDict& state);

 protected:
  Scheduler(std::string type, Optimizer& optimizer) : type_(std::move(type)), optimizer_(optimizer) {}
  virtual void save(SchedulerStateDict& out) const = 0;
  virtual void load(const SchedulerStateDict& in) = 0;  // after validation; may throw before changing
  // Helpers for save/load: a required entry, or an Error naming it.
  double value(const SchedulerStateDict& in, const std::string& key) const;
  const std::vector<double>& list(const SchedulerStateDict& in, const std::string& key) const;
  std::vector<double> current_lrs() const;

  std::string type_;
  Optimizer& optimizer_;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

// Epoch-based schedulers (PyTorch's _LRScheduler).
class LRScheduler : public Scheduler {
 public:
  // Advances one epoch: last_epoch += 1, then sets every group's lr to get_lr(); the metric,
  // when given, is not used.
  void step(std::optional<double> metric = std::nullopt) override;
  const std::vector<double>& base_lrs() const { return base_lrs_; }

 protected:
  LRScheduler(std::string type, Optimizer& optimizer);
  // PyTorch's _initial_step(): each subclass constructor calls it last (it uses get_lr()).
  void initial_step();
  // The next lr of every group of the optimizer, from its current lr (chainable form).
  virtual std::vector<double> get_lr() const = 0;
  void save(SchedulerStateDict& out) const override;
  void load(const SchedulerStateDict& in) override;
  virtual void save_params(SchedulerStateDict& out) const = 0;
  virtual void load_params(const SchedulerStateDict& in) = 0;

  std::vector<double> base_lrs_;
  int64_t step_count_ = 0;

 private:
  void adopt_new_groups();
};

// lr * gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() const override;
  void save_params(SchedulerStateDict& out) const override;
  void load_params(const SchedulerStateDict& in) override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr * gamma^k at each milestone epoch listed k times (a repeated milestone decays twice).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() const override;
  void save_params(SchedulerStateDict& out) const override;
  void load_params(const SchedulerStateDict& in) override;

 private:
  std::map<int64_t, int64_t> milestones_;  // epoch -> count
  double gamma_;
};

// Cosine annealing from the base lr to eta_min over T_max epochs, then back up (period
// 2 T_max), in PyTorch's recursive chainable form.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() const override;
  void save_params(SchedulerStateDict& out) const override;
  void load_params(const SchedulerStateDict& in) override;

 private:
  int64_t t_max_;
  double eta_min_;
};

}  // namespace sepal::optim
