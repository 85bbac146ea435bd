// dataloader_test.cpp: the DataLoader visits every sample once per epoch, in an order that
// depends only on (seed, epoch), restores to the same position, gives bitwise-identical batches
// whatever the worker count, and reports failures and skipped samples from its workers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "data/dataloader.h"
#include "data/image_folder.h"
#include "data/test_util.h"
#include "tensor/pinned.h"

namespace sepal::data {
namespace {

// Sample i: a 3x4 (or per-sample size) image whose pixels encode i, label i % 5. Indices in
// `bad` throw DataError like an undecodable file.
class FakeDataset : public Dataset {
 public:
  explicit FakeDataset(size_t n, std::set<size_t> bad = {}, BadDataPolicy policy = BadDataPolicy::Error)
      : n_(n), bad_(std::move(bad)), policy_(policy) {}
  size_t size() const override { return n_; }
  Sample get(size_t i) const override {
    if (bad_.count(i)) throw DataError(describe(i) + ": truncated JPEG (test)");
    if (slow_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms_));
    int w = i == odd_size_ ? 5 : 4;
    Image img(3, w, 3);
    for (size_t k = 0; k < img.pixels.size(); ++k) img.pixels[k] = static_cast<uint8_t>(i * 7 + k);
    return Sample{std::move(img), static_cast<int64_t>(i % 5)};
  }
  const std::vector<std::string>& classes() const override { return classes_; }
  std::string describe(size_t i) const override { return "fake/" + std::to_string(i) + ".png"; }
  BadDataPolicy bad_data_policy() const override { return policy_; }
  size_t odd_size_ = SIZE_MAX;
  int slow_ms_ = 0;

 private:
  size_t n_;
  std::set<size_t> bad_;
  BadDataPolicy policy_;
  std::vector<std::string> classes_ = {"a", "b", "c", "d", "e"};
};

// A random augmentation drawing from the per-sample generator: a flip and per-pixel noise.
Tensor noisy_transform(const Image& image, Generator& rng) {
  Tensor t = image_to_tensor(image);
  float* p = t.data_ptr<float>();
  bool flip = rng.next_double() < 0.5;
  int64_t c = t.size(0), h = t.size(1), w = t.size(2);
  if (flip)
    for (int64_t k = 0; k < c * h; ++k) std::reverse(p + k * w, p + (k + 1) * w);
  for (int64_t i = 0; i < t.numel(); ++i) p[i] += static_cast<float>(rng.next_double() * 0.1);
  return t;
}

DataLoaderOptions opts(int64_t batch, bool shuffle, int workers, uint64_t seed = 7) {
  DataLoaderOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.workers = workers;
  o.seed = seed;
  return o;
}

std::vector<Batch> epoch(DataLoader& loader, int64_t e) {
  loader.start_epoch(e);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

void expect_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].indices, b[i].indices) << "batch " << i;
    EXPECT_EQ(a[i].labels.to_vector<int64_t>(), b[i].labels.to_vector<int64_t>()) << "batch " << i;
    auto x = a[i].images.to_vector<float>(), y = b[i].images.to_vector<float>();
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0) << "batch " << i;
  }
}

