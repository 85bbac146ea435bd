// scheduler.cpp: the Scheduler and LRScheduler bases (initial_lr, base_lrs, the chainable step,
// state save/restore) and StepLR, MultiStepLR and CosineAnnealingLR. The arithmetic mirrors
// PyTorch's Python expression by expression, in double (this folder is compiled without FMA
// contraction), so the lr sequences equal PyTorch's bit for bit.
#include "optim/scheduler.h"

#include <cmath>
#include <numbers>

namespace sepal::optim {

namespace {

int64_t integral(double v, const std::string& what) {
  if (!std::isfinite(v) || v != std::floor(v) || std::abs(v) > 9.0e15)
    throw Error(what + " must be an integer, got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

}  // namespace

// ---- Scheduler ----
SchedulerStateDict Scheduler::state_dict() const {
  SchedulerStateDict out;
  out.type = type_;
  out.values["last_epoch"] = static_cast<double>(last_epoch_);
  out.lists["last_lr"] = last_lr_;
  save(out);
  return out;
}

void Scheduler::load_state_dict(const SchedulerStateDict& in) {
  if (in.type != type_)
    throw Error(type_ + ".load_state_dict: the saved state is from a" + (in.type.empty() ? "n untyped" : " " + in.type) +
                " scheduler, this one is " + type_);
  const int64_t last_epoch = integral(value(in, "last_epoch"), type_ + ".load_state_dict: last_epoch");
  std::vector<double> last_lr = list(in, "last_lr");
  load(in);  // validates its own entries before changing anything
  last_epoch_ = last_epoch;
  last_lr_ = std::move(last_lr);
}

double Scheduler::value(const SchedulerStateDict& in, const std::string& key) const {
  auto it = in.values.find(key);
  if (it == in.values.end()) throw Error(type_ + ".load_state_dict: the saved state has no '" + key + "'");
  return it->second;
}

const std::vector<double>& Scheduler::list(const SchedulerStateDict& in, const std::string& key) const {
  auto it = in.lists.find(key);
  if (it == in.lists.end()) throw Error(type_ + ".load_state_dict: the saved state has no list '" + key + "'");
  return it->second;
}

std::vector<double> Scheduler::current_lrs() const {
  std::vector<double> out;
  for (const ParamGroup& g : optimizer_.param_groups()) out.push_back(g.lr());
  return out;
}

// ---- LRScheduler ----
LRScheduler::LRScheduler(std::string type, Optimizer& optimizer) : Scheduler(std::move(type), optimizer) {
  last_epoch_ = -1;
  adopt_new_groups();
}

void LRScheduler::adopt_new_groups() {
  for (size_t i = base_lrs_.size(); i < optimizer_.num_param_groups(); ++i) {
    if (!optimizer_.param_group(i).initial_lr()) optimizer_.set_initial_lr(i, optimizer_.param_group(i).lr());
    base_lrs_.push_back(*optimizer_.param_group(i).initial_lr());
  }
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step(std::optional<double>) {
  adopt_new_groups();
  ++step_count_;
  ++last_epoch_;
  const std::vector<double> lrs = get_lr();
  for (size_t i = 0; i < lrs.size(); ++i) optimizer_.set_lr(i, lrs[i]);
  last_lr_ = current_lrs();
}

void LRScheduler::save(SchedulerStateDict& out) const {
  out.values["step_count"] = static_cast<double>(step_count_);
  out.lists["base_lrs"] = base_lrs_;
  save_params(out);
}

void LRScheduler::load(const SchedulerStateDict& in) {
  const int64_t step_count = integral(value(in, "step_count"), type_ + ".load_state_dict: step_count");
  std::vector<double> base_lrs = list(in, "base_lrs");
  load_params(in);
  step_count_ = step_count;
  base_lrs_ = std::move(base_lrs);
}

// ---- StepLR ----
StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler("StepLR", optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size < 1) throw Error("StepLR: step_size must be >= 1, got " + std::to_string(step_size));
  initial_step();
}

std::vector<double> StepLR::get_lr() const {
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

void StepLR::save_params(SchedulerStateDict& out) const {
  out.values["step_size"] = static_cast<double>(step_size_);
  out.values["gamma"] = gamma_;
}

void StepLR::load_params(const SchedulerStateDict& in) {
  const int64_t step_size = integral(value(in, "step_size"), "StepLR.load_state_dict: step_size");
  if (step_size < 1) throw Error("StepLR.load_state_dict: step_size must be >= 1, got " + std::to_string(step_size));
  const double gamma = value(in, "gamma");
  step_size_ = step_size;
  gamma_ = gamma;
}

// ---- MultiStepLR ----
MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler("MultiStepLR", optimizer), gamma_(gamma) {
  for (int64_t m : milestones) ++milestones_[m];
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() const {
  std::vector<double> lrs = current_lrs();
  auto it = milestones_.find(last_epoch_);
  if (it == milestones_.end()) return lrs;
  for (double& lr : lrs) lr = lr * std::pow(gamma_, static_cast<double>(it->second));
  return lrs;
}

void MultiStepLR::save_params(SchedulerStateDict& out) const {
  std::vector<double> all;  // each milestone as often as it counts, sorted
  for (const auto& [epoch, count] : milestones_)
    for (int64_t k = 0; k < count; ++k) all.push_back(static_cast<double>(epoch));
  out.lists["milestones"] = all;
  out.values["gamma"] = gamma_;
}

void MultiStepLR::load_params(const SchedulerStateDict& in) {
  std::map<int64_t, int64_t> milestones;
  for (double m : list(in, "milestones")) ++milestones[integral(m, "MultiStepLR.load_state_dict: a milestone")];
  const double gamma = value(in, "gamma");
  milestones_ = std::move(milestones);
  gamma_ = gamma;
}

// ---- CosineAnnealingLR ----
CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler("CosineAnnealingLR", optimizer), t_max_(T_max), eta_min_(eta_min) {
  if (T_max < 1) throw Error("CosineAnnealingLR: T_max must be >= 1, got " + std::to_string(T_max));
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() const {
  constexpr double pi = std::numbers::pi;
  std::vector<double> lrs = current_lrs();
  if (last_epoch_ == 0) return lrs;
  const double e = static_cast<double>(last_epoch_), t = static_cast<double>(t_max_);
  if ((last_epoch_ - 1 - t_max_) % (2 * t_max_) == 0) {  // the restart of a new cycle
    for (size_t i = 0; i < lrs.size(); ++i)
      lrs[i] = lrs[i] + (base_lrs_[i] - eta_min_) * (1 - std::cos(pi / t)) / 2;
    return lrs;
  }
  for (double& lr : lrs)
    lr = (1 + std::cos(pi * e / t)) / (1 + std::cos(pi * (e - 1) / t)) * (lr - eta_min_) + eta_min_;
  return lrs;
}

void CosineAnnealingLR::save_params(SchedulerStateDict& out) const {
  out.values["T_max"] = static_cast<double>(t_max_);
  out.values["eta_min"] = eta_min_;
}

void CosineAnnealingLR::load_params(const SchedulerStateDict& in) {
  const int64_t t_max = integral(value(in, "T_max"), "CosineAnnealingLR.load_state_dict: T_max");
  if (t_max < 1) throw Error("CosineAnnealingLR.load_state_dict: T_max must be >= 1, got " + std::to_string(t_max));
  const double eta_min = value(in, "eta_min");
  t_max_ = t_max;
  eta_min_ = eta_min;
}

}  // namespace sepal::optim
