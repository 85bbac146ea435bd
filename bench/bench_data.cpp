// bench_data.cpp: DataLoader throughput (images per second) on JPEGs shaped like Oxford 102
// Flowers photos (500x375), with the flower train recipe (RandomRotation(45), CenterCrop(224),
// flips, ColorJitter, RandomGrayscale, ToTensor, Normalize) and with decoding + ToTensor only,
// for 0 (calling thread: its CPU time is the cost per image), 1 and 2 workers. One iteration is one epoch of 64 images in batches
// of 32. Compare images/s with the training step's throughput (docs): the loader must not be
// what limits CPU training.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "data/dataloader.h"
#include "data/image_folder.h"
#include "data/transforms.h"

namespace {

using namespace sepal;
using namespace sepal::data;

constexpr int kImages = 64;
constexpr int kBatch = 32;

// 64 JPEGs (quality 90) of 500x375 in two class folders: smooth colour fields with petal-like
// rings and per-pixel noise, so they compress like photos (~40-60 KB), not like flat colour.
class JpegFolder {
 public:
  JpegFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sepal_bench_data_XXXXXX").string();
    root_ = mkdtemp(pattern.data());
    uint32_t state = 12345;
    auto noise = [&] {
      state = state * 1664525u + 1013904223u;
      return static_cast<int>(state >> 27) - 16;
    };
    for (int i = 0; i < kImages; ++i) {
      Image img(375, 500, 3);
      for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x) {
          double dx = x - 250.0, dy = y - 187.5, r = std::sqrt(dx * dx + dy * dy), a = std::atan2(dy, dx);
          double petal = 0.5 + 0.5 * std::cos(5 * a + i) * std::exp(-r / (60.0 + i));
          for (int c = 0; c < 3; ++c) {
            int v = static_cast<int>(255 * petal * (0.4 + 0.2 * c) + 40 * std::sin((x + 3 * i) * 0.02 + c) + noise() + 60);
            img.at(y, x, c) = static_cast<uint8_t>(std::clamp(v, 0, 255));
          }
        }
      std::string dir = root_ + "/" + std::to_string(i % 2 + 1);
      std::filesystem::create_directories(dir);
      save_jpeg(img, dir + "/image_" + std::to_string(i) + ".jpg", 90);
    }
  }
  ~JpegFolder() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

std::shared_ptr<const Dataset> dataset() {
  static JpegFolder folder;  // written once, at the first benchmark's setup
  static auto ds = std::make_shared<ImageFolder>(folder.root());
  return ds;
}

void run_epochs(benchmark::State& state, SampleTransform transform) {
  DataLoaderOptions o;
  o.batch_size = kBatch;
  o.shuffle = true;
  o.workers = static_cast<int>(state.range(0));
  o.prefetch_batches = 2;
  DataLoader loader(dataset(), std::move(transform), o);
  int64_t epoch = 0, images = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    while (auto batch = loader.next()) {
      images += batch->images.size(0);
      benchmark::DoNotOptimize(batch->images.raw_data());
    }
  }
  state.SetItemsProcessed(images);  // items_per_second = images/s
  state.counters["workers"] = static_cast<double>(o.workers);
  state.counters["hw_threads"] = std::thread::hardware_concurrency();
}

// The flower train recipe (data/transforms.h) at 224x224.
void BM_LoaderFlowerTrain(benchmark::State& state) { run_epochs(state, flower_train_pipeline(224)); }
// The valid recipe: Resize(256), CenterCrop(224), ToTensor, Normalize.
void BM_LoaderFlowerValid(benchmark::State& state) { run_epochs(state, flower_valid_pipeline(224, 256)); }
// Decoding and ToTensor only (500x375 tensors): the floor set by the JPEG decoder (libjpeg-turbo).
void BM_LoaderDecodeOnly(benchmark::State& state) { run_epochs(state, nullptr); }

BENCHMARK(BM_LoaderFlowerTrain)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LoaderFlowerValid)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LoaderDecodeOnly)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
