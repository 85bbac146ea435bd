#!/usr/bin/env bash
# test.sh: the one test command. Installs missing dependencies, configures with the CUDA backend
# when the CUDA toolkit is present, builds everything, runs every test (CUDA tests skip themselves
# without a GPU), and proves the installed CMake package works from an external project.
#   scripts/test.sh             release build in build/, all tests, install + consumer project
#   scripts/test.sh --sanitize  CPU-only AddressSanitizer + UBSan build in build-asan/, all tests
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
"$root/scripts/install-deps.sh"

if [ "${1:-}" = "--sanitize" ]; then
  build="${BUILD_DIR:-$root/build-asan}"
  # MPI off: Open MPI's own allocations would read as leaks; the MPI paths run in the release build
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSEPAL_CUDA=OFF -DSEPAL_MPI=OFF -DSEPAL_SANITIZE=ON \
    -DSEPAL_BUILD_BENCH=OFF
  cmake --build "$build" -j"$jobs"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp"
  (cd "$build" && ctest --output-on-failure -j"$jobs")
  exit 0
fi

build="${BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEPAL_CUDA="${SEPAL_CUDA:-AUTO}"
cmake --build "$build" -j"$jobs"
(cd "$build" && ctest --output-on-failure -j"$jobs")

# the installed package, used by a project outside this tree
prefix="$build/install"
rm -rf "$prefix" "$build/consumer"
cmake --install "$build" --prefix "$prefix" > /dev/null
cmake -S "$root/tests/consumer" -B "$build/consumer" -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build "$build/consumer" -j"$jobs" > /dev/null
"$build/consumer/consumer"