TEST(DataLoader, EpochVisitsEverySampleOnceWithMatchingImagesAndLabels) {
  auto ds = std::make_shared<FakeDataset>(50);
  for (int workers : {0, 2}) {
    DataLoader loader(ds, nullptr, opts(7, true, workers));
    EXPECT_EQ(loader.num_batches(), 8u);
    auto batches = epoch(loader, 0);
    ASSERT_EQ(batches.size(), 8u);
    std::multiset<size_t> seen;
    for (const Batch& b : batches) {
      ASSERT_EQ(b.images.dim(), 4);
      EXPECT_EQ(b.images.shape(), (Shape{static_cast<int64_t>(b.indices.size()), 3, 3, 4}));
      EXPECT_EQ(b.images.dtype(), DType::Float32);
      EXPECT_EQ(b.labels.dtype(), DType::Int64);
      auto labels = b.labels.to_vector<int64_t>();
      auto pixels = b.images.to_vector<float>();
      for (size_t k = 0; k < b.indices.size(); ++k) {
        size_t i = b.indices[k];
        seen.insert(i);
        EXPECT_EQ(labels[k], static_cast<int64_t>(i % 5));
        // CHW element (c=1, y=2, x=3) is HWC byte (2*4 + 3)*3 + 1 = 34 of sample i.
        EXPECT_FLOAT_EQ(pixels[k * 36 + (1 * 3 + 2) * 4 + 3], static_cast<uint8_t>(i * 7 + 34) / 255.0f);
      }
    }
    EXPECT_EQ(batches.back().indices.size(), 1u);  // 50 = 7 * 7 + 1
    ASSERT_EQ(seen.size(), 50u);
    for (size_t i = 0; i < 50; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
    EXPECT_FALSE(loader.next().has_value());  // stays at the end until the next epoch
  }
}

TEST(DataLoader, OrderDependsOnlyOnSeedAndEpoch) {
  auto ds = std::make_shared<FakeDataset>(40);
  DataLoader a(ds, nullptr, opts(8, true, 0, 11)), b(ds, nullptr, opts(8, true, 1, 11)), c(ds, nullptr, opts(8, true, 0, 12));
  EXPECT_EQ(a.epoch_order(3), b.epoch_order(3));
  EXPECT_NE(a.epoch_order(3), a.epoch_order(4));
  EXPECT_NE(a.epoch_order(3), c.epoch_order(3));
  std::vector<size_t> identity(40);
  for (size_t i = 0; i < 40; ++i) identity[i] = i;
  EXPECT_NE(a.epoch_order(0), identity);
  DataLoader plain(ds, nullptr, opts(8, false, 0));
  EXPECT_EQ(plain.epoch_order(5), identity);
  auto e3 = epoch(a, 3);
  std::vector<size_t> visited;
  for (const auto& batch : e3) visited.insert(visited.end(), batch.indices.begin(), batch.indices.end());
  EXPECT_EQ(visited, a.epoch_order(3));
  EXPECT_NE(DataLoader::sample_seed(1, 0, 5), DataLoader::sample_seed(1, 1, 5));
  EXPECT_NE(DataLoader::sample_seed(1, 0, 5), DataLoader::sample_seed(1, 0, 6));
  EXPECT_NE(DataLoader::sample_seed(1, 0, 5), DataLoader::sample_seed(2, 0, 5));
}

TEST(DataLoader, DropLast) {
  auto ds = std::make_shared<FakeDataset>(50);
  auto o = opts(7, true, 0);
  o.drop_last = true;
  DataLoader loader(ds, nullptr, o);
  EXPECT_EQ(loader.num_batches(), 7u);
  auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 7u);
  std::set<size_t> seen;
  for (const auto& b : batches) {
    EXPECT_EQ(b.indices.size(), 7u);
    seen.insert(b.indices.begin(), b.indices.end());
  }
  EXPECT_EQ(seen.size(), 49u);
  o.batch_size = 64;
  EXPECT_EQ(DataLoader(ds, nullptr, o).num_batches(), 0u);
}

TEST(DataLoader, WorkerCountDoesNotChangeTheBatches) {
  auto ds = std::make_shared<FakeDataset>(45);
  std::vector<std::vector<Batch>> runs;
  for (int workers : {0, 1, 2, 3}) {
    auto o = opts(6, true, workers);
    o.prefetch_batches = workers == 3 ? 1 : 2;
    DataLoader loader(ds, noisy_transform, o);
    runs.push_back(epoch(loader, 2));
  }
  // The augmentation really is random: two epochs differ.
  DataLoader other(ds, noisy_transform, opts(6, true, 0));
  auto e3 = epoch(other, 3);
  EXPECT_NE(runs[0][0].indices, e3[0].indices);
  for (size_t r = 1; r < runs.size(); ++r) {
    SCOPED_TRACE("run " + std::to_string(r));
    expect_same(runs[0], runs[r]);
  }
}

