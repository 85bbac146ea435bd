// demo.cpp: `flowers demo`: the mission's story on the built-in procedural flowers, end to end,
// in a few minutes on a laptop CPU:
//   1. pretrain a ResNet-18 from scratch on the first six species (fine-tuning everything);
//   2. transfer its backbone to six other species in feature-extract mode (head only, Adam
//      lr 1e-2, StepLR 7/0.1), keeping the best checkpoint;
//   3. resume that checkpoint into fine-tuning with a head and a backbone learning rate: the
//      resume plan (merge policy) shows what changed and what happens to Adam's state;
//   4. predict a few validation images; point at the reports.
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "data/demo_flowers.h"
#include "data/image.h"

namespace flowers {

namespace fs = std::filesystem;
namespace data = sepal::data;

namespace {

// An ImageFolder dataset (train/, valid/, cat_to_name.json) of the species at `indices` of
// demo_species(), written once (a marker file records that it is complete).
void write_species(const std::string& root, const std::vector<int>& indices, int size, int train_n, int valid_n,
                   uint64_t seed) {
  const fs::path marker = fs::path(root) / ".complete";
  if (fs::exists(marker)) return;
  fs::remove_all(root);
  data::DemoFlowersOptions options;
  options.image_size = size;
  options.train_per_class = train_n;
  options.valid_per_class = valid_n;
  options.species = indices;
  options.seed = seed;
  data::write_demo_flowers(root, options);
  std::FILE* f = std::fopen(marker.c_str(), "w");
  if (f) std::fclose(f);
}

void banner(const std::string& text) { std::printf("\n==== %s ====\n", text.c_str()); std::fflush(stdout); }

}  // namespace

int demo_command(const std::vector<std::string>& argv) {
  Args a("demo", "[--out DIR] [--quick]",
         "Runs the whole transfer-learning story on the built-in procedural flowers: pretrain a backbone,\n"
         "transfer it in feature-extract mode, resume into fine-tuning with per-group learning rates\n"
         "(showing the resume plan), predict, and write the reports.");
  a.value("--out", "DIR", "where data, checkpoints and reports go", "runs/demo");
  a.value("--device", "DEV", "auto | cpu | cuda", "auto");
  a.value("--workers", "N", "data-loading threads", "2");
  a.toggle("--quick", "a much shorter run (a smoke test of every step; accuracy stays low)");
  if (!a.parse(argv)) return 0;
  const std::string out = a.text("--out");
  const bool quick = a.on("--quick");
  const int size = 64;
  const int train_n = quick ? 8 : 40, valid_n = quick ? 4 : 12;
  const std::string pre_data = (fs::path(out) / "data" / "pretrain-species").string();
  const std::string new_data = (fs::path(out) / "data" / "new-species").string();

  banner("0. data: procedural flowers, 6 species to pretrain on and 6 new ones to transfer to");
  write_species(pre_data, {0, 1, 2, 3, 4, 5}, size, train_n, valid_n, 1);
  write_species(new_data, {6, 7, 8, 9, 10, 11}, size, train_n, valid_n, 2);
  std::printf("%s\n%s\n", pre_data.c_str(), new_data.c_str());

  TrainConfig base;
  base.arch = "resnet18";
  base.image_size = size;
  base.batch_size = 16;
  base.workers = static_cast<int>(a.integer("--workers", 0, 64));
  base.device = a.text("--device");
  base.augment = true;

  banner("1. pretrain a ResNet-18 from scratch on the first species (finetune mode: everything trains)");
  TrainConfig pre = base;
  pre.data = pre_data;
  pre.mode = "finetune";
  pre.lr = 2e-3;
  pre.epochs = quick ? 1 : 8;
  pre.scheduler = "cosine";
  pre.out = (fs::path(out) / "1-pretrain").string();
  if (int rc = run_training(pre); rc != 0) return rc;

  banner("2. transfer to new species: feature extraction (backbone frozen, head Adam lr 1e-2, StepLR 7/0.1)");
  TrainConfig fx = base;
  fx.data = new_data;
  fx.init_from = (fs::path(pre.out) / "best.sepal").string();
  fx.mode = "feature-extract";
  fx.lr = 1e-2;
  fx.epochs = quick ? 1 : 10;  // past StepLR's first decay at epoch 7
  fx.out = (fs::path(out) / "2-feature-extract").string();
  if (int rc = run_training(fx); rc != 0) return rc;

  const std::string fx_ckpt = (fs::path(fx.out) / "last.sepal").string();
  banner("3. resume that checkpoint into fine-tuning: head lr 1e-3, backbone lr 1e-4 (dry run: the plan)");
  TrainConfig ft = base;
  ft.data = new_data;
  ft.resume = fx_ckpt;
  ft.resume_policy = sepal::checkpoint::ResumePolicy::Merge;
  ft.mode = "finetune";
  ft.head_lr = 1e-3;
  ft.backbone_lr = 1e-4;
  ft.lr = 1e-3;
  ft.epochs = fx.epochs + (quick ? 1 : 4);
  ft.out = (fs::path(out) / "3-finetune").string();
  ft.dry_run = true;
  std::printf("$ flowers train --data %s --resume %s --resume-policy merge --mode finetune --head-lr 1e-3 "
              "--backbone-lr 1e-4 --dry-run\n", new_data.c_str(), fx_ckpt.c_str());
  if (int rc = run_training(ft); rc != 0) return rc;
  banner("3b. the same without --dry-run: merge keeps the head's Adam state, the backbone starts fresh and trains");
  ft.dry_run = false;
  if (int rc = run_training(ft); rc != 0) return rc;

  banner("4. predict validation images with the fine-tuned model");
  std::vector<std::string> args = {"--checkpoint", (fs::path(ft.out) / "best.sepal").string(), "--topk", "3",
                                   "--resize", std::to_string(size * 256 / 224), "--crop", std::to_string(size)};
  const auto& species = data::demo_species();
  for (int s : {6, 8, 10})
    args.push_back((fs::path(new_data) / "valid" / species[s].folder / "image_0000.png").string());
  std::printf("(true classes: %s, %s, %s)\n", species[6].name.c_str(), species[8].name.c_str(), species[10].name.c_str());
  if (int rc = predict_command(args); rc != 0) return rc;

  banner("done");
  std::printf("reports: %s/{1-pretrain,2-feature-extract,3-finetune}/report.html (curves.png, history.json)\n"
              "inspect a checkpoint: flowers inspect %s/3-finetune/last.sepal\n", out.c_str(), out.c_str());
  return 0;
}

}  // namespace flowers
