// main.cpp: `flowers`, the ResNet transfer-learning trainer. Dispatches to a subcommand and turns
// every error into one line and a non-zero exit status (2: bad command line, 1: any other error).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "commands.h"
#include "tensor/cuda_info.h"
#include "tensor/error.h"

namespace {
const char* kUsage =
    "usage: flowers <command> [options]     (flowers <command> --help for its options)\n\n"
    "commands:\n"
    "  train      train or resume a ResNet on an image folder, an IDX folder or the built-in demo flowers\n"
    "  evaluate   accuracy, per-class accuracy and confusion matrix of a checkpoint on a folder\n"
    "  predict    top-k classes of images, from a checkpoint or plain .safetensors weights\n"
    "  inspect    what a checkpoint holds; with --against, the resume plan for new options\n"
    "  demo       the whole transfer-learning story on the built-in flowers, in a few minutes\n"
    "  version    sepal's version, and the CUDA, cuBLAS and cuDNN it was built with and finds\n";
}  // namespace

// libgomp spins for a long time in its barriers by default; when other processes compete for the
// cores (a shared machine, the DataLoader's workers) that costs 40-60% beyond the fair share
// (docs/performance.md). libgomp reads its settings once, when it is loaded, so when the user set
// neither, flowers re-executes itself once with a short spin.
static void limit_openmp_spinning(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  ::setenv("GOMP_SPINCOUNT", "10000", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: carry on with the defaults
}

int main(int argc, char** argv) {
  limit_openmp_spinning(argv);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" || std::string(argv[1]) == "help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress (stderr) and results interleave in order
  const std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "train") return flowers::train_command(args);
    if (command == "evaluate") return flowers::evaluate_command(args);
    if (command == "predict") return flowers::predict_command(args);
    if (command == "inspect") return flowers::inspect_command(args);
    if (command == "demo") return flowers::demo_command(args);
    if (command == "version" || command == "--version") {
      std::printf("flowers (sepal %s)\n%s", SEPAL_VERSION, sepal::cuda_info().c_str());
      return 0;
    }
    std::fprintf(stderr, "flowers: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const flowers::UsageError& e) {
    std::fprintf(stderr, "flowers %s: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::string msg = e.what();
    // one line: a multi-line message (a load report, a refused plan) is indented after the first
    std::fprintf(stderr, "flowers %s: error: %s\n", command.c_str(), msg.c_str());
    return 1;
  }
}
