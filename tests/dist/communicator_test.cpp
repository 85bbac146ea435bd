// communicator_test.cpp: the collectives and helpers of a Communicator, checked against values
// every rank can compute by hand (rank-dependent inputs, sums of 0..size-1).
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/expect_error.h"
#include "dist/communicator.h"
#include "dist_test_util.h"
#include "sepal.h"

namespace sepal {
namespace {

using testing::test_comm;

TEST(Communicator, AllReduceSumsEveryDtype) {
  dist::Communicator& comm = test_comm();
  const int r = comm.rank(), n = comm.size();
  const double rank_sum = n * (n - 1) / 2.0;
  Tensor f = from_vector(std::vector<float>{1.5f + r, -2.0f * r, 0.25f}, {3});
  Tensor d = from_vector(std::vector<double>{1e-12 * (r + 1), 3.0}, {2});
  Tensor i = from_vector(std::vector<int64_t>{(int64_t{1} << 40) + r, -7}, {2});
  auto wf = comm.all_reduce_async(f), wd = comm.all_reduce_async(d), wi = comm.all_reduce_async(i);
  wf->wait();
  wd->wait();
  wi->wait();
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{static_cast<float>(1.5 * n + rank_sum),
                                                       static_cast<float>(-2.0 * rank_sum), 0.25f * n}));
  EXPECT_DOUBLE_EQ(d.to_vector<double>()[0], 1e-12 * (rank_sum + n));
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{(int64_t{1} << 40) * n + static_cast<int64_t>(rank_sum), -7 * n}));
}

TEST(Communicator, BroadcastTakesTheRootsValues) {
  dist::Communicator& comm = test_comm();
  const int root = comm.size() - 1;
  Tensor t = full({2, 3}, comm.rank() * 10.0 + 1);
  comm.broadcast(t, root);
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>(6, root * 10.0f + 1));
  std::string bytes = comm.rank() == root ? std::string("from the root\0with a zero", 25) : "other";
  comm.broadcast_bytes(bytes, root);
  EXPECT_EQ(bytes, std::string("from the root\0with a zero", 25));
}

TEST(Communicator, HostSumAndBarrier) {
  dist::Communicator& comm = test_comm();
  std::vector<double> v{1.0, static_cast<double>(comm.rank()), 1e15};
  comm.all_reduce_host(v);
  EXPECT_EQ(v, (std::vector<double>{1.0 * comm.size(), comm.size() * (comm.size() - 1) / 2.0, 1e15 * comm.size()}));
  comm.barrier();
}

TEST(Communicator, BroadcastTensorsPacksMixedDtypes) {
  dist::Communicator& comm = test_comm();
  Tensor a = full({4}, comm.rank() + 0.5), b = full({2, 2}, comm.rank() + 2.0, TensorOptions(DType::Float64));
  Tensor c = full({}, comm.rank() + 3.0, TensorOptions(DType::Int64));
  dist::broadcast_tensors(comm, {a, b, c}, 0);
  EXPECT_EQ(a.to_vector<float>(), std::vector<float>(4, 0.5f));
  EXPECT_EQ(b.to_vector<double>(), std::vector<double>(4, 2.0));
  EXPECT_EQ(c.item<int64_t>(), 3);
}

TEST(Communicator, SameStructureCheckNamesTheFirstDifference) {
  dist::Communicator& comm = test_comm();
  EXPECT_NO_THROW(dist::check_same_on_all_ranks(comm, {"a [2]", "b [3]"}, "the lists"));
  if (comm.size() == 1) GTEST_SKIP() << "needs two ranks";
  std::vector<std::string> lines{"a [2]", comm.rank() == 1 ? "b [4]" : "b [3]"};
  sepal::testing::expect_error_containing([&] { dist::check_same_on_all_ranks(comm, lines, "the lists"); },
                                          "the lists differ between ranks: entry 2 is 'b [3]' on rank 0 but "
                                          "'b [4]' on rank 1");
}

TEST(Communicator, RejectsWhatItCannotSend) {
  dist::Communicator& comm = test_comm();
  if (comm.size() == 1) GTEST_SKIP() << "the single-process communicator sends nothing";
  using sepal::testing::expect_error_containing;
  expect_error_containing([&] { comm.all_reduce(full({2}, 1.0, TensorOptions(DType::UInt8))); }, "is not supported");
  expect_error_containing([&] { comm.all_reduce(full({2, 3}, 1.0).transpose(0, 1)); }, "must be contiguous");
  expect_error_containing([&] { comm.broadcast(full({2}, 1.0), comm.size()); }, "root 2 outside ranks");
}

TEST(Communicator, LaunchDetectionReadsOpenMpisVariables) {
  const std::optional<dist::LaunchInfo> info = dist::detect_launch();
  if (test_comm().backend_name() == "mpi") {
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->rank, test_comm().rank());
    EXPECT_EQ(info->size, test_comm().size());
    EXPECT_EQ(info->local_rank, test_comm().local_rank());
  }
}

}  // namespace
}  // namespace sepal

namespace sepal {
namespace {
// The launchers' variables: Open MPI's first, then PMIx, then MPICH/Hydra's PMI; nothing (or a
// rank outside the size) is no launcher. Run as one process only (mpirun sets its own).
TEST(LaunchDetection, ReadsEachLaunchersVariables) {
  if (test_comm().size() > 1 || std::getenv("OMPI_COMM_WORLD_SIZE")) GTEST_SKIP() << "launched by mpirun";
  const char* names[] = {"PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "PMIX_RANK", "PMIX_SIZE"};
  EXPECT_FALSE(dist::detect_launch().has_value());
  ::setenv("PMI_RANK", "3", 1);
  ::setenv("PMI_SIZE", "4", 1);
  ::setenv("MPI_LOCALRANKID", "1", 1);
  ::setenv("MPI_LOCALNRANKS", "2", 1);
  std::optional<dist::LaunchInfo> info = dist::detect_launch();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->launcher, "PMI");
  EXPECT_EQ(info->rank, 3);
  EXPECT_EQ(info->size, 4);
  EXPECT_EQ(info->local_rank, 1);
  EXPECT_EQ(info->local_size, 2);
  ::setenv("PMIX_RANK", "0", 1);
  ::setenv("PMIX_SIZE", "2", 1);
  info = dist::detect_launch();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->launcher, "PMIx");
  EXPECT_EQ(info->size, 2);
  ::setenv("PMIX_RANK", "2", 1);  // outside the size: not this launcher; PMI's again
  EXPECT_EQ(dist::detect_launch()->launcher, "PMI");
  ::setenv("PMI_SIZE", "x", 1);
  EXPECT_FALSE(dist::detect_launch().has_value());
  for (const char* n : names) ::unsetenv(n);
}
}  // namespace
}  // namespace sepal
