// commands.h: the flowers subcommands. Each takes its arguments (after the command name) and
// returns the process exit status; errors are thrown (sepal::Error, UsageError) and turned into
// one line by main.
#pragma once
#include <string>
#include <vector>

#include "config.h"

namespace flowers {

int train_command(const std::vector<std::string>& args);
int evaluate_command(const std::vector<std::string>& args);
int predict_command(const std::vector<std::string>& args);
int inspect_command(const std::vector<std::string>& args);
int demo_command(const std::vector<std::string>& args);

// The training run behind `train` (and the demo's stages). Exit status: 0 done, 1 stopped on a
// non-finite loss, 3 resume refused, 130 interrupted by Ctrl-C (a resumable checkpoint saved).
int run_training(const TrainConfig& config);

}  // namespace flowers
