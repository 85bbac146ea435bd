// model_setup.cpp: model construction, weight import, freezing, groups, optimizer, scheduler.
#include "model_setup.h"

#include <cstdio>
#include <sstream>

namespace flowers {

namespace {
bool is_head(const std::string& name) { return name.rfind("fc.", 0) == 0; }

std::string shape_text(const sepal::Tensor& t) {
  std::string s = "[";
  for (size_t i = 0; i < t.shape().size(); ++i) s += (i ? ", " : "") + std::to_string(t.shape()[i]);
  return s + "]";
}
}  // namespace

std::shared_ptr<nn::ResNet> build_model(const std::string& arch, int64_t num_classes, uint64_t seed) {
  sepal::Generator gen(seed);
  auto model = nn::resnet(arch, 1000, &gen);
  auto head = std::make_shared<nn::Sequential>(nn::ModuleList{
      std::make_shared<nn::Linear>(model->feature_dim(), num_classes, true, &gen),
      std::make_shared<nn::LogSoftmax>(1)});
  model->replace_module("fc", head);
  return model;
}

std::vector<std::string> load_pretrained(nn::Module& model, const nn::StateDict& weights,
                                         const std::string& source, bool keep_head) {
  // torchvision and timm name a plain classifier fc.weight/fc.bias; ours is fc.0.*. Backbone names
  // are the same in all three. A head whose shape matches ours is kept; another is dropped.
  nn::StateDict live = model.state_dict();
  nn::StateDict chosen;
  std::vector<std::string> notes, dropped;
  for (const auto& [name, tensor] : weights) {
    std::string target = name;
    if (name == "fc.weight" || name == "fc.bias") target = "fc.0." + name.substr(3);
    const sepal::Tensor* mine = live.find(target);
    if (!keep_head && is_head(target)) {
      dropped.push_back(name + " (a head for other classes: the new head starts fresh)");
      continue;
    }
    if (!mine) {
      dropped.push_back(name + " (not in the model)");
      continue;
    }
    if (mine->shape() != tensor.shape()) {
      dropped.push_back(name + " " + shape_text(tensor) + " (the model's is " + shape_text(*mine) + ")");
      continue;
    }
    chosen.insert(target, tensor);
  }
  nn::LoadReport report = model.load_state_dict(chosen, /*strict=*/false);
  notes.push_back("loaded " + std::to_string(chosen.size()) + " tensors from " + source);
  for (const auto& d : dropped) notes.push_back("  not loaded: " + d);
  size_t missing_params = 0;
  for (const auto& m : report.missing_keys)
    if (!is_head(m) && m.find("num_batches_tracked") == std::string::npos) ++missing_params;
  if (missing_params > 0)
    notes.push_back("  warning: " + std::to_string(missing_params) +
                    " backbone tensors were not in the file and keep their initial values");
  return notes;
}

void apply_mode(nn::Module& model, const std::string& mode) {
  std::string from_block;  // "" = everything trains
  if (mode == "feature-extract") from_block = "fc";
  else if (mode.rfind("finetune-from=", 0) == 0) from_block = mode.substr(14);
  const std::vector<std::string> order = {"layer1", "layer2", "layer3", "layer4", "fc"};
  size_t first = 0;
  for (size_t i = 0; i < order.size(); ++i)
    if (order[i] == from_block) first = i;
  for (const auto& [name, param] : model.named_parameters()) {
    bool trains = from_block.empty();
    for (size_t i = first; !trains && i < order.size(); ++i)
      trains = name.rfind(order[i] + ".", 0) == 0;
    sepal::Tensor p = param;
    p.requires_grad_(trains);
  }
}

void set_train_mode(nn::ResNet& model, const std::string& mode) {
  model.train();
  if (mode == "feature-extract") {
    for (const auto& [name, child] : model.named_children())
      if (name != "fc") child->eval();
  }
}

Groups parameter_groups(const nn::Module& model) {
  Groups g;
  for (const auto& [name, param] : model.named_parameters()) {
    if (!param.requires_grad()) continue;
    (is_head(name) ? g.head : g.backbone).emplace_back(name, param);
  }
  return g;
}

namespace {

// An optimizer of type Opt over the head group with `options`, plus the backbone group (when
// trainable) with the same options at the backbone's lr.
template <typename Opt, typename O>
std::unique_ptr<optim::Optimizer> grouped(const Groups& groups, O options, double backbone_lr) {
  auto opt = std::make_unique<Opt>(groups.head, options);
  if (!groups.backbone.empty()) opt->add_param_group(groups.backbone, options.lr(backbone_lr));
  return opt;
}

}  // namespace

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, const nn::Module& model) {
  const Groups groups = parameter_groups(model);
  const double head_lr = c.group_head_lr(), backbone_lr = c.group_backbone_lr();
  if (c.optimizer == "adam")
    return grouped<optim::Adam>(groups, optim::AdamOptions(head_lr).weight_decay(c.weight_decay), backbone_lr);
  if (c.optimizer == "adamw")
    return grouped<optim::AdamW>(groups, optim::AdamWOptions(head_lr).weight_decay(c.weight_decay), backbone_lr);
  return grouped<optim::SGD>(groups, optim::SGDOptions(head_lr).weight_decay(c.weight_decay).momentum(c.momentum),
                             backbone_lr);
}