TEST(DataLoader, RestoreContinuesInTheSameOrderWithTheSameAugmentation) {
  auto ds = std::make_shared<FakeDataset>(40);
  DataLoader first(ds, noisy_transform, opts(6, true, 2, 99));
  first.start_epoch(4);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(first.next().has_value());
  DataLoader::Position saved = first.position();
  EXPECT_EQ(saved.seed, 99u);
  EXPECT_EQ(saved.epoch, 4);
  EXPECT_EQ(saved.batch, 3);
  std::vector<Batch> rest;
  while (auto b = first.next()) rest.push_back(std::move(*b));
  ASSERT_EQ(rest.size(), 4u);  // 7 batches in all

  // A new loader (another seed in its options, other worker count) resumes from the position.
  DataLoader resumed(ds, noisy_transform, opts(6, true, 0, 12345));
  resumed.restore(saved);
  EXPECT_EQ(resumed.position().seed, 99u);
  std::vector<Batch> again;
  while (auto b = resumed.next()) again.push_back(std::move(*b));
  expect_same(rest, again);

  // Restoring to batch 0 equals a fresh start of that epoch; the end position yields nothing.
  resumed.restore({99, 5, 0});
  std::vector<Batch> from_restore;
  while (auto b = resumed.next()) from_restore.push_back(std::move(*b));
  expect_same(from_restore, epoch(first, 5));
  resumed.restore({99, 5, 7});
  EXPECT_FALSE(resumed.next().has_value());
  EXPECT_THROW(resumed.restore({99, 5, 8}), Error);
  EXPECT_THROW(resumed.restore({99, 5, -1}), Error);
}

TEST(DataLoader, WorkerErrorsAreRethrownNamingTheFile) {
  auto ds = std::make_shared<FakeDataset>(30, std::set<size_t>{13});
  for (int workers : {0, 2}) {
    DataLoader loader(ds, nullptr, opts(4, false, workers));
    loader.start_epoch(0);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(loader.next().has_value());
    try {
      loader.next();  // batch 3 holds samples 12..15
      FAIL() << "no error with " << workers << " workers";
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()), "fake/13.png: truncated JPEG (test)");
    }
    EXPECT_EQ(loader.position().batch, 3);  // the failed batch was not consumed
  }
  // A transform failure names the sample too.
  auto good = std::make_shared<FakeDataset>(10);
  auto throwing = [](const Image& img, Generator&) -> Tensor {
    if (img.pixels[0] == 7 * 4) throw std::runtime_error("bad crop");  // sample 4, in batch 1
    return image_to_tensor(img);
  };
  DataLoader loader(good, throwing, opts(3, false, 2));
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  try {
    loader.next();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "DataLoader: the transform failed on fake/4.png: bad crop");
  }
}

TEST(DataLoader, MixedSizesAndBadTransformsNameTheSamples) {
  auto ds = std::make_shared<FakeDataset>(10);
  ds->odd_size_ = 4;
  DataLoader loader(ds, nullptr, opts(5, false, 0));
  try {
    loader.next();
    FAIL() << "no error";
  } catch (const ShapeError& e) {
    EXPECT_EQ(std::string(e.what()),
              "DataLoader: fake/4.png transforms to [3, 3, 5] but the batch's first sample (fake/0.png) to "
              "[3, 3, 4]; a batch needs one size (add a Resize/CenterCrop to the transform)");
  }
  DataLoader wrong(ds, [](const Image&, Generator&) { return zeros({2, 2}); }, opts(5, false, 0));
  EXPECT_THROW(wrong.next(), Error);
}

TEST(DataLoader, SkipPolicyDropsAndCountsBadSamples) {
  // Samples 3, 4, 5 are bad; batch 1 (samples 3..5) is left out entirely.
  auto ds = std::make_shared<FakeDataset>(11, std::set<size_t>{3, 4, 5, 9}, BadDataPolicy::Skip);
  for (int workers : {0, 2}) {
    DataLoader loader(ds, nullptr, opts(3, false, workers));
    auto batches = epoch(loader, 0);
    std::vector<std::vector<size_t>> indices;
    for (const auto& b : batches) indices.push_back(b.indices);
    EXPECT_EQ(indices, (std::vector<std::vector<size_t>>{{0, 1, 2}, {6, 7, 8}, {10}}));
    EXPECT_EQ(batches[1].labels.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3}));
    EXPECT_EQ(loader.skipped(), 4u);
  }
}

