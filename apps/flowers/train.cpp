// train.cpp: `flowers train`: set_up_run builds the model, optimizer and scheduler from the
// flags, resume_run resumes through the planner when asked, then run_epochs (train_loop.cpp) runs
// epochs of a train and a valid phase, keeping the last and best checkpoints, history.json and the
// report in --out.
#include <cstdio>
#include <fstream>
#include <iterator>

#include "checkpoint/checkpoint.h"
#include "checkpoint/resume.h"
#include "checkpoint/safetensors.h"
#include "commands.h"
#include "report.h"
#include "resume_check.h"
#include "train_run.h"

namespace flowers {

namespace ckpt = sepal::checkpoint;

namespace {

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
  m.counters["global_batch"] = c.batch_size;
  return m;
}

void print_lines(const std::vector<std::string>& lines) {
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
}

// The resume plan's lines about the job's shape: the world size and global batch the checkpoint
// was trained with against this run's ("" when both are the same or unrecorded).
std::string describe_world_change(const ckpt::TrainingMeta& saved, int64_t global_batch, int world_size) {
  const auto ws = saved.counters.find("world_size");
  const auto gb = saved.counters.find("global_batch");
  const bool size_changed = ws != saved.counters.end() && ws->second != world_size;
  const bool batch_changed = gb != saved.counters.end() && gb->second != global_batch;
  if (!size_changed && !batch_changed) return "";
  std::string s = "  job: ";
  s += ws != saved.counters.end() ? std::to_string(ws->second) : std::string("?");
  s += " -> " + std::to_string(world_size) + " ranks, global batch ";
  s += gb != saved.counters.end() ? std::to_string(gb->second) : std::string("?");
  s += " -> " + std::to_string(global_batch);
  s += batch_changed ? ": batches are cut differently, so a partly trained epoch restarts\n"
                     : ": same global batch, so training continues exactly (batch order included)\n";
  return s;
}

// --resume's checkpoint: rank 0 reads the file and sends its bytes to the other ranks (no shared
// file system needed); every rank parses the same bytes.
ckpt::Checkpoint read_resume_checkpoint(const TrainRun& run) {
  if (!run.job.distributed()) return ckpt::load_checkpoint(run.c.resume);
  std::string bytes;
  if (run.job.root()) {
    std::ifstream in(run.c.resume, std::ios::binary);
    if (!in) throw sepal::Error("cannot open " + run.c.resume);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  run.job.comm->broadcast_bytes(bytes, 0);
  return ckpt::parse_checkpoint(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), run.c.resume);
}

}  // namespace

void set_up_run(TrainRun& run) {
  const TrainConfig& c = run.c;
  Job& job = run.job;
  if (job.distributed() && c.cache_features)
    throw UsageError("--cache-features is single-process: drop it under mpirun (or use --dist off)");
  if (job.distributed() && c.profile_steps > 0)
    throw UsageError("--profile times one process: drop it under mpirun (or use --dist off)");
  // rank 0 first: it may generate the demo data the others then read
  if (job.root()) run.data = open_data(c);
  job.comm->barrier();
  if (!job.root()) run.data = open_data(c);
  const DataSetup& d = run.data;
  run.train_tf = train_pipeline(c, d.is_idx);
  run.valid_tf = valid_pipeline(c.image_size, effective_resize(c, d.is_idx));
  run.num_classes = static_cast<int64_t>(d.classes.size());
  std::printf("data: %s\n", d.description.c_str());
  std::printf("device: %s%s\n", run.device.str().c_str(), apply_compute_flags(c.compute, run.device).c_str());
  if (job.distributed())
    std::printf("distributed: %s; global batch %lld (about %lld per rank)%s\n", job.describe().c_str(),
                static_cast<long long>(c.batch_size),
                static_cast<long long>((c.batch_size + job.comm->size() - 1) / job.comm->size()),
                c.sync_bn ? ", BatchNorm synchronised (--sync-bn)" : ", BatchNorm local to each rank");

  // the model, its starting weights and its trainable set
  run.model = build_model(c.arch, run.num_classes, c.seed);
  if (!c.resume.empty()) {
    run.resume_from = read_resume_checkpoint(run);
    run.other_run = other_run_reason(run.resume_from->meta, c.resume, c.arch, d.classes);
  } else if (!c.pretrained.empty()) {
    print_lines(load_pretrained(*run.model, sepal::checkpoint::load_safetensors(c.pretrained), c.pretrained, true));
  } else if (!c.init_from.empty()) {
    ckpt::Checkpoint source = ckpt::load_checkpoint(c.init_from);
    // A head trained on other classes must not be reused, even with the same class count.
    const bool same_classes = source.meta.classes == d.classes;
    print_lines(load_pretrained(*run.model, source.model, c.init_from, same_classes));
  }
  apply_mode(*run.model, c.mode);
  run.model->to(run.device);
  // the ranks agree on the model and start from rank 0's weights; gradients are summed across them
  sepal::dist::DataParallelOptions dpo;
  dpo.sync_bn = c.sync_bn;
  dpo.buckets.bucket_mb = c.bucket_mb;
  run.dp = std::make_unique<sepal::dist::DataParallel>(*job.comm, *run.model, dpo);
  run.opt = make_optimizer(c, *run.model);
  run.scheduler = std::make_unique<EpochScheduler>(c, *run.opt);

  std::printf("model: %s, %lld classes, mode %s\n", c.arch.c_str(), static_cast<long long>(run.num_classes),
              c.mode.c_str());
  print_lines(model_summary(*run.model, *run.opt));
  run.meta = base_meta(c, d, run.valid_tf);
  run.meta.counters["world_size"] = job.comm->size();
  run.loader_seed = c.seed;
}

