// train.cpp: `flowers train`: builds the model, optimizer and scheduler from the flags, resumes
// through the planner when asked, then runs epochs of a train and a valid phase, keeping the last
// and best checkpoints, history.json and the report in --out.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "checkpoint/cursor.h"
#include "checkpoint/keeper.h"
#include "checkpoint/resume.h"
#include "checkpoint/safetensors.h"
#include "commands.h"
#include "data/image_folder.h"
#include "data_setup.h"
#include "feature_cache.h"
#include "model_setup.h"
#include "phases.h"
#include "progress.h"
#include "report.h"
#include "resume_check.h"

namespace flowers {

namespace ckpt = sepal::checkpoint;
namespace fs = std::filesystem;

namespace {

sepal::Device choose_device(const std::string& text) {
  if (text == "auto") return sepal::Device::best();
  sepal::Device d = sepal::Device::parse(text);
  if (d.is_cuda() && d.index >= sepal::cuda_device_count())
    throw UsageError("--device " + text + ": no such CUDA device (" + std::to_string(sepal::cuda_device_count()) +
                     " present" + (sepal::built_with_cuda() ? "" : "; this build has no CUDA backend") + ")");
  return d;
}

ckpt::TrainingMeta base_meta(const TrainConfig& c, const DataSetup& d, const data::ImagePipeline& valid) {
  ckpt::TrainingMeta m;
  m.mode = c.mode;
  m.arch = c.arch;
  m.num_classes = static_cast<int64_t>(d.classes.size());
  m.classes = d.classes;
  m.class_names = d.class_names;
  m.image_size = c.image_size;
  m.resize = effective_resize(c, d.is_idx);
  m.mean = valid.mean;
  m.std = valid.std;
  m.strings["optimizer"] = c.optimizer;
  m.strings["scheduler"] = c.scheduler;
  m.strings["data"] = c.data.empty() ? "(built-in demo flowers)" : c.data;
  m.strings["options"] = describe(c);
  m.generators["loader"] = {c.seed, 0};
  return m;
}

std::string lr_text(const std::vector<double>& lrs) {
  std::string s;
  char buf[32];
  for (size_t g = 0; g < lrs.size(); ++g) {
    std::snprintf(buf, sizeof buf, "%s%.3g", g ? "/" : "", lrs[g]);
    s += buf;
  }
  return s;
}

std::vector<double> current_lrs(const sepal::optim::Optimizer& opt) {
  std::vector<double> lrs;
  for (size_t g = 0; g < opt.num_param_groups(); ++g) lrs.push_back(opt.lr(g));
  return lrs;
}

void print_lines(const std::vector<std::string>& lines) {
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
}

// Each ImageFolder split's skipped files (scan and decode), recorded for the report and printed
// as one line per split under --skip-bad-images.
void record_skips(const DataSetup& d, bool print, ckpt::TrainingMeta& meta) {
  const std::pair<const char*, const data::Dataset*> splits[] = {{"train", d.splits.train.get()},
                                                                 {"valid", d.splits.valid.get()}};
  for (const auto& [key, set] : splits)
    if (const auto* folder = dynamic_cast<const data::ImageFolder*>(set)) {
      const data::SkipTally tally = folder->skip_tally();
      record_skipped(meta, key, folder->split_name(), tally);
      if (print) std::printf("%s\n", tally.summary(folder->split_name()).c_str());
    }
}

}  // namespace

int run_training(const TrainConfig& c) {
  const sepal::Device device = choose_device(c.device);
  DataSetup d = open_data(c);
  const data::ImagePipeline train_tf = train_pipeline(c, d.is_idx);
  const data::ImagePipeline valid_tf = valid_pipeline(c.image_size, effective_resize(c, d.is_idx));
  const int64_t num_classes = static_cast<int64_t>(d.classes.size());
  std::printf("data: %s\n", d.description.c_str());
  std::printf("device: %s%s\n", device.str().c_str(), apply_gpu_flags(c.gpu, device).c_str());

  // ---- the model, its starting weights and its trainable set ----
  auto model = build_model(c.arch, num_classes, c.seed);
  std::optional<ckpt::Checkpoint> resume_from;
  std::string other_run;  // why the checkpoint is another run's (refused after showing the plan)
  if (!c.resume.empty()) {
    resume_from = ckpt::load_checkpoint(c.resume);
    other_run = other_run_reason(resume_from->meta, c.resume, c.arch, d.classes);
  } else if (!c.pretrained.empty()) {
    print_lines(load_pretrained(*model, sepal::checkpoint::load_safetensors(c.pretrained), c.pretrained, true));
  } else if (!c.init_from.empty()) {
    ckpt::Checkpoint source = ckpt::load_checkpoint(c.init_from);
    // A head trained on other classes must not be reused, even with the same class count.
    const bool same_classes = source.meta.classes == d.classes;
    print_lines(load_pretrained(*model, source.model, c.init_from, same_classes));
  }
  apply_mode(*model, c.mode);
  model->to(device);
  auto opt = make_optimizer(c, *model);
  EpochScheduler scheduler(c, *opt);

  std::printf("model: %s, %lld classes, mode %s\n", c.arch.c_str(), static_cast<long long>(num_classes), c.mode.c_str());
  print_lines(model_summary(*model, *opt));

  // ---- resuming ----
  ckpt::TrainingMeta meta = base_meta(c, d, valid_tf);
  int64_t start_batch = 0;
  uint64_t loader_seed = c.seed;  // a full resume continues the saved shuffle and augmentation
  PhaseTotals partial;
  double partial_seconds = 0;
  if (resume_from) {
    ckpt::ResumePlan plan = ckpt::plan_resume(*resume_from, *model, *opt, scheduler.get(),
                                              c.resume_policy);
    std::printf("\nresume plan for %s:\n%s\n", c.resume.c_str(), plan.str().c_str());
    if (!other_run.empty()) {
      std::printf("resume refused: %s. Nothing was trained.\n", other_run.c_str());
      return 3;
    }
    if (plan.refused()) {
      std::printf("resume refused: nothing was trained. Choose --resume-policy merge or weights-only, "
                  "or change the options to match the checkpoint.\n");
      return 3;
    }
    if (c.dry_run) return 0;
    ckpt::apply_resume(plan, *resume_from, *model, *opt, scheduler.get());
    const auto& saved = resume_from->meta;
    // The run's story continues in every policy: its epochs, history and best accuracy.
    meta.epoch = saved.epoch;
    meta.history = saved.history;
    meta.best_val_acc = saved.best_val_acc;
    meta.best_epoch = saved.best_epoch;
    carry_report_strings(saved, meta);  // earlier resumes and images per epoch, for the report
    add_resume_event(meta, {saved.epoch, ckpt::to_string(plan.policy), ckpt::action_name(plan.action), plan.str()});
    if (plan.continues_run()) {
      const ckpt::TrainingCursor cursor = ckpt::TrainingCursor::decode(saved, c.resume);
      start_batch = cursor.batch;
      if (auto it = saved.generators.find("loader"); it != saved.generators.end()) loader_seed = it->second.first;
      if (cursor.partial) {
        partial.count = cursor.partial->count;
        partial.correct = cursor.partial->correct;
        partial.loss_sum = cursor.partial->loss_sum;
        partial_seconds = cursor.partial->seconds;
      }
    }
  }
  if (c.dry_run) return 0;
  if (meta.epoch >= c.epochs) {
    std::printf("nothing to do: the checkpoint has %lld epochs and --epochs is %lld\n",
                static_cast<long long>(meta.epoch), static_cast<long long>(c.epochs));
    return 0;
  }

  // ---- the loop ----
  data::DataLoaderOptions lo;
  lo.batch_size = c.batch_size;
  lo.workers = c.workers;
  lo.seed = loader_seed;
  meta.generators["loader"] = {loader_seed, 0};
  lo.device = device;
  data::DataLoaderOptions vo = lo;
  lo.shuffle = true;
  data::DataLoader valid_loader(d.splits.valid, valid_tf, vo);
  std::unique_ptr<data::DataLoader> train_loader;
  std::unique_ptr<FeatureCache> cache;
  if (c.cache_features) {
    std::printf("caching the frozen backbone's features of %zu train and %zu valid images...\n",
                d.splits.train->size(), d.splits.valid->size());
    cache = std::make_unique<FeatureCache>(*model, d.splits.train, d.splits.valid, valid_tf, lo);
    std::printf("features cached in %.1f s\n", cache->seconds_to_build());
  } else {
    train_loader = std::make_unique<data::DataLoader>(d.splits.train, train_tf, lo);
  }
  ckpt::CheckpointKeeper keeper(c.out, static_cast<size_t>(c.keep_last));
  // the best so far is the run's, also when it resumes into a new --out: an epoch becomes
  // best.sepal only when it beats every epoch before the resume too
  const int64_t resumed_at = meta.epoch;
  if (resume_from && meta.best_epoch > 0) keeper.carry_best(meta.best_val_acc);
  install_interrupt_handler();

  std::printf("\n%5s %7s %10s %9s %10s %9s  %s\n", "epoch", "time", "train_loss", "train_acc", "val_loss", "val_acc",
              "lr (head/backbone)");
  for (int64_t epoch = meta.epoch; epoch < c.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<double> lrs = current_lrs(*opt);
    set_train_mode(*model, c.mode);
    PhaseTotals totals = partial;
    TrainPhase tp;
    PhaseTotals valid;
    if (cache) {
      tp = cache->train_epoch(*model, *opt, epoch, totals, c.max_batches);
      valid = cache->evaluate(*model, c.max_batches);
    } else {
      if (start_batch > 0) train_loader->restore({loader_seed, epoch, start_batch});
      else train_loader->start_epoch(epoch);
      tp = train_phase(*model, *train_loader, *opt, totals, start_batch, c.max_batches);
    }
    const double seconds =
        partial_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    start_batch = 0;
    partial = {};
    partial_seconds = 0;

    if (tp.end == PhaseEnd::NonFiniteLoss) {
      std::fprintf(stderr, "flowers train: stopped: %s of epoch %lld. Nothing was saved for this epoch",
                   tp.message.c_str(), static_cast<long long>(epoch + 1));
      if (fs::exists(keeper.best_path()))
        std::fprintf(stderr, "; the best checkpoint (epoch %lld, valid acc %.4f) is intact at %s",
                     static_cast<long long>(meta.best_epoch), meta.best_val_acc, keeper.best_path().c_str());
      std::fprintf(stderr, ". Try a smaller --lr.\n");
      return 1;
    }
    const bool mid_epoch = tp.end == PhaseEnd::Interrupted && !cache &&
                           tp.batch < static_cast<int64_t>(train_loader->num_batches());
    if (mid_epoch) {
      ckpt::TrainingMeta m = meta;  // epoch not finished: meta.epoch stays at the completed count
      ckpt::TrainingCursor{epoch, tp.batch, ckpt::PartialEpoch{totals.count, totals.correct, totals.loss_sum, seconds}}
          .encode(m);
      const std::string path = keeper.save_last(ckpt::capture(*model, opt.get(), scheduler.get(), m));
      std::printf("\ninterrupted in epoch %lld after batch %lld: saved %s (also %s).\nresume with: flowers train "
                  "%s --resume %s\n",
                  static_cast<long long>(epoch + 1), static_cast<long long>(tp.batch), path.c_str(),
                  keeper.last_path().c_str(), describe(c).c_str(), keeper.last_path().c_str());
      return 130;
    }
    if (!cache) valid = eval_phase(*model, valid_loader, num_classes, nullptr, c.max_batches);
    scheduler.epoch_end(valid.loss());

    ckpt::EpochRecord record{epoch + 1, totals.loss(), totals.acc(), valid.loss(), valid.acc(), lrs, seconds};
    meta.history.push_back(record);
    record_epoch_images(meta, epoch + 1, totals.count);
    record_skips(d, false, meta);
    meta.epoch = epoch + 1;
    ckpt::TrainingCursor{epoch + 1, 0, std::nullopt}.encode(meta);
    ckpt::Checkpoint snapshot = ckpt::capture(*model, opt.get(), scheduler.get(), meta);
    const bool best = keeper.save_if_best(snapshot, valid.acc());
    if (best) {
      meta.best_val_acc = snapshot.meta.best_val_acc = valid.acc();
      meta.best_epoch = snapshot.meta.best_epoch = epoch + 1;
    }
    keeper.save_last(snapshot);
    write_run_report(c.out, meta, "flowers: " + c.arch + " " + c.mode);
    std::printf("%5lld %6.1fs %10.4f %9.4f %10.4f %9.4f  %s%s\n", static_cast<long long>(epoch + 1), seconds,
                totals.loss(), totals.acc(), valid.loss(), valid.acc(), lr_text(lrs).c_str(), best ? "  *best" : "");
    std::fflush(stdout);
    if (tp.end == PhaseEnd::Interrupted) {
      std::printf("interrupted at the end of epoch %lld: saved %s.\nresume with: flowers train %s --resume %s\n",
                  static_cast<long long>(epoch + 1), keeper.last_path().c_str(), describe(c).c_str(),
                  keeper.last_path().c_str());
      return 130;
    }
  }
  if (!keeper.warning().empty()) std::printf("note: %s\n", keeper.warning().c_str());
  if (c.skip_bad_images) record_skips(d, true, meta);
  // a best from before a resume into another --out has its weights where that run kept them
  std::string best_where = keeper.best_path();
  if (resume_from && meta.best_epoch > 0 && meta.best_epoch <= resumed_at) {
    bool here = false;
    try {
      here = fs::exists(keeper.best_path()) && ckpt::load_checkpoint_meta(keeper.best_path()).best_epoch == meta.best_epoch;
    } catch (const sepal::Error&) {
    }
    if (!here)
      best_where = "before this resume (" + (fs::path(c.resume).parent_path() / "best.sepal").string() +
                   " of the run resumed from)";
  }
  std::printf("\nbest valid accuracy %.4f at epoch %lld: %s\nlast: %s\nreport: %s, curves: %s, history: %s\n",
              meta.best_val_acc, static_cast<long long>(meta.best_epoch), best_where.c_str(),
              keeper.last_path().c_str(), (fs::path(c.out) / "report.html").c_str(),
              (fs::path(c.out) / "curves.png").c_str(), (fs::path(c.out) / "history.json").c_str());
  return 0;
}

int train_command(const std::vector<std::string>& argv) {
  Args args("train", "[options]",
            "Trains a ResNet on an image folder (train/ and valid/), an IDX folder, or the built-in demo\n"
            "flowers, keeping the best and last checkpoints, history.json, curves.png and report.html in --out.");
  declare_train_flags(args);
  if (!args.parse(argv)) return 0;
  return run_training(read_train_config(args));
}

}  // namespace flowers
