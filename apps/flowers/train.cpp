// train.cpp: `flowers train`: set_up_run builds the model, optimizer and scheduler from the
// flags, resume_run resumes through the planner when asked, then run_epochs (train_loop.cpp) runs
// epochs of a train and a valid phase, keeping the last and best checkpoints, history.json and the
// report in --out.
#include <cstdio>

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

void print_lines(const std::vector<std::string>& lines) {
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
}

}  // namespace

void set_up_run(TrainRun& run) {
  const TrainConfig& c = run.c;
  run.device = choose_device(c.device);
  run.data = open_data(c);
  const DataSetup& d = run.data;
  run.train_tf = train_pipeline(c, d.is_idx);
  run.valid_tf = valid_pipeline(c.image_size, effective_resize(c, d.is_idx));
  run.num_classes = static_cast<int64_t>(d.classes.size());
  std::printf("data: %s\n", d.description.c_str());
  std::printf("device: %s%s\n", run.device.str().c_str(), apply_compute_flags(c.compute, run.device).c_str());

  // the model, its starting weights and its trainable set
  run.model = build_model(c.arch, run.num_classes, c.seed);
  if (!c.resume.empty()) {
    run.resume_from = ckpt::load_checkpoint(c.resume);
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
  run.opt = make_optimizer(c, *run.model);
  run.scheduler = std::make_unique<EpochScheduler>(c, *run.opt);

  std::printf("model: %s, %lld classes, mode %s\n", c.arch.c_str(), static_cast<long long>(run.num_classes),
              c.mode.c_str());
  print_lines(model_summary(*run.model, *run.opt));
  run.meta = base_meta(c, d, run.valid_tf);
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

int run_training(const TrainConfig& c) {
  TrainRun run(c);
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

int train_command(const std::vector<std::string>& argv) {
  Args args("train", "[options]",
            "Trains a ResNet on an image folder (train/ and valid/), an IDX folder, or the built-in demo\n"
            "flowers, keeping the best and last checkpoints, history.json, curves.png and report.html in --out.");
  declare_train_flags(args);
  if (!args.parse(argv)) return 0;
  return run_training(read_train_config(args));
}

}  // namespace flowers
