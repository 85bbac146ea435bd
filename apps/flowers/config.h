// config.h: TrainConfig, everything `flowers train` was asked to do, parsed from its flags. The
// same flags describe a configuration for `inspect --against` and the demo's stages.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/resume_policy.h"
#include "cli.h"
#include "compute_flags.h"

namespace flowers {

struct TrainConfig {
  std::string data;                  // ImageFolder root or IDX folder; "" = built-in demo flowers
  std::string arch = "resnet18";
  std::string pretrained;            // torchvision/timm .safetensors for the backbone
  std::string init_from;             // a flowers checkpoint whose weights start this run
  std::string mode = "feature-extract";  // feature-extract | finetune | finetune-from=<block>
  double lr = 1e-2;
  std::optional<double> head_lr, backbone_lr;
  std::string optimizer = "adam";    // adam | adamw | sgd
  double weight_decay = 0.0;
  double momentum = 0.9;             // sgd only
  std::string scheduler = "step";    // step | multistep | cosine | plateau | none
  int64_t step_size = 7;
  double gamma = 0.1;
  std::vector<int64_t> milestones;   // multistep
  int64_t patience = 3;              // plateau
  int64_t epochs = 10;
  int64_t batch_size = 32;
  int64_t image_size = 224;
  int64_t resize = 0;                // valid Resize before CenterCrop; 0 = image_size * 256 / 224
  int workers = 2;
  std::string device = "auto";
  std::string dist = "auto";           // auto | off: data-parallel under mpirun (apps/flowers/distributed.h)
  std::string dist_backend = "auto";   // auto | mpi | nccl
  bool sync_bn = false;
  double bucket_mb = 25.0;
  ComputeFlags compute;                  // --precision, --tf32, --cudnn-benchmark
  uint64_t seed = 0;
  std::string out = "runs/flowers";
  std::string resume;                // checkpoint to resume from
  sepal::checkpoint::ResumePolicy resume_policy = sepal::checkpoint::ResumePolicy::Auto;
  bool dry_run = false;
  bool augment = true;               // the flower train recipe; false: valid preprocessing
  bool cache_features = false;       // feature-extract: compute backbone features once
  bool skip_bad_images = false;
  int64_t keep_last = 1;
  int64_t max_batches = 0;           // > 0: stop each phase after this many batches (smoke tests)
  int64_t profile_steps = 0;         // > 0: profile this many train steps after a warm-up one, then exit
  int64_t demo_size = 64;            // built-in demo data: image size of the generated files

  double group_head_lr() const { return head_lr.value_or(lr); }
  double group_backbone_lr() const { return backbone_lr.value_or(lr); }
  int64_t valid_resize() const { return resize > 0 ? resize : image_size * 256 / 224; }
};

// Declares every train flag (with its help and default) on `args`.
void declare_train_flags(Args& args);
// Reads and validates them; throws UsageError naming a bad flag.
TrainConfig read_train_config(const Args& args);
// The flags of `config` as a command line (for the checkpoint and the plan's "how to resume").
std::string describe(const TrainConfig& config);

}  // namespace flowers
