// compare_checkpoints.cpp: `compare_checkpoints A.sepal B.sepal [--params-only] MAX_REL`: prints the
// largest difference between the two checkpoints' tensors relative to B's largest magnitude
// (and the tensor it is in), and exits 0 when it is at most MAX_REL, 1 when above, 2 on errors.
// The data-parallel CLI tests (tests/dist/cli_dist_test.sh) compare 1-rank and 2-rank runs with it.
#include <cmath>
#include <cstdio>
#include <string>

#include "checkpoint/checkpoint.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: compare_checkpoints A.sepal B.sepal [--params-only] MAX_REL\n");
    return 2;
  }
  const bool params_only = std::string(argv[3]) == "--params-only";
  const double max_rel = std::stod(argv[params_only ? 4 : 3]);
  try {
    const auto a = sepal::checkpoint::load_checkpoint(argv[1]);
    const auto b = sepal::checkpoint::load_checkpoint(argv[2]);
    double diff = 0, scale = 0;
    std::string where = "(none)";
    for (const auto& [name, tb] : b.model) {
      if (params_only && !b.param(name)) continue;
      const sepal::Tensor* ta = a.model.find(name);
      if (!ta || ta->shape() != tb.shape()) {
        std::printf("%s: missing or another shape in %s\n", name.c_str(), argv[1]);
        return 1;
      }
      const auto va = ta->to(sepal::DType::Float64).to_vector<double>();
      const auto vb = tb.to(sepal::DType::Float64).to_vector<double>();
      for (size_t i = 0; i < va.size(); ++i) {
        scale = std::max(scale, std::abs(vb[i]));
        if (std::abs(va[i] - vb[i]) > diff) {
          diff = std::abs(va[i] - vb[i]);
          where = name;
        }
      }
    }
    const double rel = scale > 0 ? diff / scale : diff;
    std::printf("max relative difference %.3g (in %s)\n", rel, where.c_str());
    return rel <= max_rel ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_checkpoints: %s\n", e.what());
    return 2;
  }
}