EpochScheduler::EpochScheduler(const TrainConfig& c, optim::Optimizer& opt) {
  if (c.scheduler == "step") scheduler_ = std::make_unique<optim::StepLR>(opt, c.step_size, c.gamma);
  else if (c.scheduler == "multistep")
    scheduler_ = std::make_unique<optim::MultiStepLR>(opt, c.milestones, c.gamma);
  else if (c.scheduler == "cosine") scheduler_ = std::make_unique<optim::CosineAnnealingLR>(opt, c.epochs);
  else if (c.scheduler == "plateau") {
    optim::PlateauOptions po;
    po.factor = c.gamma;
    po.patience = c.patience;
    scheduler_ = std::make_unique<optim::ReduceLROnPlateau>(opt, po);
  }
}

void EpochScheduler::epoch_end(double valid_loss) {
  if (scheduler_) scheduler_->step(valid_loss);
}

std::vector<std::string> model_summary(const nn::Module& model, const optim::Optimizer& opt) {
  std::vector<std::string> lines;
  int64_t total = 0, trainable = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    total += p.numel();
    if (p.requires_grad()) trainable += p.numel();
  }
  std::ostringstream o;
  o << "parameters: " << total << " total, " << trainable << " trainable, " << (total - trainable) << " frozen";
  lines.push_back(o.str());
  const char* names[] = {"head", "backbone"};
  for (size_t g = 0; g < opt.num_param_groups(); ++g) {
    const auto& group = opt.param_group(g);
    int64_t count = 0;
    for (const auto& p : group.params()) count += p.numel();
    std::ostringstream line;
    line << "group " << g << " (" << (g < 2 ? names[g] : "extra") << "): " << group.size() << " tensors, "
         << count << " parameters, lr " << group.lr();
    if (!group.names().empty())
      line << ", " << group.names().front() << (group.size() > 1 ? " ... " + group.names().back() : "");
    lines.push_back(line.str());
  }
  return lines;
}

}  // namespace flowers

#include "checkpoint/checkpoint.h"

namespace flowers {
std::shared_ptr<nn::ResNet> model_from_checkpoint(const sepal::checkpoint::Checkpoint& ckpt, const std::string& path) {
  const auto& m = ckpt.meta;
  if (m.arch.empty() || m.num_classes < 1)
    throw sepal::IOError(path + ": the checkpoint does not say its architecture and class count");
  auto model = build_model(m.arch, m.num_classes, 0);
  nn::LoadReport report = model->load_state_dict(ckpt.model, /*strict=*/false);
  if (!report.ok()) throw sepal::IOError(path + ": its weights do not fit a " + m.arch + ": " + report.str());
  return model;
}
}  // namespace flowers
