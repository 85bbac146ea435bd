// test_data.h: where test programs find their data files (tests/golden, and tests/fuzz/corpus
// beside it): the folder named by the environment variable SEPAL_TEST_DATA_DIR when it is set,
// else the `golden` folder next to the test program itself (the build copies tests/golden and
// tests/fuzz/corpus next to the test programs, and the GPU bundle packs them the same way). No
// path is compiled in, so a test program moved to another machine still finds its data.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

namespace sepal::testing {

inline std::filesystem::path test_data_dir() {
  if (const char* env = std::getenv("SEPAL_TEST_DATA_DIR"); env && *env) return env;
  return std::filesystem::read_symlink("/proc/self/exe").parent_path() / "golden";
}

inline std::string test_data_path(const std::string& file) { return (test_data_dir() / file).string(); }

}  // namespace sepal::testing
