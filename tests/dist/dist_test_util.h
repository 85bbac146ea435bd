// dist_test_util.h: the communicator the data-parallel tests share (MPI under mpirun, else the
// single-process one), set up by dist_main.cpp.
#pragma once
#include "dist/communicator.h"

namespace sepal::testing {
dist::Communicator& test_comm();
}  // namespace sepal::testing