std::optional<int> resume_run(TrainRun& run) {
  const TrainConfig& c = run.c;
  const ckpt::Checkpoint& from = *run.resume_from;
  ckpt::ResumePlan plan = ckpt::plan_resume(from, *run.model, *run.opt, run.scheduler->get(), c.resume_policy);
  std::printf("\nresume plan for %s:\n%s\n", c.resume.c_str(), plan.str().c_str());
  if (!run.other_run.empty()) {
    std::printf("resume refused: %s. Nothing was trained.\n", run.other_run.c_str());
    return 3;
  }
  if (plan.refused()) {
    std::printf("resume refused: nothing was trained. Choose --resume-policy merge or weights-only, "
                "or change the options to match the checkpoint.\n");
    return 3;
  }
  if (c.dry_run) return 0;
  const ckpt::TrainingMeta& saved = from.meta;
  // a full resume continues the saved position (read before anything is loaded: a malformed one
  // changes nothing)
  if (plan.continues_run()) {
    run.start = ckpt::TrainingCursor::decode(saved, c.resume);
    if (auto it = saved.generators.find("loader"); it != saved.generators.end()) run.loader_seed = it->second.first;
    // Global batch t is the same slice of the epoch's order for any number of ranks, so the
    // position carries over unless the global batch changed: then the epoch restarts.
    const std::string change = describe_world_change(saved, c.batch_size, run.job.comm->size());
    if (!change.empty()) std::printf("%s", change.c_str());
    const auto gb = saved.counters.find("global_batch");
    if (run.start.batch > 0 && gb != saved.counters.end() && gb->second != c.batch_size) {
      std::printf("  the checkpoint stopped after batch %lld of epoch %lld: that epoch restarts from its first batch\n",
                  static_cast<long long>(run.start.batch), static_cast<long long>(run.start.epoch + 1));
      run.start = ckpt::TrainingCursor{run.start.epoch, 0, std::nullopt};
    }
  }
  ckpt::apply_resume(plan, from, *run.model, *run.opt, run.scheduler->get());
  // The run's story continues in every policy: its epochs, history and best accuracy.
  ckpt::TrainingMeta& meta = run.meta;
  meta.epoch = saved.epoch;
  meta.history = saved.history;
  meta.best_val_acc = saved.best_val_acc;
  meta.best_epoch = saved.best_epoch;
  carry_report_strings(saved, meta);  // earlier resumes and images per epoch, for the report
  add_resume_event(meta, {saved.epoch, ckpt::to_string(plan.policy), ckpt::action_name(plan.action), plan.str()});
  return std::nullopt;
}

namespace {
int train_job(const TrainConfig& c, Job& job, sepal::Device device) {
  TrainRun run(c, job);
  run.device = device;
  set_up_run(run);
  if (run.resume_from)
    if (std::optional<int> rc = resume_run(run)) return *rc;
  if (c.dry_run) return 0;
  if (c.profile_steps > 0) return run_profile(run);
  if (run.meta.epoch >= c.epochs) {
    std::printf("nothing to do: the checkpoint has %lld epochs and --epochs is %lld\n",
                static_cast<long long>(run.meta.epoch), static_cast<long long>(c.epochs));
    return 0;
  }
  return run_epochs(run);
}
}  // namespace

int run_training(const TrainConfig& c) {
  const std::optional<sepal::dist::LaunchInfo> launch = sepal::dist::detect_launch();
  const sepal::Device device = choose_device(c.device, c.dist != "off" && launch ? launch->local_rank : 0);
  Job job = open_job(c, device);
  if (!job.distributed()) return train_job(c, job, device);
  silence_other_ranks(job);
  try {
    const int rc = train_job(c, job, device);
    job.comm->barrier();  // no rank exits (mpirun then ends the job) before rank 0 has saved
    return rc;
  } catch (const UsageError& e) {
    abort_job(job, e.what(), 2);
  } catch (const std::exception& e) {
    abort_job(job, e.what(), 1);
  }
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
