// predict.cpp: `flowers predict IMAGE...`: the top-k classes and probabilities of each image with
// the valid preprocessing, from a flowers checkpoint or from plain weights (.safetensors with a
// torchvision-style `fc` Linear head, or the tutorial's `fc.0` Linear + LogSoftmax head).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "checkpoint/checkpoint.h"
#include "checkpoint/safetensors.h"
#include "commands.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data_setup.h"
#include "compute_flags.h"
#include "io/json.h"
#include "model_setup.h"

namespace flowers {

using sepal::io::Json;

namespace {

struct Loaded {
  std::shared_ptr<nn::Module> model;
  std::vector<std::string> names;  // display name per class index
  std::vector<double> mean, std;
};

// Class names for plain weights: cat_to_name.json's keys sorted as strings (torchvision's
// ImageFolder order of folders named like them) mapped to their values.
std::vector<std::string> names_from_labels(const std::string& path, int64_t num_classes) {
  std::map<std::string, std::string> cat = data::load_cat_to_name(path);
  std::vector<std::string> names;
  for (const auto& [folder, name] : cat) names.push_back(name);  // std::map: sorted as strings
  if (static_cast<int64_t>(names.size()) != num_classes)
    throw sepal::IOError(path + ": " + std::to_string(names.size()) + " names for " + std::to_string(num_classes) +
                         " classes (--num-classes)");
  return names;
}

Loaded from_weights(const Args& a) {
  if (!a.given("--arch") || !a.given("--num-classes"))
    throw UsageError("--weights needs --arch and --num-classes");
  const std::string path = a.text("--weights");
  const std::string arch = a.choice("--arch", {"resnet18", "resnet34", "resnet50"});
  const int64_t k = a.integer("--num-classes", 1, 100000);
  nn::StateDict weights = sepal::checkpoint::load_safetensors(path);
  Loaded out;
  if (weights.contains("fc.0.weight")) {  // the tutorial's Sequential(Linear, LogSoftmax) head
    out.model = build_model(arch, k, 0);
  } else if (weights.contains("fc.weight")) {  // torchvision's plain Linear head
    out.model = nn::resnet(arch, k);
  } else {
    throw sepal::IOError(path + ": neither fc.weight (a Linear head) nor fc.0.weight (Linear + LogSoftmax) is in "
                         "the file: not ResNet classifier weights");
  }
  nn::LoadReport report = out.model->load_state_dict(weights, /*strict=*/true);
  (void)report;
  if (a.given("--labels")) out.names = names_from_labels(a.text("--labels"), k);
  else for (int64_t i = 0; i < k; ++i) out.names.push_back(std::to_string(i));
  out.mean = {0.485, 0.456, 0.406};
  out.std = {0.229, 0.224, 0.225};
  return out;
}

Loaded from_checkpoint(const std::string& path) {
  auto ckpt = sepal::checkpoint::load_checkpoint(path);
  Loaded out;
  out.model = model_from_checkpoint(ckpt, path);
  out.names = ckpt.meta.class_names.empty() ? ckpt.meta.classes : ckpt.meta.class_names;
  if (static_cast<int64_t>(out.names.size()) != ckpt.meta.num_classes)
    for (int64_t i = static_cast<int64_t>(out.names.size()); i < ckpt.meta.num_classes; ++i) out.names.push_back(std::to_string(i));
  out.mean = ckpt.meta.mean;
  out.std = ckpt.meta.std;
  return out;
}

}  // namespace

int predict_command(const std::vector<std::string>& argv) {
  Args a("predict", "IMAGE... (--checkpoint FILE | --weights FILE --arch A --num-classes K) [options]",
         "Prints the top-k classes of each image with the valid preprocessing (Resize, CenterCrop,\n"
         "Normalize). Plain --weights may hold a torchvision `fc` Linear head or the tutorial's `fc.0`\n"
         "Linear + LogSoftmax head; they are told apart by the weight names.");
  a.positionals("IMAGE...", "the images to classify", 1, 100000);
  a.value("--checkpoint", "FILE", "a flowers checkpoint (class names and preprocessing come from it)");
  a.value("--weights", "FILE", "a .safetensors state dict of a ResNet classifier");
  a.value("--arch", "NAME", "with --weights: resnet18 | resnet34 | resnet50");
  a.value("--num-classes", "K", "with --weights: the number of classes");
  a.value("--labels", "FILE", "with --weights: cat_to_name.json (classes in sorted folder-name order)");
  a.value("--topk", "K", "how many classes to print per image", "5");
  a.value("--resize", "PX", "Resize (shorter side) before the crop", "256");
  a.value("--crop", "PX", "CenterCrop size", "224");
  a.value("--device", "DEV", "auto | cpu | cuda", "auto");
  declare_compute_flags(a);
  a.toggle("--json", "print [{\"image\": PATH, \"topk\": [{\"index\": I, \"name\": NAME, \"prob\": P}, ...]}, ...]");
  if (!a.parse(argv)) return 0;
  if (a.given("--checkpoint") == a.given("--weights")) throw UsageError("give exactly one of --checkpoint and --weights");
  const int64_t crop = a.integer("--crop", 8, 4096);
  const int64_t resize = a.integer("--resize", 8, 8192);
  if (resize < crop) throw UsageError("--resize " + std::to_string(resize) + " is smaller than --crop " + std::to_string(crop));
  Loaded m = a.given("--checkpoint") ? from_checkpoint(a.text("--checkpoint")) : from_weights(a);
  const int64_t k = static_cast<int64_t>(m.names.size());
  const int64_t topk = std::min<int64_t>(a.integer("--topk", 1, 100000), k);
  const sepal::Device device = a.text("--device") == "auto" ? sepal::Device::best() : sepal::Device::parse(a.text("--device"));
  apply_compute_flags(read_compute_flags(a), device);
  m.model->to(device);
  m.model->eval();
  data::ImagePipeline pipeline = valid_pipeline(crop, resize);
  pipeline.mean = m.mean;
  pipeline.std = m.std;

  sepal::NoGradGuard no_grad;
  Json results = Json::array();
  sepal::Generator unused_rng(0);  // the valid preprocessing draws no random numbers
  for (const auto& path : a.rest()) {
    data::Image image = data::load_image(path);
    sepal::Tensor x = pipeline(image, unused_rng);
    x = x.reshape({1, x.shape()[0], x.shape()[1], x.shape()[2]}).to(device);
    sepal::Tensor probs = sepal::softmax((*m.model)(x), 1).cpu().to(sepal::DType::Float64);
    std::vector<double> p = probs.to_vector<double>();
    std::vector<int64_t> order(k);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + topk, order.end(),
                      [&](int64_t i, int64_t j) { return p[i] > p[j] || (p[i] == p[j] && i < j); });
    Json top = Json::array();
    if (!a.on("--json")) std::printf("%s\n", path.c_str());
    for (int64_t r = 0; r < topk; ++r) {
      const int64_t i = order[r];
      if (a.on("--json")) {
        Json e = Json::object();
        e.set("index", i);
        e.set("name", m.names[i]);
        e.set("prob", p[i]);
        top.push_back(e);
      } else {
        std::printf("  %2lld. %-30s %6.2f%%  (class %lld)\n", static_cast<long long>(r + 1), m.names[i].c_str(),
                    100.0 * p[i], static_cast<long long>(i));
      }
    }
    if (a.on("--json")) {
      Json entry = Json::object();
      entry.set("image", path);
      entry.set("topk", top);
      results.push_back(entry);
    }
  }
  if (a.on("--json")) std::printf("%s\n", results.dump(2).c_str());
  return 0;
}

}  // namespace flowers
