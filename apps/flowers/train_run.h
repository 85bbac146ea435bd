// train_run.h: one `flowers train` run's state, and the stages run_training (train.cpp) takes it
// through: set_up_run builds the data, model, optimizer and scheduler from the flags and loads
// starting weights; resume_run plans and applies --resume; run_epochs (train_loop.cpp) trains
// epoch after epoch, keeping the checkpoints, history and report in --out.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "checkpoint/checkpoint.h"
#include "checkpoint/cursor.h"
#include "config.h"
#include "data_setup.h"
#include "dist/data_parallel.h"
#include "distributed.h"
#include "model_setup.h"

namespace flowers {

struct TrainRun {
  TrainRun(const TrainConfig& config, Job& job) : c(config), job(job) {}

  const TrainConfig& c;
  Job& job;  // the ranks (one without mpirun); only rank 0 prints and writes
  std::unique_ptr<sepal::dist::DataParallel> dp;
  sepal::Device device;
  DataSetup data;
  data::ImagePipeline train_tf, valid_tf;
  int64_t num_classes = 0;
  std::shared_ptr<nn::ResNet> model;
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<EpochScheduler> scheduler;
  std::optional<sepal::checkpoint::Checkpoint> resume_from;  // --resume's checkpoint
  std::string other_run;  // why that checkpoint is another run's (refused after showing the plan)
  sepal::checkpoint::TrainingMeta meta;  // what the checkpoints record; epoch = epochs completed
  // Where the first epoch starts: a full resume continues the saved shuffle and augmentation
  // (the loader seed) and, from a mid-epoch checkpoint, its batch and partial totals.
  uint64_t loader_seed = 0;
  sepal::checkpoint::TrainingCursor start;
};

// Prints the data, device and model lines; loads --pretrained/--init-from weights, or --resume's
// checkpoint (applied by resume_run).
void set_up_run(TrainRun& run);
// Prints the resume plan and applies it. Returns the exit code when the run stops here (refused:
// 3, --dry-run: 0), else nothing.
std::optional<int> resume_run(TrainRun& run);
// Trains from meta.epoch (and `start`) up to --epochs. Returns the exit code.
int run_epochs(TrainRun& run);
// --profile N: one warm-up train step, then N profiled ones; prints the time per op kind and per
// layer and returns 0 without saving anything.
int run_profile(TrainRun& run);

}  // namespace flowers
