// train_loop.cpp: run_epochs, the epochs of `flowers train`: each a train phase (over the data
// loader, or over cached backbone features) and a valid phase, then the scheduler's step, the
// history, the last/best checkpoints and the report. Ctrl-C saves a resumable checkpoint: mid-epoch
// with the loader's position and the partial totals (a TrainingCursor), else at the epoch's end.
// run_profile, for --profile, times a few steps instead (tensor/profiler.h).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include "checkpoint/keeper.h"
#include "data/image_folder.h"
#include "feature_cache.h"
#include "phases.h"
#include "progress.h"
#include "report.h"
#include "train_run.h"

namespace flowers {

namespace ckpt = sepal::checkpoint;
namespace fs = std::filesystem;

namespace {

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

// Each ImageFolder split's skipped files (scan and decode), recorded for the report and printed
// as one line per split under --skip-bad-images. Under mpirun each rank decodes only its shards,
// so the tallies come from gather_skip_tallies (every rank's decode failures); alone, from the
// folder itself.
using SkipTallies = std::map<std::string, data::SkipTally>;

void record_skips(const DataSetup& d, bool print, ckpt::TrainingMeta& meta, const SkipTallies& tallies) {
  const std::pair<const char*, const data::Dataset*> splits[] = {{"train", d.splits.train.get()},
                                                                 {"valid", d.splits.valid.get()}};
  for (const auto& [key, set] : splits)
    if (const auto* folder = dynamic_cast<const data::ImageFolder*>(set)) {
      const auto it = tallies.find(key);
      const data::SkipTally tally = it != tallies.end() ? it->second : folder->skip_tally();
      record_skipped(meta, key, folder->split_name(), tally);
      if (print) std::printf("%s\n", tally.summary(folder->split_name()).c_str());
    }
}

// The skip tallies of the whole job (a collective: every rank calls it; only rank 0 uses the
// result). The scan's skips are the same on every rank; the decode failures of each rank are
// sent to all, and a file counts once whichever ranks failed on it.
SkipTallies gather_skip_tallies(const TrainRun& run) {
  SkipTallies out;
  if (!run.job.distributed()) return out;
  const std::pair<const char*, const data::Dataset*> splits[] = {{"train", run.data.splits.train.get()},
                                                                 {"valid", run.data.splits.valid.get()}};
  for (const auto& [key, set] : splits) {
    const auto* folder = dynamic_cast<const data::ImageFolder*>(set);
    if (!folder) continue;
    std::map<std::string, std::string> decode;  // path -> reason, over all ranks
    std::string mine;
    for (const data::SkippedFile& f : folder->decode_skipped())
      mine += std::to_string(f.path.size()) + ":" + f.path + std::to_string(f.reason.size()) + ":" + f.reason;
    for (int r = 0; r < run.job.comm->size(); ++r) {
      std::string bytes = mine;
      run.job.comm->broadcast_bytes(bytes, r);
      for (size_t at = 0; at < bytes.size();) {
        auto field = [&] {
          const size_t colon = bytes.find(':', at);
          const size_t n = std::stoul(bytes.substr(at, colon - at));
          std::string v = bytes.substr(colon + 1, n);
          at = colon + 1 + n;
          return v;
        };
        std::string path = field();
        decode.emplace(std::move(path), field());
      }
    }
    std::vector<data::SkippedFile> all = folder->skipped_files();
    for (auto& [path, reason] : decode) all.push_back({path, reason});
    out[key] = data::tally_skipped(folder->size() + folder->skipped_files().size(), all);
  }
  return out;
}

// The loaders of the run: the valid loader, and the train loader or the feature cache.
struct Loaders {
  std::unique_ptr<data::DataLoader> valid, train;
  std::unique_ptr<FeatureCache> cache;
};

Loaders open_loaders(TrainRun& run) {
  const TrainConfig& c = run.c;
  data::DataLoaderOptions lo;
  lo.batch_size = c.batch_size;
  lo.workers = c.workers;
  lo.seed = run.loader_seed;
  run.meta.generators["loader"] = {run.loader_seed, 0};
  lo.device = run.device;
  lo.shard_index = run.job.comm->rank();  // each rank loads its part of every global batch
  lo.shard_count = run.job.comm->size();
  data::DataLoaderOptions vo = lo;
  lo.shuffle = true;
  Loaders l;
  l.valid = std::make_unique<data::DataLoader>(run.data.splits.valid, run.valid_tf, vo);
  if (c.cache_features) {
    std::printf("caching the frozen backbone's features of %zu train and %zu valid images...\n",
                run.data.splits.train->size(), run.data.splits.valid->size());
    l.cache = std::make_unique<FeatureCache>(*run.model, run.data.splits.train, run.data.splits.valid, run.valid_tf, lo);
    std::printf("features cached in %.1f s\n", l.cache->seconds_to_build());
  } else {
    l.train = std::make_unique<data::DataLoader>(run.data.splits.train, run.train_tf, lo);
  }
  return l;
}

// One epoch's train phase and, with the feature cache, its valid phase (else run after it).
struct EpochResult {
  TrainPhase train;
  PhaseTotals totals, valid;
  double seconds = 0;  // including the partial epoch's before a resume
};

EpochResult train_epoch(TrainRun& run, Loaders& l, int64_t epoch) {
  const TrainConfig& c = run.c;
  const auto t0 = std::chrono::steady_clock::now();
  set_train_mode(*run.model, c.mode);
  EpochResult r;
  const std::optional<ckpt::PartialEpoch>& partial = run.start.partial;
  if (partial) {
    r.totals.count = partial->count;
    r.totals.correct = partial->correct;
    r.totals.loss_sum = partial->loss_sum;
  }
  if (l.cache) {
    r.train = l.cache->train_epoch(*run.model, *run.opt, epoch, r.totals, c.max_batches);
    r.valid = l.cache->evaluate(*run.model, c.max_batches);
  } else {
    if (run.start.batch > 0) l.train->restore({run.loader_seed, epoch, run.start.batch});
    else l.train->start_epoch(epoch);
    r.train = train_phase(*run.model, *l.train, *run.opt, *run.dp, r.totals, run.start.batch, c.max_batches,
                          {3, c.image_size, c.image_size});
  }
  r.seconds = (partial ? partial->seconds : 0.0) +
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  run.start = {};
  return r;
}

int stop_on_non_finite_loss(const TrainRun& run, const ckpt::CheckpointKeeper& keeper, const TrainPhase& tp,
                            int64_t epoch) {
  std::fprintf(stderr, "flowers train: stopped: %s of epoch %lld. Nothing was saved for this epoch",
               tp.message.c_str(), static_cast<long long>(epoch + 1));
  if (fs::exists(keeper.best_path()))
    std::fprintf(stderr, "; the best checkpoint (epoch %lld, valid acc %.4f) is intact at %s",
                 static_cast<long long>(run.meta.best_epoch), run.meta.best_val_acc, keeper.best_path().c_str());
  std::fprintf(stderr, ". Try a smaller --lr.\n");
  return 1;
}

// Ctrl-C within an epoch: a checkpoint whose cursor continues it (meta.epoch stays at the
// completed count).
int save_mid_epoch(const TrainRun& run, ckpt::CheckpointKeeper& keeper, const EpochResult& r, int64_t epoch) {
  ckpt::TrainingMeta m = run.meta;
  ckpt::TrainingCursor{epoch, r.train.batch,
                       ckpt::PartialEpoch{r.totals.count, r.totals.correct, r.totals.loss_sum, r.seconds}}
      .encode(m);
  const std::string path = keeper.save_last(ckpt::capture(*run.model, run.opt.get(), run.scheduler->get(), m));
  std::printf("\ninterrupted in epoch %lld after batch %lld: saved %s (also %s).\nresume with: flowers train "
              "%s --resume %s\n",
              static_cast<long long>(epoch + 1), static_cast<long long>(r.train.batch), path.c_str(),
              keeper.last_path().c_str(), describe(run.c).c_str(), keeper.last_path().c_str());
  return 130;
}

// A finished epoch: its record in the history, the last (and maybe best) checkpoint, the report
// and its line in the table.
void finish_epoch(TrainRun& run, ckpt::CheckpointKeeper& keeper, const EpochResult& r, const std::vector<double>& lrs,
                  int64_t epoch, const SkipTallies& skips) {
  ckpt::TrainingMeta& meta = run.meta;
  ckpt::EpochRecord record{epoch + 1, r.totals.loss(), r.totals.acc(), r.valid.loss(), r.valid.acc(), lrs, r.seconds};
  meta.history.push_back(record);
  record_epoch_images(meta, epoch + 1, r.totals.count);
  record_skips(run.data, false, meta, skips);
  meta.epoch = epoch + 1;
  ckpt::TrainingCursor{epoch + 1, 0, std::nullopt}.encode(meta);
  ckpt::Checkpoint snapshot = ckpt::capture(*run.model, run.opt.get(), run.scheduler->get(), meta);
  const bool best = keeper.save_if_best(snapshot, r.valid.acc());
  if (best) {
    meta.best_val_acc = snapshot.meta.best_val_acc = r.valid.acc();
    meta.best_epoch = snapshot.meta.best_epoch = epoch + 1;
  }
  keeper.save_last(snapshot);
  write_run_report(run.c.out, meta, "flowers: " + run.c.arch + " " + run.c.mode);
  char rate[32] = "";
  if (run.job.distributed())  // the whole job's training images per second
    std::snprintf(rate, sizeof rate, " %7.1f", r.seconds > 0 ? r.totals.count / r.seconds : 0.0);
  std::printf("%5lld %6.1fs %10.4f %9.4f %10.4f %9.4f%s  %s%s\n", static_cast<long long>(epoch + 1), r.seconds,
              r.totals.loss(), r.totals.acc(), r.valid.loss(), r.valid.acc(), rate, lr_text(lrs).c_str(),
              best ? "  *best" : "");
  std::fflush(stdout);
}

// The closing lines: where the best and last checkpoints and the report are. A best from before
// a resume into another --out has its weights where that run kept them.
void print_outcome(const TrainRun& run, const ckpt::CheckpointKeeper& keeper, int64_t resumed_at) {
  const TrainConfig& c = run.c;
  const ckpt::TrainingMeta& meta = run.meta;
  std::string best_where = keeper.best_path();
  if (run.resume_from && meta.best_epoch > 0 && meta.best_epoch <= resumed_at) {
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
}

}  // namespace

int run_profile(TrainRun& run) {
  const TrainConfig& c = run.c;
  Loaders l = open_loaders(run);
  set_train_mode(*run.model, c.mode);
  int64_t epoch = run.meta.epoch;
  l.train->start_epoch(epoch);
  auto next_batch = [&] {  // a small data set wraps around into the next epoch
    std::optional<data::Batch> b = l.train->next();
    if (!b) {
      l.train->start_epoch(++epoch);
      b = l.train->next();
    }
    if (!b) throw sepal::Error("--profile: the train split yields no batch");
    return std::move(*b);
  };
  auto step = [&](const data::Batch& batch) {
    sepal::Tensor log_probs;
    backward_step(forward_loss(*run.model, batch, &log_probs), *run.opt);
    sepal::backend_for(run.device).synchronize();
  };
  step(next_batch());  // warm-up: convolution primitives, the allocator's cache, optimizer state
  sepal::profile::Session session;
  for (int64_t i = 0; i < c.profile_steps; ++i) step(next_batch());
  const sepal::profile::Profile p = session.finish(c.profile_steps);
  std::printf("\nprofile of %lld train steps after one warm-up step (batch %lld, %lld px, --mode %s, %s); waiting "
              "for the data loader shows as (not in an op); nothing was saved\n\n%s\n%s",
              static_cast<long long>(c.profile_steps), static_cast<long long>(c.batch_size),
              static_cast<long long>(c.image_size), c.mode.c_str(), run.device.str().c_str(),
              sepal::profile::format_by_kind(p).c_str(), sepal::profile::format_by_layer(p).c_str());
  return 0;
}

int run_epochs(TrainRun& run) {
  const TrainConfig& c = run.c;
  Loaders l = open_loaders(run);
  // only rank 0 keeps checkpoints and writes the report; every rank runs every collective
  const bool root = run.job.root();
  std::optional<ckpt::CheckpointKeeper> keeper;
  if (root) keeper.emplace(c.out, static_cast<size_t>(c.keep_last));
  // the best so far is the run's, also when it resumes into a new --out: an epoch becomes
  // best.sepal only when it beats every epoch before the resume too
  const int64_t resumed_at = run.meta.epoch;
  if (root && run.resume_from && run.meta.best_epoch > 0) keeper->carry_best(run.meta.best_val_acc);
  install_interrupt_handler();

  std::printf("\n%5s %7s %10s %9s %10s %9s%s  %s\n", "epoch", "time", "train_loss", "train_acc", "val_loss", "val_acc",
              run.job.distributed() ? "   img/s" : "", "lr (head/backbone)");
  for (int64_t epoch = run.meta.epoch; epoch < c.epochs; ++epoch) {
    const std::vector<double> lrs = current_lrs(*run.opt);
    EpochResult r = train_epoch(run, l, epoch);
    if (r.train.end == PhaseEnd::NonFiniteLoss) return root ? stop_on_non_finite_loss(run, *keeper, r.train, epoch) : 1;
    const bool mid_epoch = r.train.end == PhaseEnd::Interrupted && !l.cache &&
                           r.train.batch < static_cast<int64_t>(l.train->num_batches());
    if (mid_epoch) return root ? save_mid_epoch(run, *keeper, r, epoch) : 130;
    if (!l.cache)
      r.valid = eval_phase(*run.model, *l.valid, run.num_classes, nullptr, c.max_batches, "valid", run.job.comm.get());
    run.scheduler->epoch_end(r.valid.loss());
    const SkipTallies skips = gather_skip_tallies(run);
    if (root) finish_epoch(run, *keeper, r, lrs, epoch, skips);
    if (r.train.end == PhaseEnd::Interrupted) {
      if (!root) return 130;
      std::printf("interrupted at the end of epoch %lld: saved %s.\nresume with: flowers train %s --resume %s\n",
                  static_cast<long long>(epoch + 1), keeper->last_path().c_str(), describe(c).c_str(),
                  keeper->last_path().c_str());
      return 130;
    }
  }
  const SkipTallies skips = gather_skip_tallies(run);
  if (!root) return 0;
  if (!keeper->warning().empty()) std::printf("note: %s\n", keeper->warning().c_str());
  if (c.skip_bad_images) record_skips(run.data, true, run.meta, skips);
  print_outcome(run, *keeper, resumed_at);
  return 0;
}

}  // namespace flowers
