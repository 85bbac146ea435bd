// dataloader.cpp: the DataLoader (see dataloader.h): seeded order, per-sample generators,
// collation, the worker pipeline (threads claim whole batches, results are delivered in order
// from a bounded window) and the pinned-memory path to a CUDA device.
#include "data/dataloader.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "tensor/backend.h"
#include "tensor/pinned.h"

namespace sepal::data {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

constexpr uint64_t kShuffleDomain = 0x53485546464C45ull;  // "SHUFFLE"
constexpr uint64_t kSampleDomain = 0x53414D504C45ull;     // "SAMPLE"

std::string shape_text(int64_t c, int64_t h, int64_t w) {
  return "[" + std::to_string(c) + ", " + std::to_string(h) + ", " + std::to_string(w) + "]";
}

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

}  // namespace

Tensor image_to_tensor(const Image& image) {
  const int64_t c = image.channels, h = image.height, w = image.width;
  Tensor t = empty({c, h, w});
  float* out = t.data_ptr<float>();
  const uint8_t* px = image.pixels.data();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k) out[(k * h + y) * w + x] = px[(y * w + x) * c + k] / 255.0f;
  return t;
}

// ---- collated batches and the page-locked staging buffers ----

struct DataLoader::HostBatch {
  std::vector<size_t> indices;
  std::vector<int64_t> labels;
  int64_t c = 0, h = 0, w = 0;
  Tensor images;                               // CPU device: [capacity, C, H, W]
  std::shared_ptr<PinnedHostBuffer> staging;  // CUDA device: images, then labels at label_offset
  size_t label_offset = 0;
  std::vector<std::string> skipped;  // "PATH: reason" per sample left out by the Skip policy
};

struct DataLoader::StagingPool {
  Device device;
  std::mutex mu;
  std::vector<std::shared_ptr<PinnedHostBuffer>> free;

  // A buffer of at least nbytes whose earlier copies have finished.
  std::shared_ptr<PinnedHostBuffer> acquire(size_t nbytes) {
    std::shared_ptr<PinnedHostBuffer> buf;
    {
      std::lock_guard<std::mutex> l(mu);
      auto it = std::find_if(free.begin(), free.end(), [&](const auto& b) { return b->nbytes() >= nbytes; });
      if (it != free.end()) {
        buf = std::move(*it);
        free.erase(it);
      }
    }
    if (!buf) return std::make_shared<PinnedHostBuffer>(nbytes, device);
    buf->wait();
    return buf;
  }
  void release(std::shared_ptr<PinnedHostBuffer> buf) {
    std::lock_guard<std::mutex> l(mu);
    free.push_back(std::move(buf));
  }
};

// ---- the worker pipeline of one epoch (from a given batch) ----

class DataLoader::Pipeline {
 public:
  Pipeline(const DataLoader& owner, int64_t epoch, int64_t first, int workers, int depth)
      : owner_(owner), epoch_(epoch), order_(owner.order_), next_claim_(first), consumer_(first),
        end_(static_cast<int64_t>(owner.num_batches())), depth_(depth) {
    threads_.reserve(workers);
    try {
      for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { run(); });
    } catch (...) {
      shutdown();
      throw;
    }
  }
  ~Pipeline() { shutdown(); }

  // Blocks until batch b is built; rethrows the exception its worker hit.
  HostBatch take(int64_t b) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return ready_.count(b) != 0; });
    Result r = std::move(ready_.at(b));
    ready_.erase(b);
    consumer_ = b + 1;
    l.unlock();
    cv_.notify_all();
    if (r.error) std::rethrow_exception(r.error);
    return std::move(r.batch);
  }

 private:
  struct Result {
    HostBatch batch;
    std::exception_ptr error;
  };

  void run() {
    while (true) {
      int64_t b;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || failed_ || next_claim_ >= end_ || next_claim_ < consumer_ + depth_; });
        if (stop_ || failed_ || next_claim_ >= end_) return;
        b = next_claim_++;
      }
      Result r;
      try {
        r.batch = owner_.build_batch(epoch_, b, order_, &stop_);
      } catch (...) {
        r.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        if (r.error) failed_ = true;  // later batches would never be taken
        ready_.emplace(b, std::move(r));
      }
      cv_.notify_all();
    }
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  const DataLoader& owner_;
  const int64_t epoch_;
  const std::vector<size_t> order_;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_claim_, consumer_;
  const int64_t end_;
  const int depth_;
  bool failed_ = false;
  std::atomic<bool> stop_{false};
  std::map<int64_t, Result> ready_;
  std::vector<std::thread> threads_;
};

