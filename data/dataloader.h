// dataloader.h: batches of transformed samples from a Dataset, shuffled reproducibly, decoded
// and augmented by worker threads into a bounded prefetch queue, delivered in order.
//
// Reproducibility: the shuffle order is a permutation derived only from (seed, epoch), and each
// sample's augmentation draws from its own Generator derived from (seed, epoch, sample index),
// never from a shared stream. So batches are bitwise identical whatever the worker count or
// thread scheduling, and position()/restore() lets a resumed run continue the same order.
//
// Batches: images [N, C, H, W] float32 (NCHW: N batch, C channels, H height, W width) and
// labels [N] int64, on options.device. For a CUDA device the batch is assembled in page-locked
// host memory and copied asynchronously (tensor/pinned.h), ordered before later kernels.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "data/dataset.h"
#include "tensor/device.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace sepal::data {

// Image -> float32 [C, H, W] on the CPU. Every random choice must come from `rng`. Workers call
// it concurrently, so it must not modify shared state.
using SampleTransform = std::function<Tensor(const Image&, Generator& rng)>;

// Plain conversion without augmentation: [C, H, W] float32 with values pixel / 255
// (torchvision's ToTensor).
Tensor image_to_tensor(const Image& image);

struct DataLoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = false;
  bool drop_last = false;    // leave out a last, smaller batch
  int workers = 0;           // 0: decode and transform in the calling thread
  int prefetch_batches = 2;  // batches prepared ahead of the consumer (at least `workers`)
  uint64_t seed = 0;
  Device device = Device::cpu();
  // Data-parallel sharding (dist/): with shard_count > 1, batch_size is the global batch and
  // batch t is the same slice of the epoch order whatever the shard count; this loader delivers
  // only shard shard_index's part of it: the global batch cut into shard_count contiguous parts,
  // the first (size % shard_count) one sample longer. Every batch is delivered, an empty part
  // (or one whose samples were all skipped) included, so all shards take the same steps.
  int shard_index = 0;
  int shard_count = 1;
};

struct Batch {
  Tensor images;                // [N, C, H, W] float32 on options.device (N may be 0 when sharded)
  Tensor labels;                // [N] int64 on options.device
  std::vector<size_t> indices;  // dataset indices, in batch order
};

class DataLoader {
 public:
  // An empty transform means image_to_tensor. Throws sepal::Error for batch_size < 1,
  // workers < 0, prefetch_batches < 1, and DeviceError when the device is unavailable.
  DataLoader(std::shared_ptr<const Dataset> dataset, SampleTransform transform,
             DataLoaderOptions options);
  ~DataLoader();  // stops the workers, also in the middle of an epoch
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  const Dataset& dataset() const { return *dataset_; }
  const DataLoaderOptions& options() const { return options_; }
  size_t num_batches() const;

  // Starts (or restarts) epoch `epoch` at its first batch. next() without a start_epoch()
  // starts epoch 0.
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch in order, or nullopt at the end of the epoch. An error
  // while loading a sample (in any worker) is rethrown here, naming the file. Under a dataset's
  // Skip policy an undecodable sample is left out of its batch (which may then be smaller, and
  // is itself skipped when empty) and counted.
  std::optional<Batch> next();
  // Samples left out so far by the Skip policy (each also warned about on stderr).
  size_t skipped() const { return skipped_; }

  // Where the loader stands: the next next() yields batch `batch` of epoch `epoch`.
  struct Position {
    uint64_t seed;
    int64_t epoch;
    int64_t batch;
  };
  Position position() const;
  // Continues from a saved position (seed included): the next next() yields batch
  // `position.batch` of `position.epoch`, in the same order and with the same augmentation as
  // in the run that saved it. Throws sepal::Error when batch is outside [0, num_batches()].
  void restore(const Position& position);

  // The Generator seed of sample `index`'s augmentation in `epoch` (a mix of seed, epoch, index).
  static uint64_t sample_seed(uint64_t seed, int64_t epoch, size_t index);
  // The visiting order of `epoch`: a Fisher-Yates shuffle seeded from (seed, epoch), or the
  // identity when shuffle is off.
  std::vector<size_t> epoch_order(int64_t epoch) const;

 private:
  struct HostBatch;
  class Pipeline;
  struct StagingPool;
  // Loads, transforms and collates batch `batch` of `epoch`; returns early (incomplete) once
  // *stop is set. Runs on worker threads: touches no mutable member.
  HostBatch build_batch(int64_t epoch, int64_t batch, const std::vector<size_t>& order,
                        const std::atomic<bool>* stop) const;
  Batch finish(HostBatch&& host);
  void begin(int64_t epoch, int64_t batch);

  std::shared_ptr<const Dataset> dataset_;
  SampleTransform transform_;
  DataLoaderOptions options_;
  int64_t epoch_ = 0;
  int64_t batch_ = 0;  // next batch to deliver
  bool started_ = false;
  std::vector<size_t> order_;
  std::unique_ptr<Pipeline> pipeline_;
  size_t skipped_ = 0;
  std::shared_ptr<StagingPool> staging_;  // page-locked buffers for a CUDA device
};

}  // namespace sepal::data
