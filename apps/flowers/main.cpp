// main.cpp: `flowers`, the ResNet transfer-learning trainer. Dispatches to a subcommand and turns
// every error into one line and a non-zero exit status (2: bad command line, 1: any other error).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "commands.h"
#include "tensor/error.h"

namespace {
const char* kUsage =
    "usage: flowers <command> [options]     (flowers <command> --help for its options)\n\n"
    "commands:\n"
    "  train      train or resume a ResNet on an image folder, an IDX folder or the built-in demo flowers\n"
    "  evaluate   accuracy, per-class accuracy and confusion matrix of a checkpoint on a folder\n"
    "  predict    top-k classes of images, from a checkpoint or plain .safetensors weights\n"
    "  inspect    what a checkpoint holds; with --against, the resume plan for new options\n"
    "  demo       the whole transfer-learning story on the built-in flowers, in a few minutes\n";
}  // namespace

int main(int argc, char** argv) {
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