// ---- DataLoader ----

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, SampleTransform transform,
                       DataLoaderOptions options)
    : dataset_(std::move(dataset)), transform_(std::move(transform)), options_(options) {
  if (!dataset_) throw Error("DataLoader: dataset is null");
  if (options_.batch_size < 1)
    throw Error("DataLoader: batch_size must be at least 1, got " + std::to_string(options_.batch_size));
  if (options_.workers < 0) throw Error("DataLoader: workers must be >= 0, got " + std::to_string(options_.workers));
  if (options_.shard_count < 1 || options_.shard_index < 0 || options_.shard_index >= options_.shard_count)
    throw Error("DataLoader: shard_index " + std::to_string(options_.shard_index) + " outside [0, shard_count " +
                std::to_string(options_.shard_count) + ")");
  if (options_.prefetch_batches < 1)
    throw Error("DataLoader: prefetch_batches must be at least 1, got " + std::to_string(options_.prefetch_batches));
  backend_for(options_.device);  // DeviceError now rather than at the first batch
  if (!transform_) transform_ = [](const Image& image, Generator&) { return image_to_tensor(image); };
  if (options_.device.is_cuda()) {
    staging_ = std::make_shared<StagingPool>();
    staging_->device = options_.device;
  }
}

DataLoader::~DataLoader() { pipeline_.reset(); }  // joins the workers before staging_ goes

size_t DataLoader::num_batches() const {
  size_t n = dataset_->size(), b = static_cast<size_t>(options_.batch_size);
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

uint64_t DataLoader::sample_seed(uint64_t seed, int64_t epoch, size_t index) {
  uint64_t h = splitmix64(seed ^ kSampleDomain);
  h = splitmix64(h ^ static_cast<uint64_t>(epoch));
  return splitmix64(h ^ static_cast<uint64_t>(index));
}

std::vector<size_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<size_t> order(dataset_->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (!options_.shuffle) return order;
  uint64_t h = splitmix64(options_.seed ^ kShuffleDomain);
  Generator rng(splitmix64(h ^ static_cast<uint64_t>(epoch)));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.next_below(i)]);
  return order;
}

void DataLoader::begin(int64_t epoch, int64_t batch) {
  pipeline_.reset();
  epoch_ = epoch;
  batch_ = batch;
  order_ = epoch_order(epoch);
  started_ = true;
}

void DataLoader::start_epoch(int64_t epoch) { begin(epoch, 0); }

DataLoader::Position DataLoader::position() const {
  return Position{options_.seed, started_ ? epoch_ : 0, started_ ? batch_ : 0};
}

void DataLoader::restore(const Position& p) {
  if (p.batch < 0 || static_cast<size_t>(p.batch) > num_batches())
    throw Error("DataLoader::restore: batch " + std::to_string(p.batch) + " outside [0, " +
                std::to_string(num_batches()) + "] (was the dataset or batch size changed?)");
  pipeline_.reset();  // the workers read options_.seed
  options_.seed = p.seed;
  begin(p.epoch, p.batch);
}

