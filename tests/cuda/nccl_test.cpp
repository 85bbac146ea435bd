// nccl_test.cpp: the NCCL communicator with one rank (bootstrapped by the single-process
// communicator, so no MPI runtime is needed on the GPU machine): all-reduce and broadcast of CUDA
// tensors leave them unchanged, ordered with the compute stream; bad tensors are refused. Skips
// without a GPU or without NCCL in the build.
#include <gtest/gtest.h>

#include "cuda/cuda_test_util.h"
#include "dist/communicator.h"

namespace sepal {
namespace {

TEST(NcclCommunicator, OneRankAllReduceAndBroadcast) {
  if (!dist::built_with_nccl()) GTEST_SKIP() << "built without NCCL";
  if (!sepal::cuda_available()) GTEST_SKIP() << "no CUDA device";
  auto comm = dist::make_nccl(dist::make_single_process(), testing::gpu());
  EXPECT_EQ(comm->backend_name(), "nccl");
  EXPECT_EQ(comm->size(), 1);
  Tensor f = arange(1000.0, TensorOptions().device(testing::gpu()));
  Tensor d = full({3, 5}, 2.5, TensorOptions(DType::Float64).device(testing::gpu()));
  f.mul_(3.0);  // queued on the compute stream before the collective
  auto wf = comm->all_reduce_async(f);
  auto wd = comm->broadcast_async(d, 0);
  wf->wait();
  wd->wait();
  const std::vector<float> v = f.cpu().to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], 3.0f * i) << i;
  EXPECT_EQ(d.cpu().to_vector<double>(), std::vector<double>(15, 2.5));
  EXPECT_THROW(comm->all_reduce(full({4}, 1.0)), Error);  // a CPU tensor
  EXPECT_THROW(comm->all_reduce(full({2, 3}, 1.0, TensorOptions().device(testing::gpu())).transpose(0, 1)), Error);
}

}  // namespace
}  // namespace sepal
