// dist_main.cpp: the GoogleTest main of the data-parallel tests. Under mpirun it opens the MPI
// communicator, silences the output of ranks other than 0, and exits non-zero when a test failed
// on any rank; as one process it runs the same tests on the single-process communicator.
#include <gtest/gtest.h>

#include "dist_test_util.h"

namespace sepal::testing {
dist::Communicator& test_comm() {
  static std::unique_ptr<dist::Communicator> comm = [] {
    const std::optional<dist::LaunchInfo> launch = dist::detect_launch();
    return launch && dist::built_with_mpi() ? dist::make_mpi() : dist::make_single_process();
  }();
  return *comm;
}
}  // namespace sepal::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  sepal::dist::Communicator& comm = sepal::testing::test_comm();
  if (comm.rank() != 0) {
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int local = RUN_ALL_TESTS();
  std::vector<double> failed{local != 0 ? 1.0 : 0.0};
  comm.all_reduce_host(failed);
  if (comm.rank() == 0 && failed[0] > 0 && local == 0)
    std::printf("a test failed on another rank (its output is silenced; run it alone to see it)\n");
  return failed[0] > 0 ? 1 : 0;
}