TEST(DataLoader, SkipPolicyOnAnImageFolderWithATruncatedJpeg) {
  testing::TempDir dir;
  for (int i = 0; i < 4; ++i) testing::write_png(dir / "a/" + std::to_string(i) + ".png", 6, 6, i);
  save_jpeg(testing::pattern_image(6, 6), dir / "a/4.jpg");
  auto jpeg = testing::read_bytes(dir / "a/4.jpg");
  jpeg.resize(jpeg.size() - 20);
  testing::write_bytes(dir / "a/4.jpg", jpeg);
  testing::write_png(dir / "b/0.png", 6, 6, 9);
  auto skip = std::make_shared<ImageFolder>(dir.path(), BadDataPolicy::Skip);
  ASSERT_EQ(skip->size(), 6u);  // the header is fine, so the scan keeps it
  DataLoader loader(skip, nullptr, opts(4, false, 1));
  auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].indices, (std::vector<size_t>{5}));
  EXPECT_EQ(batches[1].labels.to_vector<int64_t>(), (std::vector<int64_t>{1}));
  EXPECT_EQ(loader.skipped(), 1u);
  auto strict = std::make_shared<ImageFolder>(dir.path());
  DataLoader failing(strict, nullptr, opts(4, false, 1));
  failing.start_epoch(0);
  ASSERT_TRUE(failing.next().has_value());
  try {
    failing.next();
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), dir / "a/4.jpg" + ": truncated JPEG (no end-of-image marker after the last scan)");
  }
}

// Sharding: each global batch is cut into contiguous parts whose concatenation over the shards is
// the unsharded batch, in order, with identical pixels (augmentation seeded per sample); shards
// receive every batch, empty parts and parts emptied by skipped samples included.
TEST(DataLoader, ShardsConcatenateToTheGlobalBatch) {
  auto ds = std::make_shared<FakeDataset>(23, std::set<size_t>{}, BadDataPolicy::Skip);
  DataLoader whole(ds, noisy_transform, opts(5, true, 0));
  const auto global = epoch(whole, 1);
  for (int count : {2, 3}) {
    std::vector<std::vector<Batch>> parts;
    for (int r = 0; r < count; ++r) {
      DataLoaderOptions o = opts(5, true, r % 2 == 0 ? 0 : 2);
      o.shard_index = r;
      o.shard_count = count;
      DataLoader loader(ds, noisy_transform, o);
      parts.push_back(epoch(loader, 1));
      ASSERT_EQ(parts.back().size(), global.size()) << "shard " << r << " of " << count;
    }
    for (size_t b = 0; b < global.size(); ++b) {
      std::vector<size_t> indices;
      std::vector<float> pixels;
      for (int r = 0; r < count; ++r) {
        const Batch& p = parts[r][b];
        // the first (n % count) shards hold one sample more
        const size_t n = global[b].indices.size();
        EXPECT_EQ(p.indices.size(), n / count + (static_cast<size_t>(r) < n % count ? 1 : 0));
        indices.insert(indices.end(), p.indices.begin(), p.indices.end());
        const auto v = p.images.to_vector<float>();
        pixels.insert(pixels.end(), v.begin(), v.end());
      }
      EXPECT_EQ(indices, global[b].indices);
      EXPECT_EQ(pixels, global[b].images.to_vector<float>());
    }
  }
  // 23 = 4 * 5 + 3: the last batch gives 3 shards one sample each; 1 sample over 2 shards leaves one empty
  auto one = std::make_shared<FakeDataset>(6, std::set<size_t>{}, BadDataPolicy::Skip);
  DataLoaderOptions o = opts(5, false, 0);
  o.shard_index = 1;
  o.shard_count = 2;
  DataLoader loader(one, nullptr, o);
  const auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].images.shape()[0], 0);
  EXPECT_EQ(batches[1].labels.shape(), (Shape{0}));
}

TEST(DataLoader, ShardEmptiedBySkippedSamplesStillArrives) {
  auto ds = std::make_shared<FakeDataset>(4, std::set<size_t>{2, 3}, BadDataPolicy::Skip);
  DataLoaderOptions o = opts(4, false, 0);
  o.shard_index = 1;
  o.shard_count = 2;
  DataLoader loader(ds, nullptr, o);
  const auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].labels.shape()[0], 0);
  EXPECT_EQ(loader.skipped(), 2u);
  o.shard_index = 2;
  EXPECT_THROW(DataLoader(ds, nullptr, o), Error);
}

