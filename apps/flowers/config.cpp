// config.cpp: the train flags: their declarations, help texts and validation.
#include "config.h"

#include <sstream>

namespace flowers {

void declare_train_flags(Args& a) {
  a.value("--data", "DIR", "ImageFolder root with train/ and valid/ (or test/), or an IDX folder such as "
          "/usr/share/datasets/fashion-mnist; without it, the built-in demo flowers");
  a.value("--arch", "NAME", "resnet18 | resnet34 | resnet50", "resnet18");
  a.value("--pretrained", "FILE", "backbone weights, a .safetensors file with torchvision or timm names "
          "(its classifier is replaced by a new head)");
  a.value("--init-from", "CHECKPOINT", "start from a flowers checkpoint's weights (a head of another "
          "size is replaced)");
  a.value("--mode", "MODE", "feature-extract (only the head trains), finetune (everything trains) or "
          "finetune-from=BLOCK (layer1..layer4 and later blocks train)", "feature-extract");
  a.value("--lr", "LR", "learning rate of every group (default 1e-2 in feature-extract mode, else 1e-3)");
  a.value("--head-lr", "LR", "learning rate of the head group (fc); default --lr");
  a.value("--backbone-lr", "LR", "learning rate of the backbone group; default --lr");
  a.value("--optimizer", "NAME", "adam | adamw | sgd", "adam");
  a.value("--weight-decay", "W", "weight decay (L2 for adam and sgd, decoupled for adamw)", "0");
  a.value("--momentum", "M", "sgd momentum", "0.9");
  a.value("--scheduler", "NAME", "step | multistep | cosine | plateau | none", "step");
  a.value("--step-size", "N", "step: decay every N epochs", "7");
  a.value("--gamma", "G", "step, multistep, plateau: decay factor", "0.1");
  a.value("--milestones", "E1,E2,..", "multistep: the epochs at which to decay", "7,14");
  a.value("--patience", "N", "plateau: epochs without a better valid loss before decaying", "3");
  a.value("--epochs", "N", "total number of epochs (a resumed run continues up to it)", "10");
  a.value("--batch-size", "N", "images per batch (under mpirun: the global batch, split across the ranks)", "32");
  a.value("--image-size", "PX", "input size after cropping", "224");
  a.value("--resize", "PX", "valid preprocessing: Resize before CenterCrop (default image-size*256/224)");
  a.value("--workers", "N", "data-loading threads (0: load in the training thread)", "2");
  a.value("--device", "DEV", "auto | cpu | cuda | cuda:N (auto under mpirun: cuda:<local rank>)", "auto");
  a.value("--dist", "MODE", "auto: data-parallel when launched by mpirun with several ranks | off", "auto");
  a.value("--dist-backend", "NAME", "auto (nccl for CUDA when built, else mpi) | mpi | nccl", "auto");
  a.toggle("--sync-bn", "BatchNorm statistics over the whole global batch (all ranks); a no-op with one process");
  a.value("--bucket-mb", "MB", "data-parallel gradient buckets of about this many MiB", "25");
  declare_compute_flags(a);
  a.value("--seed", "S", "seed of the weights' initialisation, the shuffling and the augmentation", "0");
  a.value("--out", "DIR", "where checkpoints, history.json and the report go", "runs/flowers");
  a.value("--resume", "CHECKPOINT", "resume training from this checkpoint");
  std::string policies;
  for (const std::string& name : sepal::checkpoint::resume_policy_names())
    policies += (policies.empty() ? "" : " | ") + name;
  a.value("--resume-policy", "POLICY", policies + " (see README)", "auto");
  a.toggle("--dry-run", "print the model summary, the trainable parameters per group and, when "
           "resuming, the resume plan; then exit");
  a.toggle("--no-augment", "train on the valid preprocessing (no random augmentation)");
  a.toggle("--cache-features", "feature-extract mode without augmentation: compute the frozen "
           "backbone's features once and train the head on them");
  a.toggle("--skip-bad-images", "skip (and count) unreadable images instead of stopping");
  a.value("--keep-last", "N", "epoch checkpoints to keep (epoch-NNNN.sepal) besides best.sepal", "1");
  a.value("--max-batches", "N", "stop each phase after N batches (quick checks)", "0");
  a.value("--profile", "N", "after one warm-up step, time N train steps per op kind and per layer, print "
          "the tables and exit (nothing is saved; see docs/performance.md)", "0");
  a.value("--demo-size", "PX", "built-in demo flowers: size of the generated images", "64");
}

namespace {
std::vector<int64_t> parse_milestones(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      long long v = std::stoll(item, &used);
      if (used != item.size() || v < 1) throw std::invalid_argument(item);
      if (!out.empty() && v <= out.back()) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      throw UsageError("--milestones: expected increasing positive epochs like 7,14, got '" + text + "'");
    }
  }
  if (out.empty()) throw UsageError("--milestones: empty list");
  return out;
}
}  // namespace

