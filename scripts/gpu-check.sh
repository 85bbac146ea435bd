#!/usr/bin/env bash
# gpu-check.sh: the one command for a machine with a GPU. Builds sepal with the CUDA backend for
# sm_90 (Release, build-gpu/), runs every test (the CUDA tests run for real there), then the GPU
# benchmarks (benchmark names containing "cuda"), and writes a markdown report of the GPU, driver,
# CUDA versions, test summary and benchmark tables to ${OUT:-build-gpu}/gpu-report.md.
#   scripts/gpu-check.sh
# Environment: BUILD_DIR (default build-gpu), OUT (report folder), JOBS (default nproc),
# SEPAL_CMAKE_ARGS (extra configure arguments), CUDNN_ROOT (else a pip nvidia-cudnn wheel is used
# when present). Exit status: 0 all tests passed; 1 a test failed; 2 a benchmark program failed;
# 3 configure or build failed; 4 a GPU is visible but sepal cannot use it.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 3
build="${BUILD_DIR:-build-gpu}"
out="${OUT:-$build}"
jobs="${JOBS:-$(nproc)}"
mkdir -p "$build" "$out"
out=$(cd "$out" && pwd)
report="$out/gpu-report.md"
status=0

section() { printf '\n## %s\n\n' "$1" >> "$report"; }
fence() { { printf '```\n'; cat; printf '```\n'; } >> "$report"; }

# cuDNN only in a pip wheel (nvidia-cudnn-cu*): point CMake at it and let the loader find its
# libraries (libcudnn.so.9 opens its engine libraries from the same folder at run time).
if [ -z "${CUDNN_ROOT:-}" ] && command -v python3 > /dev/null; then
  wheel=$(python3 -c 'import nvidia.cudnn as m, os; print(os.path.dirname(m.__file__) if m.__file__ else list(m.__path__)[0])' 2> /dev/null || true)
  if [ -n "$wheel" ] && [ -d "$wheel/lib" ]; then export CUDNN_ROOT="$wheel"; fi
fi
if [ -n "${CUDNN_ROOT:-}" ] && [ -d "$CUDNN_ROOT/lib" ]; then
  export LD_LIBRARY_PATH="$CUDNN_ROOT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

{
  echo "# sepal GPU check"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- commit: $(git rev-parse --short HEAD 2> /dev/null || echo unknown)$(git diff --quiet 2> /dev/null || echo ' (with local changes)')"
  echo "- host: $(uname -srm), $(nproc) CPUs"
} > "$report"

section "GPU"
if command -v nvidia-smi > /dev/null; then
  nvidia-smi
  {
    echo "| GPU | driver | memory | compute capability |"
    echo "| --- | --- | --- | --- |"
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2> /dev/null |
      awk -F', ' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }'
    echo
    echo "- CUDA version supported by the driver: $(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)"
  } >> "$report"
else
  echo "nvidia-smi not found" | tee -a "$report"
fi
nvcc_bin=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
echo "- CUDA toolkit: $("$nvcc_bin" --version 2> /dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')" >> "$report"
echo "- cuDNN: ${CUDNN_ROOT:-from the CUDA toolkit, if present}" >> "$report"

# ---- configure and build ----
echo "== configure and build in $build"
read -r -a extra_args <<< "${SEPAL_CMAKE_ARGS:-}"
log="$out/build.log"  # configure and build output
if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEPAL_CUDA=ON -DSEPAL_CUDA_ARCHS=90 \
       "${extra_args[@]}" > "$log" 2>&1 ||
   ! cmake --build "$build" -j"$jobs" >> "$log" 2>&1; then
  section "Build failed"
  grep -v '^\[' "$log" | tail -60 | fence
  tail -60 "$log"
  echo "gpu-check: configure or build failed; see $report"
  exit 3
fi
section "Build"
{
  grep -E 'sepal:|CUDA compiler identification' "$log" || true
  echo "warnings in the build: $(grep -c 'warning' "$log" || true)"
} | fence

# ---- tests ----
echo "== tests"
# passive OpenMP waits: several multithreaded test processes share the cores
(cd "$build" && OMP_WAIT_POLICY=PASSIVE ctest --output-on-failure -j"$(( jobs < 8 ? jobs : 8 ))" 2>&1) |
  tee "$out/ctest.log"
ctest_status=${PIPESTATUS[0]}
section "Tests"
{
  grep -E 'tests passed|tests failed out of|Total Test time' "$out/ctest.log"
  sed -n '/The following tests FAILED:/,$p' "$out/ctest.log" | grep -E 'FAILED|Failed|Timeout|Exception|SEGFAULT' || true
  skipped=$(sed -n '/The following tests did not run:/,/^$/p' "$out/ctest.log" | grep -c '(Skipped)' || true)
  echo "skipped: $skipped"
  sed -n '/The following tests did not run:/,/^$/p' "$out/ctest.log" | grep '(Skipped)' | sed 's/ *#.*(Skipped)/ (Skipped)/' | head -20
} | fence
if [ "$ctest_status" -ne 0 ]; then status=1; fi

# A GPU that nvidia-smi sees but the CUDA runtime cannot use (driver older than the toolkit,
# no device node) makes every CUDA test skip; that must not pass as a success.
if [ -x "$build/tests/test_cuda" ] && command -v nvidia-smi > /dev/null &&
   nvidia-smi -L 2> /dev/null | grep -q '^GPU'; then
  probe=$("$build/tests/test_cuda" --gtest_filter='CudaErrors.ExplicitCopiesAcrossDevicesAreAllowed' 2>&1 || true)
  if ! grep -q '\[  PASSED  \] 1 test' <<< "$probe"; then
    {
      echo
      echo "**A GPU is visible but sepal's CUDA tests skipped or failed: sepal cannot use the device"
      echo "(CUDA driver older than the toolkit, or no device access).**"
    } >> "$report"
    echo "$probe" | tail -20 | fence
    echo "gpu-check: the GPU is visible but not usable by sepal"
    status=4
  fi
fi

# ---- benchmarks ----
echo "== GPU benchmarks"
section "Benchmarks (names matching [Cc]uda)"
found_bench=0
for exe in "$build"/bench/bench_*; do
  if [ ! -f "$exe" ] || [ ! -x "$exe" ]; then continue; fi
  found_bench=1
  name=$(basename "$exe")
  log="$out/$name.txt"
  "$exe" --benchmark_filter='[Cc]uda' --benchmark_color=false > "$log" 2>&1
  bench_status=$?
  cat "$log"
  printf '### %s\n\n' "$name" >> "$report"
  if grep -q 'Failed to match any benchmarks' "$log"; then
    echo "no CUDA benchmarks in this program" >> "$report"
  elif [ "$bench_status" -ne 0 ]; then
    echo "**exited with status $bench_status**" >> "$report"
    tail -40 "$log" | fence
    [ "$status" -eq 0 ] && status=2
  else
    fence < "$log"
  fi
  echo >> "$report"
done
[ "$found_bench" -eq 1 ] || echo "no benchmark programs in $build/bench" >> "$report"

section "Result"
case "$status" in
  0) echo "all tests passed" ;;
  1) echo "TESTS FAILED (full output: ctest.log)" ;;
  2) echo "tests passed, a benchmark program failed" ;;
  4) echo "GPU not usable by sepal" ;;
esac >> "$report"
echo "gpu-check: report written to $report (status $status)"
exit "$status"