TEST(DataLoader, DestroyedMidEpochStopsItsWorkers) {
  auto ds = std::make_shared<FakeDataset>(400);
  ds->slow_ms_ = 50;  // a batch of 8 takes 400 ms to build
  for (int i = 0; i < 2; ++i) {
    auto loader = std::make_unique<DataLoader>(ds, nullptr, opts(8, true, 3));
    ASSERT_TRUE(loader->next().has_value());
    // The other workers are in the middle of batches 1 and 2 (and 3 waits for the window):
    // destruction stops them after their current sample instead of finishing the batches.
    auto start = std::chrono::steady_clock::now();
    loader.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
  }
  ds->slow_ms_ = 0;
  DataLoader restarted(ds, nullptr, opts(8, true, 2));
  restarted.start_epoch(0);
  ASSERT_TRUE(restarted.next().has_value());
  restarted.start_epoch(1);  // abandons epoch 0 mid-way
  auto b = restarted.next();
  ASSERT_TRUE(b.has_value());
  std::vector<size_t> order = restarted.epoch_order(1);
  EXPECT_EQ(b->indices, std::vector<size_t>(order.begin(), order.begin() + 8));
}

TEST(DataLoader, OptionsAreValidated) {
  auto ds = std::make_shared<FakeDataset>(4);
  auto o = opts(0, false, 0);
  EXPECT_THROW(DataLoader(ds, nullptr, o), Error);
  o = opts(2, false, -1);
  EXPECT_THROW(DataLoader(ds, nullptr, o), Error);
  o = opts(2, false, 0);
  o.prefetch_batches = 0;
  EXPECT_THROW(DataLoader(ds, nullptr, o), Error);
  EXPECT_THROW(DataLoader(nullptr, nullptr, opts(2, false, 0)), Error);
  if (!cuda_available()) {
    o = opts(2, false, 0);
    o.device = Device::cuda();
    EXPECT_THROW(DataLoader(ds, nullptr, o), DeviceError);
  }
}

TEST(DataLoader, ImageToTensorIsChwOver255) {
  Image img(1, 2, 3);
  img.pixels = {0, 51, 255, 102, 153, 204};
  Tensor t = image_to_tensor(img);
  EXPECT_EQ(t.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0.0f, 102 / 255.0f, 51 / 255.0f, 153 / 255.0f, 1.0f, 204 / 255.0f}));
}

TEST(PinnedHostBuffer, CpuBufferCopiesAndChecksBounds) {
  PinnedHostBuffer buf(16, Device::cpu());
  auto* p = static_cast<uint8_t*>(buf.data());
  for (int i = 0; i < 16; ++i) p[i] = static_cast<uint8_t>(i + 1);
  uint8_t dst[4] = {0, 0, 0, 0};
  buf.copy_to_device_async(dst, 12, 4);
  buf.wait();
  EXPECT_EQ(std::vector<uint8_t>(dst, dst + 4), (std::vector<uint8_t>{13, 14, 15, 16}));
  EXPECT_THROW(buf.copy_to_device_async(dst, 13, 4), IndexError);
  if (!cuda_available()) EXPECT_THROW(PinnedHostBuffer(16, Device::cuda()), DeviceError);
}

// The CUDA path (pinned staging, asynchronous copies) gives the CPU path's batches.
TEST(DataLoader, CudaBatchesEqualCpuBatches) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  auto ds = std::make_shared<FakeDataset>(45, std::set<size_t>{7}, BadDataPolicy::Skip);
  DataLoader cpu(ds, noisy_transform, opts(6, true, 2));
  auto o = opts(6, true, 2);
  o.device = Device::cuda();
  DataLoader gpu(ds, noisy_transform, o);
  for (int64_t e = 0; e < 2; ++e) {
    auto a = epoch(cpu, e), b = epoch(gpu, e);
    for (const auto& batch : b) {
      EXPECT_TRUE(batch.images.device().is_cuda());
      EXPECT_TRUE(batch.labels.device().is_cuda());
    }
    expect_same(a, b);
  }
}

}  // namespace
}  // namespace sepal::data
