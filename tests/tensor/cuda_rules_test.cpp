// cuda_rules_test.cpp: the CUDA backend's decisions that need no GPU, checked on the CPU: how a
// cuDNN convolution algorithm is ranked and which one runs (tensor/cuda/conv_algos.h), the TF32
// and cuDNN-benchmark switches, and the SEPAL_CUDA_CACHE_LIMIT_MB parser (tensor/cuda_settings.h).
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "tensor/cuda/conv_algos.h"
#include "tensor/cuda_settings.h"
#include "tensor/error.h"

namespace sepal::cuda {
namespace {

constexpr AlgoPolicy kExactFloat32{true, false};
constexpr AlgoPolicy kTf32{true, true};
constexpr AlgoPolicy kFloat64{false, false};

std::vector<int> algos(const std::vector<AlgoCandidate>& c) {
  std::vector<int> out;
  for (const AlgoCandidate& a : c) out.push_back(a.algo);
  return out;
}

// cuDNN 9's _v7 heuristics describe plain FMA kernels with CUDNN_DEFAULT_MATH. Keeping only
// rows that say CUDNN_FMA_MATH (the old rule) left float32 with no algorithm at all.
TEST(ConvAlgos, Float32KeepsDefaultMathRowsAndRunsThemWithFmaMath) {
  const std::vector<AlgoResult> rows = {{1, true, ConvMath::TensorOp, 0},
                                        {1, true, ConvMath::Default, 4096},
                                        {0, true, ConvMath::Default, 0},
                                        {6, true, ConvMath::Default, 1 << 20}};
  const std::vector<AlgoCandidate> ranked = rank_algorithms(rows, kExactFloat32);
  EXPECT_EQ(algos(ranked), (std::vector<int>{1, 0, 6}));
  for (const AlgoCandidate& c : ranked) EXPECT_EQ(c.math, ConvMath::Fma) << "algorithm " << c.algo;
  EXPECT_EQ(ranked[0].workspace, 4096u);
  EXPECT_EQ(ranked[2].workspace, size_t(1) << 20);
}

TEST(ConvAlgos, TensorOpRowsAreSkippedUnlessTf32IsAllowed) {
  const std::vector<AlgoResult> rows = {{7, true, ConvMath::TensorOp, 0},
                                        {5, true, ConvMath::TensorOpAllowConversion, 0},
                                        {2, true, ConvMath::Default, 0}};
  EXPECT_EQ(algos(rank_algorithms(rows, kExactFloat32)), (std::vector<int>{2}));
  EXPECT_EQ(algos(rank_algorithms(rows, kFloat64)), (std::vector<int>{2}));
  const std::vector<AlgoCandidate> tf32 = rank_algorithms(rows, kTf32);
  EXPECT_EQ(algos(tf32), (std::vector<int>{7, 5, 2}));
  // with TF32 allowed each keeps the math type cuDNN evaluated it with
  EXPECT_EQ(tf32[0].math, ConvMath::TensorOp);
  EXPECT_EQ(tf32[1].math, ConvMath::TensorOpAllowConversion);
  EXPECT_EQ(tf32[2].math, ConvMath::Default);
}

TEST(ConvAlgos, Float64RunsWithDefaultMath) {
  const std::vector<AlgoCandidate> ranked = rank_algorithms({{1, true, ConvMath::Default, 0}}, kFloat64);
  ASSERT_EQ(ranked.size(), 1u);
  EXPECT_EQ(ranked[0].math, ConvMath::Default);
}

TEST(ConvAlgos, FailedRowsAndRepeatsAreDroppedInOrder) {
  const std::vector<AlgoResult> rows = {{3, false, ConvMath::Default, 0}, {4, true, ConvMath::Default, 0},
                                        {1, true, ConvMath::Fma, 0},      {4, true, ConvMath::Fma, 0},
                                        {0, true, ConvMath::Default, 0}};
  // 4 twice: both become FMA under the exact policy, so the second is a repeat
  EXPECT_EQ(algos(rank_algorithms(rows, kExactFloat32)), (std::vector<int>{4, 1, 0}));
}

TEST(ConvAlgos, RunFallsBackPastUnsupportedAndUnallocatableAlgorithms) {
  const std::vector<AlgoCandidate> c = {{1, ConvMath::Fma, 0}, {2, ConvMath::Fma, size_t(8) << 30}, {0, ConvMath::Fma, 0}};
  std::vector<int> tried;
  const size_t ran = run_first_working(c, 0, "conv2d", "input [1, 1, 4, 4]", [&](const AlgoCandidate& a) {
    tried.push_back(a.algo);
    if (a.algo == 1) return Attempt::Unsupported;
    if (a.algo == 2) return Attempt::NoWorkspace;
    return Attempt::Ran;
  });
  EXPECT_EQ(ran, 2u);
  EXPECT_EQ(tried, (std::vector<int>{1, 2, 0}));
}

TEST(ConvAlgos, RunStartsAtTheAlgorithmThatRanLast) {
  const std::vector<AlgoCandidate> c = {{1, ConvMath::Fma, 0}, {2, ConvMath::Fma, 0}, {0, ConvMath::Fma, 0}};
  std::vector<int> tried;
  const size_t ran = run_first_working(c, 1, "conv2d", "", [&](const AlgoCandidate& a) {
    tried.push_back(a.algo);
    return Attempt::Ran;
  });
  EXPECT_EQ(ran, 1u);
  EXPECT_EQ(tried, (std::vector<int>{2}));
}

TEST(ConvAlgos, WhenNothingRunsTheErrorNamesEveryAttempt) {
  const std::vector<AlgoCandidate> c = {{1, ConvMath::Fma, 0}, {6, ConvMath::Fma, size_t(3) << 20}};
  try {
    run_first_working(c, 0, "conv2d_backward_weight", "input [8, 3, 224, 224]", [](const AlgoCandidate& a) {
      return a.algo == 1 ? Attempt::Unsupported : Attempt::NoWorkspace;
    });
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("conv2d_backward_weight"), std::string::npos) << m;
    EXPECT_NE(m.find("input [8, 3, 224, 224]"), std::string::npos) << m;
    EXPECT_NE(m.find("algorithm 1 not supported"), std::string::npos) << m;
    EXPECT_NE(m.find("algorithm 6 needs 3 MiB of workspace"), std::string::npos) << m;
  }
}

TEST(ConvAlgos, AnEmptyRankingSaysWhyAndHowToWidenIt) {
  try {
    run_first_working({}, 0, "conv2d", "input [1, 3, 8, 8]", [](const AlgoCandidate&) { return Attempt::Ran; });
    FAIL() << "expected CudaError";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("set_allow_tf32"), std::string::npos) << e.what();
  }
}

