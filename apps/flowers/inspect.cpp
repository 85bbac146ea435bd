// inspect.cpp: `flowers inspect CHECKPOINT [--against "TRAIN OPTIONS"]`: what a checkpoint holds
// (metadata, tensors with their identity, optimizer groups and state, scheduler, history) and,
// with --against, the resume plan for a run with those train options.
#include <algorithm>
#include <cstdio>
#include <map>

#include "checkpoint/checkpoint.h"
#include "checkpoint/resume.h"
#include "commands.h"
#include "data_setup.h"
#include "model_setup.h"
#include "report.h"
#include "resume_check.h"

namespace flowers {

namespace ckpt = sepal::checkpoint;

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void print_meta(const ckpt::TrainingMeta& m) {
  std::printf("sepal %s checkpoint: %s, %lld classes, mode %s, %lld epochs done\n", m.sepal_version.c_str(),
              m.arch.c_str(), static_cast<long long>(m.num_classes), m.mode.c_str(), static_cast<long long>(m.epoch));
  std::printf("best valid accuracy %.4f at epoch %lld\n", m.best_val_acc, static_cast<long long>(m.best_epoch));
  std::printf("image size %lld, resize %lld, mean", static_cast<long long>(m.image_size), static_cast<long long>(m.resize));
  for (double v : m.mean) std::printf(" %.3f", v);
  std::printf(", std");
  for (double v : m.std) std::printf(" %.3f", v);
  std::printf("\n");
  if (!m.classes.empty()) {
    std::printf("classes:");
    for (size_t i = 0; i < m.classes.size() && i < 12; ++i)
      std::printf(" %s%s%s", m.classes[i].c_str(),
                  i < m.class_names.size() && m.class_names[i] != m.classes[i] ? ("=" + m.class_names[i]).c_str() : "",
                  i + 1 < m.classes.size() ? "," : "");
    if (m.classes.size() > 12) std::printf(" ... and %zu more", m.classes.size() - 12);
    std::printf("\n");
  }
  for (const auto& [k, v] : m.strings)  // the report's records (report.h) are summarised below
    if (k.rfind("partial.", 0) != 0 && k != "resumes" && k != "epoch_images" && k != "skipped")
      std::printf("%s: %s\n", k.c_str(), v.c_str());
  for (const auto& r : resume_events(m))
    std::printf("resumed after epoch %lld: policy %s, %s\n", static_cast<long long>(r.epoch), r.policy.c_str(),
                r.action.c_str());
  for (const auto& [k, v] : m.counters) std::printf("%s: %lld\n", k.c_str(), static_cast<long long>(v));
  for (const auto& [k, v] : m.generators)
    std::printf("generator %s: seed %llu offset %llu\n", k.c_str(), static_cast<unsigned long long>(v.first),
                static_cast<unsigned long long>(v.second));
}

void print_tensors(const ckpt::Checkpoint& c, bool all) {
  int64_t params = 0, trainable = 0;
  std::map<int64_t, int64_t> per_group;
  for (const auto& p : c.params) {
    int64_t n = 1;
    for (int64_t d : p.shape) n *= d;
    params += n;
    if (p.trainable) trainable += n;
    ++per_group[p.group];
  }
  std::printf("\nmodel: %zu tensors (%zu parameters: %lld values, %lld trainable)\n", c.model.size(), c.params.size(),
              static_cast<long long>(params), static_cast<long long>(trainable));
  size_t shown = 0;
  for (const auto& p : c.params) {
    if (!all && shown >= 8 && !p.trainable) continue;
    if (!all && shown >= 16) break;
    std::printf("  %-36s %-18s %-8s group %lld\n", p.name.c_str(), shape_text(p.shape).c_str(),
                p.trainable ? "trainable" : "frozen", static_cast<long long>(p.group));
    ++shown;
  }
  if (!all && shown < c.params.size()) std::printf("  ... (--all-tensors lists all %zu)\n", c.params.size());
}

void print_optimizer(const ckpt::Checkpoint& c) {
  if (!c.optimizer) {
    std::printf("\noptimizer: none saved\n");
    return;
  }
  const auto& o = *c.optimizer;
  std::printf("\noptimizer %s: %zu groups, state for %zu parameters\n", o.type.c_str(), o.groups.size(), o.state.size());
  for (size_t g = 0; g < o.groups.size(); ++g) {
    std::printf("  group %zu: %zu parameters;", g, o.groups[g].params.size());
    for (const auto& [k, v] : o.groups[g].options) std::printf(" %s=%g", k.c_str(), v);
    std::printf("\n");
  }
  int64_t lo = INT64_MAX, hi = 0;
  for (const auto& [name, st] : o.state) {
    lo = std::min(lo, st.step);
    hi = std::max(hi, st.step);
  }
  if (!o.state.empty()) {
    const auto& first = *o.state.begin();
    std::printf("  steps per parameter: %lld..%lld; buffers:", static_cast<long long>(lo), static_cast<long long>(hi));
    for (const auto& [b, t] : first.second.buffers) std::printf(" %s", b.c_str());
    std::printf("\n");
  }
  if (c.scheduler) {
    std::printf("scheduler %s:", c.scheduler->type.c_str());
    for (const auto& [k, v] : c.scheduler->values) std::printf(" %s=%g", k.c_str(), v);
    for (const auto& [k, list] : c.scheduler->lists) {
      std::printf(" %s=[", k.c_str());
      for (size_t i = 0; i < list.size(); ++i) std::printf("%s%g", i ? ", " : "", list[i]);
      std::printf("]");
    }
    std::printf("\n");
  }
}

void print_history(const ckpt::TrainingMeta& m) {
  if (m.history.empty()) return;
  std::printf("\nhistory:\n%5s %10s %9s %10s %9s %8s  %s\n", "epoch", "train_loss", "train_acc", "val_loss", "val_acc",
              "seconds", "lr");
  for (const auto& r : m.history) {
    std::printf("%5lld %10.4f %9.4f %10.4f %9.4f %8.1f ", static_cast<long long>(r.epoch), r.train_loss, r.train_acc,
                r.val_loss, r.val_acc, r.seconds);
    for (double v : r.lrs) std::printf(" %.3g", v);
    std::printf("\n");
  }
}

}  // namespace

