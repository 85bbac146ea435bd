// evaluate.cpp: `flowers evaluate`: accuracy, per-class accuracy and the confusion matrix of a
// checkpoint on a folder (an ImageFolder root's valid/ or test/, a class folder itself, or IDX).
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "commands.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data_setup.h"
#include "compute_flags.h"
#include "model_setup.h"
#include "phases.h"

namespace flowers {

namespace fs = std::filesystem;

namespace {
// DIR/valid (or DIR/test) of a train/valid root, the t10k half of an IDX folder, or DIR itself.
std::shared_ptr<data::Dataset> open_eval_folder(const std::string& dir, bool skip_bad) {
  const auto policy = skip_bad ? data::BadDataPolicy::Skip : data::BadDataPolicy::Error;
  if (!fs::is_directory(dir)) throw sepal::IOError(dir + ": no such folder (--data)");
  if (fs::exists(fs::path(dir) / "train-images-idx3-ubyte") || fs::exists(fs::path(dir) / "train-images-idx3-ubyte.gz"))
    return data::open_idx_splits(dir).valid;
  for (const char* half : {"valid", "test"})
    if (fs::is_directory(fs::path(dir) / half)) return std::make_shared<data::ImageFolder>((fs::path(dir) / half).string(), policy);
  return std::make_shared<data::ImageFolder>(dir, policy);
}
}  // namespace

int evaluate_command(const std::vector<std::string>& argv) {
  Args a("evaluate", "--checkpoint FILE --data DIR [options]",
         "Accuracy, per-class accuracy and the confusion matrix of a checkpoint on a folder: DIR/valid\n"
         "(or DIR/test) of a train/valid root, a folder of class folders, or an IDX folder's t10k set.");
  a.value("--checkpoint", "FILE", "a flowers checkpoint (best.sepal, last.sepal, ...)");
  a.value("--data", "DIR", "the images to evaluate on");
  a.value("--batch-size", "N", "images per batch", "32");
  a.value("--workers", "N", "data-loading threads", "2");
  a.value("--device", "DEV", "auto | cpu | cuda", "auto");
  declare_compute_flags(a);
  a.toggle("--skip-bad-images", "skip (and count) unreadable images instead of stopping");
  if (!a.parse(argv)) return 0;
  if (!a.given("--checkpoint")) throw UsageError("--checkpoint FILE is required");
  if (!a.given("--data")) throw UsageError("--data DIR is required");
  const std::string path = a.text("--checkpoint");
  auto ckpt = sepal::checkpoint::load_checkpoint(path);
  auto dataset = open_eval_folder(a.text("--data"), a.on("--skip-bad-images"));
  const auto& meta = ckpt.meta;
  if (!meta.classes.empty() && dataset->classes() != meta.classes)
    throw sepal::IOError(a.text("--data") + ": its " + std::to_string(dataset->classes().size()) +
                         " class folders are not the " + std::to_string(meta.classes.size()) +
                         " classes the checkpoint was trained on");
  const sepal::Device device = a.text("--device") == "auto" ? sepal::Device::best() : sepal::Device::parse(a.text("--device"));
  apply_compute_flags(read_compute_flags(a), device);
  auto model = model_from_checkpoint(ckpt, path);
  model->to(device);
  data::DataLoaderOptions o;
  o.batch_size = a.integer("--batch-size", 1, 65536);
  o.workers = static_cast<int>(a.integer("--workers", 0, 256));
  o.device = device;
  data::DataLoader loader(dataset, valid_pipeline(meta.image_size, meta.resize), o);
  std::vector<std::vector<int64_t>> confusion;
  PhaseTotals t = eval_phase(*model, loader, meta.num_classes, &confusion, 0, "eval");

  const auto& names = meta.class_names.empty() ? meta.classes : meta.class_names;
  std::printf("%s on %s: %lld images, accuracy %.4f, loss %.4f\n", path.c_str(), a.text("--data").c_str(),
              static_cast<long long>(t.count), t.acc(), t.loss());
  std::printf("\nper-class accuracy:\n");
  for (size_t k = 0; k < confusion.size(); ++k) {
    int64_t total = 0;
    for (int64_t v : confusion[k]) total += v;
    if (total == 0) continue;
    std::printf("  %-6s %-28s %4lld/%-4lld %.3f\n", meta.classes[k].c_str(), names[k].c_str(),
                static_cast<long long>(confusion[k][k]), static_cast<long long>(total),
                static_cast<double>(confusion[k][k]) / total);
  }
  const size_t k = confusion.size();
  if (k <= 20) {
    std::printf("\nconfusion matrix (rows: true class, columns: predicted; in label order):\n      ");
    for (size_t j = 0; j < k; ++j) std::printf("%5zu", j);
    std::printf("\n");
    for (size_t i = 0; i < k; ++i) {
      std::printf("%5zu ", i);
      for (size_t j = 0; j < k; ++j) std::printf("%5lld", static_cast<long long>(confusion[i][j]));
      std::printf("  %s\n", names[i].c_str());
    }
  } else {
    struct Pair { int64_t count; size_t truth, pred; };
    std::vector<Pair> pairs;
    for (size_t i = 0; i < k; ++i)
      for (size_t j = 0; j < k; ++j)
        if (i != j && confusion[i][j] > 0) pairs.push_back({confusion[i][j], i, j});
    std::sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) { return x.count > y.count; });
    std::printf("\nmost frequent confusions (%zu classes: the full matrix is not printed):\n", k);
    for (size_t i = 0; i < std::min<size_t>(pairs.size(), 15); ++i)
      std::printf("  %4lld x  %s -> %s\n", static_cast<long long>(pairs[i].count), names[pairs[i].truth].c_str(),
                  names[pairs[i].pred].c_str());
  }
  // one total per split: files left out while scanning and while decoding, by reason
  if (const auto* folder = dynamic_cast<const data::ImageFolder*>(dataset.get()); folder && a.on("--skip-bad-images"))
    std::printf("\n%s\n", folder->skip_tally().summary(folder->split_name()).c_str());
  else if (loader.skipped() > 0)
    std::printf("\n%zu unreadable images were skipped\n", loader.skipped());
  return 0;
}

}  // namespace flowers