TEST(ConvAlgos, AFatalErrorIsNotRetried) {
  const std::vector<AlgoCandidate> c = {{1, ConvMath::Fma, 0}, {0, ConvMath::Fma, 0}};
  int calls = 0;
  EXPECT_THROW(run_first_working(c, 0, "conv2d", "", [&](const AlgoCandidate&) -> Attempt {
                 ++calls;
                 throw CudaError("cuDNN error: CUDNN_STATUS_EXECUTION_FAILED");
               }),
               CudaError);
  EXPECT_EQ(calls, 1);
}

// Status numbers from cudnn_graph.h (cuDNN 9): categories of 1000.
TEST(ConvAlgos, WhichCudnnStatusesTryTheNextAlgorithm) {
  for (int s : {2000, 2002, 2003, 3000, 3002, 3007, 3010, 4003, 4004}) EXPECT_TRUE(cudnn_status_tries_next(s)) << s;
  for (int s : {0, 1001, 4000, 4001, 5000, 5003}) EXPECT_FALSE(cudnn_status_tries_next(s)) << s;
}

TEST(CudaSettings, SwitchesAreOffByDefaultAndToggle) {
  EXPECT_FALSE(allow_tf32());
  EXPECT_FALSE(cudnn_benchmark());
  set_allow_tf32(true);
  set_cudnn_benchmark(true);
  EXPECT_TRUE(allow_tf32());
  EXPECT_TRUE(cudnn_benchmark());
  set_allow_tf32(false);
  set_cudnn_benchmark(false);
  EXPECT_FALSE(allow_tf32());
  EXPECT_FALSE(cudnn_benchmark());
}

TEST(CudaSettings, CacheLimitFromTheEnvironment) {
  EXPECT_EQ(cache_limit_from_env(nullptr), std::numeric_limits<size_t>::max());
  EXPECT_EQ(cache_limit_from_env(""), std::numeric_limits<size_t>::max());
  EXPECT_EQ(cache_limit_from_env("0"), 0u);
  EXPECT_EQ(cache_limit_from_env("512"), size_t(512) << 20);
  for (const char* bad : {"-1", "1.5", "12MB", " 3", "abc", "99999999999999999999999"}) {
    try {
      cache_limit_from_env(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("SEPAL_CUDA_CACHE_LIMIT_MB"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace sepal::cuda