int inspect_command(const std::vector<std::string>& argv) {
  Args a("inspect", "CHECKPOINT [--against \"TRAIN OPTIONS\"] [--all-tensors]",
         "Prints what a checkpoint holds: metadata, tensors (shape, trainable, optimizer group),\n"
         "optimizer groups and state, scheduler and history. With --against, the resume plan for a\n"
         "`flowers train` run with those options (e.g. --against \"--mode finetune --head-lr 1e-3\n"
         "--backbone-lr 1e-5 --resume-policy merge\").");
  a.positionals("CHECKPOINT", "a flowers checkpoint", 1, 1);
  a.value("--against", "OPTIONS", "train options to plan a resume against");
  a.toggle("--all-tensors", "list every parameter");
  if (!a.parse(argv)) return 0;
  const std::string path = a.rest()[0];
  ckpt::Checkpoint c = ckpt::load_checkpoint(path);
  print_meta(c.meta);
  print_tensors(c, a.on("--all-tensors"));
  print_optimizer(c);
  print_history(c.meta);
  if (!a.given("--against")) return 0;

  Args t("train", "", "");
  declare_train_flags(t);
  std::vector<std::string> words = split_words(a.text("--against"));
  if (std::find(words.begin(), words.end(), "--resume") == words.end()) {
    words.push_back("--resume");  // the plan is against this checkpoint
    words.push_back(path);
  }
  t.parse(words);
  TrainConfig config = read_train_config(t);
  // the model `train` would build: its --arch, and the classes of its --data (without --data,
  // the checkpoint's own classes: the demo flowers would be generated, and inspect writes nothing)
  const std::vector<std::string> classes = config.data.empty() ? c.meta.classes : open_data(config).classes;
  const int64_t num_classes = classes.empty() ? c.meta.num_classes : static_cast<int64_t>(classes.size());
  auto model = build_model(config.arch, num_classes, config.seed);
  apply_mode(*model, config.mode);
  auto opt = make_optimizer(config, *model);
  EpochScheduler sched(config, *opt);
  ckpt::ResumePlan plan = ckpt::plan_resume(c, *model, *opt, sched.get(), config.resume_policy);
  std::printf("\nresume plan against: %s%s\n%s", a.text("--against").c_str(),
              config.data.empty() ? " (no --data: against the checkpoint's classes)" : "", plan.str().c_str());
  const std::string other_run = other_run_reason(c.meta, path, config.arch, classes.empty() ? c.meta.classes : classes);
  if (!other_run.empty()) std::printf("train would refuse (exit 3): %s\n", other_run.c_str());
  return 0;
}

}  // namespace flowers
