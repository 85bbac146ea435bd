// model_setup.h: turning a TrainConfig into a model, its trainable set, its parameter groups, an
// optimizer and a scheduler. The head is the tutorial's `fc = Sequential(Linear(F, K),
// LogSoftmax(1))` (names fc.0.weight, fc.0.bias), trained with NLLLoss.
//
// Parameter groups: group 0 "head" holds the trainable fc parameters at --head-lr; group 1
// "backbone" holds every other trainable parameter at --backbone-lr and exists only when some
// backbone parameter trains. A feature-extraction run therefore has one group and a fine-tuning
// run two, which is the structural change the resume planner explains.
//
// Deliberate difference from the PyTorch tutorial: in feature-extract mode the frozen backbone's
// BatchNorm layers stay in eval mode during training, so frozen really means frozen (running
// statistics included) and the backbone's features can be cached.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "sepal.h"

namespace flowers {

namespace nn = sepal::nn;
namespace optim = sepal::optim;

// A ResNet of `arch` with the LogSoftmax head for `num_classes`, initialised from `seed`.
std::shared_ptr<nn::ResNet> build_model(const std::string& arch, int64_t num_classes, uint64_t seed);

// Loads backbone weights from a torchvision/timm safetensors file or a flowers checkpoint's
// model; a head of another shape, or any head when keep_head is false (trained on other classes),
// is left as initialised. Returns lines describing what happened.
std::vector<std::string> load_pretrained(nn::Module& model, const nn::StateDict& weights, const std::string& source,
                                         bool keep_head);

// Sets requires_grad per --mode; returns the names of the blocks that train.
void apply_mode(nn::Module& model, const std::string& mode);
// train() for the phase, with the frozen parts of a feature-extract model kept in eval mode.
void set_train_mode(nn::ResNet& model, const std::string& mode);

struct Groups {
  nn::NamedTensors head, backbone;
};
Groups parameter_groups(const nn::Module& model);

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& config, const nn::Module& model);

// The scheduler, behind one epoch_end(valid loss) call whatever its kind.
class EpochScheduler {
 public:
  EpochScheduler(const TrainConfig& config, optim::Optimizer& optimizer);
  void epoch_end(double valid_loss);
  optim::Scheduler* get() { return scheduler_.get(); }
  const optim::Scheduler* get() const { return scheduler_.get(); }

 private:
  std::unique_ptr<optim::Scheduler> scheduler_;  // null for --scheduler none
};

// Lines of the --dry-run summary: the architecture, parameters per group, frozen counts.
std::vector<std::string> model_summary(const nn::Module& model, const optim::Optimizer& optimizer);

}  // namespace flowers

namespace sepal::checkpoint { struct Checkpoint; }

namespace flowers {
// The model a flowers checkpoint holds (its arch and class count), weights loaded strictly.
std::shared_ptr<nn::ResNet> model_from_checkpoint(const sepal::checkpoint::Checkpoint& ckpt, const std::string& path);
}  // namespace flowers
