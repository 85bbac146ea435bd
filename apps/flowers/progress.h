// progress.h: the per-phase progress display. On a terminal, one bar redrawn in place on
// stderr; otherwise a plain line at every quarter of the phase, so logs stay readable.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace flowers {

class Progress {
 public:
  Progress(std::string phase, int64_t total_batches);
  // After each batch: the running loss and accuracy and the images seen so far.
  void update(int64_t batches_done, double loss, double acc, int64_t images);
  void finish();  // clears the bar

 private:
  std::string phase_;
  int64_t total_;
  bool tty_;
  int last_quarter_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// SIGINT, SIGTERM and SIGUSR1 handling: the first signal sets a flag the training loop polls
// after each batch (under mpirun, every rank learns of it in the step's all-reduce); a second one
// while still running restores the default action and re-raises (a hard stop).
void install_interrupt_handler();
bool interrupted();
void clear_interrupt();

}  // namespace flowers