DataLoader::HostBatch DataLoader::build_batch(int64_t epoch, int64_t batch, const std::vector<size_t>& order,
                                              const std::atomic<bool>* stop) const {
  const size_t bs = static_cast<size_t>(options_.batch_size);
  size_t begin = static_cast<size_t>(batch) * bs;
  size_t end = std::min(begin + bs, order.size());
  if (options_.shard_count > 1) {  // this shard's contiguous part of the global batch
    const size_t n = end - begin, parts = static_cast<size_t>(options_.shard_count);
    const size_t index = static_cast<size_t>(options_.shard_index);
    const size_t base = n / parts, extra = n % parts;
    begin += index * base + std::min(index, extra);
    end = begin + base + (index < extra ? 1 : 0);
  }
  const size_t capacity = end - begin;
  const int64_t num_classes = static_cast<int64_t>(dataset_->classes().size());
  HostBatch hb;
  hb.indices.reserve(capacity);
  hb.labels.reserve(capacity);
  float* dst = nullptr;
  size_t per_sample = 0;
  for (size_t pos = begin; pos < end; ++pos) {
    if (stop && stop->load(std::memory_order_relaxed)) return hb;
    const size_t index = order[pos];
    Sample sample;
    try {
      sample = dataset_->get(index);
    } catch (const DataError& e) {
      if (dataset_->bad_data_policy() != BadDataPolicy::Skip) throw;
      hb.skipped.push_back(e.what());
      continue;
    }
    if (sample.label < 0 || sample.label >= num_classes)
      throw DataError(dataset_->describe(index) + ": label " + std::to_string(sample.label) +
                      " outside [0, " + std::to_string(num_classes) + ")");
    Generator rng(sample_seed(options_.seed, epoch, index));
    Tensor t;
    try {
      t = transform_(sample.image, rng);
    } catch (const DataError&) {
      throw;
    } catch (const std::exception& e) {
      throw Error("DataLoader: the transform failed on " + dataset_->describe(index) + ": " + e.what());
    }
    if (!t.defined() || t.dim() != 3 || t.dtype() != DType::Float32 || !t.device().is_cpu())
      throw Error("DataLoader: the transform must return a float32 [C, H, W] CPU tensor; for " +
                  dataset_->describe(index) + " it returned " +
                  (t.defined() ? std::string(dtype_name(t.dtype())) + " " + t.device().str() + " with " +
                                     std::to_string(t.dim()) + " dims"
                               : std::string("an undefined tensor")));
    if (!dst) {
      hb.c = t.size(0), hb.h = t.size(1), hb.w = t.size(2);
      per_sample = static_cast<size_t>(t.numel());
      if (staging_) {
        hb.label_offset = round_up(capacity * per_sample * sizeof(float), 64);
        hb.staging = staging_->acquire(hb.label_offset + capacity * sizeof(int64_t));
        dst = static_cast<float*>(hb.staging->data());
      } else {
        hb.images = empty({static_cast<int64_t>(capacity), hb.c, hb.h, hb.w});
        dst = hb.images.data_ptr<float>();
      }
    } else if (t.size(0) != hb.c || t.size(1) != hb.h || t.size(2) != hb.w) {
      throw ShapeError("DataLoader: " + dataset_->describe(index) + " transforms to " +
                       shape_text(t.size(0), t.size(1), t.size(2)) + " but the batch's first sample (" +
                       dataset_->describe(hb.indices.front()) + ") to " + shape_text(hb.c, hb.h, hb.w) +
                       "; a batch needs one size (add a Resize/CenterCrop to the transform)");
    }
    Tensor contiguous = t.contiguous();
    std::memcpy(dst + hb.indices.size() * per_sample, contiguous.data_ptr<float>(), per_sample * sizeof(float));
    hb.indices.push_back(index);
    hb.labels.push_back(sample.label);
  }
  if (hb.staging)
    std::memcpy(static_cast<char*>(hb.staging->data()) + hb.label_offset, hb.labels.data(),
                hb.labels.size() * sizeof(int64_t));
  return hb;
}

Batch DataLoader::finish(HostBatch&& hb) {
  const int64_t n = static_cast<int64_t>(hb.indices.size());
  Batch out;
  if (n == 0) {  // a shard's empty part
    out.images = empty({0, hb.c, hb.h, hb.w}, TensorOptions().device(options_.device));
    out.labels = empty({0}, TensorOptions(DType::Int64).device(options_.device));
  } else if (hb.staging) {
    out.images = empty({n, hb.c, hb.h, hb.w}, TensorOptions().device(options_.device));
    out.labels = empty({n}, TensorOptions(DType::Int64).device(options_.device));
    hb.staging->copy_to_device_async(out.images.raw_data(), 0, out.images.numel() * sizeof(float));
    hb.staging->copy_to_device_async(out.labels.raw_data(), hb.label_offset, n * sizeof(int64_t));
    hb.staging->order_before_compute();  // kernels that read the batch run after its copies
    staging_->release(std::move(hb.staging));  // the next user waits for these copies
  } else {
    out.images = n == hb.images.size(0) ? hb.images : hb.images.narrow(0, 0, n);
    out.labels = from_vector(hb.labels, {n});
  }
  out.indices = std::move(hb.indices);
  return out;
}

std::optional<Batch> DataLoader::next() {
  if (!started_) begin(0, 0);
  const int64_t total = static_cast<int64_t>(num_batches());
  while (batch_ < total) {
    HostBatch hb;
    try {
      if (options_.workers == 0) {
        hb = build_batch(epoch_, batch_, order_, nullptr);
      } else {
        if (!pipeline_)
          pipeline_ = std::make_unique<Pipeline>(*this, epoch_, batch_, options_.workers,
                                                 std::max(options_.prefetch_batches, options_.workers));
        hb = pipeline_->take(batch_);
      }
    } catch (...) {
      pipeline_.reset();  // a later next() retries this batch
      throw;
    }
    ++batch_;
    for (const auto& s : hb.skipped) std::cerr << "warning: skipping " << s << "\n";
    skipped_ += hb.skipped.size();
    if (!hb.indices.empty() || options_.shard_count > 1) return finish(std::move(hb));
  }
  pipeline_.reset();
  return std::nullopt;
}

}  // namespace sepal::data
