// conv_algos.h: the rules by which a cuDNN convolution algorithm is chosen and run, in plain C++
// (no CUDA headers) so the CPU tests check them without a GPU (tests/tensor/conv_algos_test.cpp).
// conv.cu turns cuDNN's heuristic (cudnnGet*Algorithm_v7) or timing (cudnnFind*AlgorithmEx)
// results into AlgoResult rows, ranks them with rank_algorithms(), and runs the ranked list with
// run_first_working(), as PyTorch's Conv_v7.cpp does:
//  - precision: float32 without TF32 (the default) and float64 skip tensor-op results (they round
//    float32 inputs to TF32); every other result is kept, whatever math type cuDNN reports for it
//    (the _v7 heuristics report DEFAULT for plain FMA kernels), and float32's descriptor is set to
//    CUDNN_FMA_MATH so cuDNN cannot switch to tensor cores behind our back.
//  - fallback: an algorithm that answers "not supported", "bad parameter" or a device allocation
//    failure, or whose workspace cannot be allocated even after the cache was emptied, is skipped
//    and the next one tried; the index that ran is remembered for the next call.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace sepal::cuda {

// cudnnMathType_t, in its numeric order (CUDNN_DEFAULT_MATH = 0 ... CUDNN_FMA_MATH = 3).
enum class ConvMath { Default = 0, TensorOp = 1, TensorOpAllowConversion = 2, Fma = 3 };

// One row of cuDNN's results: the algorithm, whether cuDNN can run it (status SUCCESS), the math
// type it was evaluated with, and its workspace in bytes.
struct AlgoResult {
  int algo = 0;
  bool ok = false;
  ConvMath math = ConvMath::Default;
  size_t workspace = 0;
};

// One algorithm to run, with the math type to set on its convolution descriptor.
struct AlgoCandidate {
  int algo = 0;
  ConvMath math = ConvMath::Default;
  size_t workspace = 0;
  bool operator==(const AlgoCandidate&) const = default;
};

struct AlgoPolicy {
  bool float32 = true;     // float32 data (else float64)
  bool allow_tf32 = false;  // sepal::cuda::allow_tf32()
};

// cuDNN's rows in its order, minus rows it cannot run, tensor-op rows when the policy needs exact
// float math, and repeats of an (algorithm, math) pair already listed.
inline std::vector<AlgoCandidate> rank_algorithms(const std::vector<AlgoResult>& results, AlgoPolicy policy) {
  const bool exact = !policy.float32 || !policy.allow_tf32;
  std::vector<AlgoCandidate> ranked;
  for (const AlgoResult& r : results) {
    if (!r.ok) continue;
    const bool tensor_op = r.math == ConvMath::TensorOp || r.math == ConvMath::TensorOpAllowConversion;
    if (exact && tensor_op) continue;
    AlgoCandidate c{r.algo, r.math, r.workspace};
    if (exact) c.math = policy.float32 ? ConvMath::Fma : ConvMath::Default;
    bool seen = false;
    for (const AlgoCandidate& o : ranked) seen = seen || (o.algo == c.algo && o.math == c.math);
    if (!seen) ranked.push_back(c);
  }
  return ranked;
}

// What one attempt to run a candidate gave.
enum class Attempt { Ran, Unsupported, NoWorkspace };

// cuDNN statuses after which the next algorithm is tried: the BAD_PARAM (2xxx) and NOT_SUPPORTED
// (3xxx) categories, and the host or device allocation failures (4003, 4004).
inline bool cudnn_status_tries_next(int status) {
  const int category = status / 1000 * 1000;
  return category == 2000 || category == 3000 || status == 4003 || status == 4004;
}

// Runs try_one(candidate) on candidates[start], candidates[start + 1], ... until one returns
// Attempt::Ran, and returns its index. try_one throws for errors that must not be retried. When
// none runs, throws CudaError naming `op`, the shape text and each candidate's outcome.
template <typename TryOne>
size_t run_first_working(const std::vector<AlgoCandidate>& candidates, size_t start, const std::string& op,
                         const std::string& shapes, TryOne&& try_one) {
  std::string tried;
  for (size_t i = start; i < candidates.size(); ++i) {
    const Attempt a = try_one(candidates[i]);
    if (a == Attempt::Ran) return i;
    tried += (tried.empty() ? "" : ", ") + std::string("algorithm ") + std::to_string(candidates[i].algo) +
             (a == Attempt::Unsupported ? " not supported" :
                                          " needs " + std::to_string(candidates[i].workspace >> 20) +
                                              " MiB of workspace that could not be allocated");
  }
  if (tried.empty())
    throw CudaError(op + ": cuDNN offers no usable algorithm for " + shapes +
                    " (float32 without TF32 skips tensor-op algorithms; sepal::cuda::set_allow_tf32 allows them)");
  throw CudaError(op + ": no cuDNN algorithm could run " + shapes + ": " + tried);
}

}  // namespace sepal::cuda
