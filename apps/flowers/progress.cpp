// progress.cpp: Progress and the SIGINT flag.
#include "progress.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>

namespace flowers {

Progress::Progress(std::string phase, int64_t total_batches)
    : phase_(std::move(phase)), total_(total_batches), tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

void Progress::update(int64_t done, double loss, double acc, int64_t images) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? images / secs : 0.0;
  if (tty_) {
    const int width = 28;
    const int filled = total_ > 0 ? static_cast<int>(width * done / total_) : width;
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r  %-5s [%s] %lld/%lld loss %.4f acc %.4f %.0f img/s ", phase_.c_str(), bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), loss, acc, rate);
    std::fflush(stderr);
    return;
  }
  const int quarter = total_ > 0 ? static_cast<int>(4 * done / total_) : 4;
  if (quarter > last_quarter_ && done < total_) {
    last_quarter_ = quarter;
    std::fprintf(stderr, "  %s %lld/%lld batches, loss %.4f acc %.4f, %.0f img/s\n", phase_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), loss, acc, rate);
  }
}

void Progress::finish() {
  if (tty_) std::fprintf(stderr, "\r%100s\r", "");
}

namespace {
std::atomic<int> g_interrupts{0};
// A second signal ends the process at once (the default action).
extern "C" void on_interrupt(int sig) {
  if (g_interrupts.fetch_add(1) >= 1) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}
}  // namespace

// SIGINT (Ctrl-C), and SIGTERM and SIGUSR1: mpirun turns Ctrl-C into SIGTERM (then SIGKILL soon
// after) and forwards SIGUSR1, so `kill -USR1 <mpirun pid>` is the clean stop of a job.
void install_interrupt_handler() {
  for (int sig : {SIGINT, SIGTERM, SIGUSR1}) std::signal(sig, on_interrupt);
}
bool interrupted() { return g_interrupts.load() > 0; }
void clear_interrupt() { g_interrupts.store(0); }

}  // namespace flowers
