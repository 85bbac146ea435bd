// generator.h: a seeded, restorable random generator. Its whole state is (seed, offset): each
// random tensor consumes `numel` Philox counters starting at `offset` (see kernels/philox.h), so
// saving and restoring those two numbers replays the same random stream on any device.
#pragma once
#include <cstdint>
#include <mutex>

namespace sepal {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eedULL) : seed_(seed) {}
  void manual_seed(uint64_t seed) { std::lock_guard<std::mutex> l(mu_); seed_ = seed; offset_ = 0; }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    std::lock_guard<std::mutex> l(mu_);
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves n counters and returns the first one.
  uint64_t advance(uint64_t n) {
    std::lock_guard<std::mutex> l(mu_);
    uint64_t first = offset_;
    offset_ += n;
    return first;
  }
  // Host-side draws (data augmentation, shuffling): uniform double in [0, 1), integer in [0, n).
  double next_double();
  uint64_t next_below(uint64_t n);

 private:
  std::mutex mu_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide generator used when none is passed.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace sepal