TrainConfig read_train_config(const Args& a) {
  TrainConfig c;
  c.data = a.text("--data");
  c.arch = a.choice("--arch", {"resnet18", "resnet34", "resnet50"});
  c.pretrained = a.text("--pretrained");
  c.init_from = a.text("--init-from");
  if (!c.pretrained.empty() && !c.init_from.empty())
    throw UsageError("--pretrained and --init-from both give starting weights: choose one");
  c.mode = a.text("--mode");
  if (c.mode != "feature-extract" && c.mode != "finetune") {
    const std::string prefix = "finetune-from=";
    const std::string block = c.mode.rfind(prefix, 0) == 0 ? c.mode.substr(prefix.size()) : "";
    if (block != "layer1" && block != "layer2" && block != "layer3" && block != "layer4")
      throw UsageError("--mode: expected feature-extract, finetune or finetune-from=layer1..layer4, got '" +
                       c.mode + "'");
  }
  c.lr = a.given("--lr") ? a.number("--lr", 0.0, 10.0) : (c.mode == "feature-extract" ? 1e-2 : 1e-3);
  if (a.given("--head-lr")) c.head_lr = a.number("--head-lr", 0.0, 10.0);
  if (a.given("--backbone-lr")) c.backbone_lr = a.number("--backbone-lr", 0.0, 10.0);
  c.optimizer = a.choice("--optimizer", {"adam", "adamw", "sgd"});
  c.weight_decay = a.number("--weight-decay", 0.0, 10.0);
  c.momentum = a.number("--momentum", 0.0, 1.0);
  c.scheduler = a.choice("--scheduler", {"step", "multistep", "cosine", "plateau", "none"});
  c.step_size = a.integer("--step-size", 1, 1000000);
  c.gamma = a.number("--gamma", 0.0, 1.0);
  c.milestones = parse_milestones(a.text("--milestones"));
  c.patience = a.integer("--patience", 0, 1000000);
  c.epochs = a.integer("--epochs", 1, 1000000);
  c.batch_size = a.integer("--batch-size", 1, 65536);
  c.image_size = a.integer("--image-size", 8, 4096);
  c.resize = a.given("--resize") ? a.integer("--resize", 8, 8192) : 0;
  if (c.resize > 0 && c.resize < c.image_size)
    throw UsageError("--resize " + std::to_string(c.resize) + " is smaller than --image-size " +
                     std::to_string(c.image_size));
  c.workers = static_cast<int>(a.integer("--workers", 0, 256));
  c.device = a.text("--device");
  c.dist = a.choice("--dist", {"auto", "off"});
  c.dist_backend = a.choice("--dist-backend", {"auto", "mpi", "nccl"});
  c.sync_bn = a.on("--sync-bn");
  c.bucket_mb = a.number("--bucket-mb", 0.001, 4096.0);
  c.compute = read_compute_flags(a);
  c.seed = static_cast<uint64_t>(a.integer("--seed", 0, INT64_MAX));
  c.out = a.text("--out");
  c.resume = a.text("--resume");
  c.resume_policy = sepal::checkpoint::parse_resume_policy(
      a.choice("--resume-policy", sepal::checkpoint::resume_policy_names()));
  if (a.given("--resume-policy") && c.resume.empty())
    throw UsageError("--resume-policy needs --resume CHECKPOINT");
  if (!c.resume.empty() && (!c.init_from.empty() || !c.pretrained.empty()))
    throw UsageError("--resume already gives the weights: drop --init-from/--pretrained");
  c.dry_run = a.on("--dry-run");
  c.augment = !a.on("--no-augment");
  c.cache_features = a.on("--cache-features");
  if (c.cache_features && (c.mode != "feature-extract" || c.augment))
    throw UsageError("--cache-features needs --mode feature-extract and --no-augment (random "
                     "augmentation changes the features every epoch)");
  c.skip_bad_images = a.on("--skip-bad-images");
  c.keep_last = a.integer("--keep-last", 1, 1000);
  c.max_batches = a.integer("--max-batches", 0, INT64_MAX);
  c.profile_steps = a.integer("--profile", 0, 1000000);
  if (c.profile_steps > 0 && c.cache_features)
    throw UsageError("--profile times the whole train step: drop --cache-features");
  c.demo_size = a.integer("--demo-size", 64, 224);
  return c;
}

std::string describe(const TrainConfig& c) {
  std::ostringstream o;
  o << "--arch " << c.arch << " --mode " << c.mode << " --optimizer " << c.optimizer << " --lr " << c.lr;
  if (c.head_lr) o << " --head-lr " << *c.head_lr;
  if (c.backbone_lr) o << " --backbone-lr " << *c.backbone_lr;
  if (c.weight_decay != 0) o << " --weight-decay " << c.weight_decay;
  o << " --scheduler " << c.scheduler;
  if (c.scheduler == "step") o << " --step-size " << c.step_size << " --gamma " << c.gamma;
  o << " --epochs " << c.epochs << " --batch-size " << c.batch_size << " --image-size " << c.image_size
    << " --seed " << c.seed;
  if (!c.augment) o << " --no-augment";
  if (c.sync_bn) o << " --sync-bn";
  return o.str();
}

}  // namespace flowers
