#!/usr/bin/env bash
# gpu-check.sh: the one command for a machine with a GPU. Proves sepal's CUDA backend there and
# writes a markdown report (gpu-report.md) with the raw logs under $OUT (default: the work folder).
#
#   scripts/gpu-check.sh --bundle FILE             unpack a bundle from scripts/gpu-bundle.sh and
#                                                  check the GPU with it (no build, no packages)
#   scripts/gpu-check.sh --bundle FILE --rehearse  here, without a GPU: unpack in a fresh folder,
#                                                  check with ldd that every library outside
#                                                  libc/libstdc++/CUDA resolves inside the bundle,
#                                                  and run its CPU tests on the bundle's libraries
#   scripts/gpu-check.sh                           build from source (needs sepal's packages:
#                                                  scripts/install-deps.sh), then the same checks
#
# The checks, within about 8 minutes (BUDGET_S, default 480):
#   1. the GPU, driver, and CUDA runtime / cuBLAS / cuDNN versions compiled against and loaded;
#   2. every CUDA test: test_cuda whole, and the tests named *Cuda* of the other test programs,
#      each program separately (a sticky CUDA error cannot hide the rest); a failed test is rerun
#      alone with CUDA_LAUNCH_BLOCKING=1;
#   3. compute-sanitizer memcheck over a representative subset (elementwise, reductions, matmul,
#      conv, BatchNorm, pooling, fused Adam, the allocator, pinned copies), with caching off so
#      each allocation has its own bounds; racecheck over the reductions;
#   4. the GPU benchmarks (ResNet-18 steps at batch 8/64/256, conv passes, fused Adam);
#   5. the same workloads in the PyTorch installed there (bench/gpu_torch.py), and the ratios.
# Exit status: 0 all passed; 1 a test failed; 2 a sanitizer found errors; 3 build or unpack
# failed; 4 a GPU is visible but sepal cannot use it; 5 a benchmark program failed; 6 (rehearsal)
# a library resolves outside the bundle or not at all.
# Environment: OUT (report folder), BUDGET_S, TORCH_ARGS (extra gpu_torch.py arguments, e.g.
# --quick), BUILD_DIR/JOBS/SEPAL_CMAKE_ARGS (source mode),
# CUDNN_ROOT (a cuDNN outside the toolkit and the wheels).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=source
bundle=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle="${2:-}"; mode=bundle; shift 2 || { echo "gpu-check: --bundle needs a FILE" >&2; exit 3; } ;;
    --rehearse) rehearse=1; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 3 ;;
  esac
done
if [ "${rehearse:-0}" = 1 ]; then
  [ "$mode" = bundle ] || { echo "gpu-check: --rehearse needs --bundle FILE" >&2; exit 3; }
  mode=rehearse
fi
budget="${BUDGET_S:-480}"
[ "$mode" = rehearse ] && budget="${BUDGET_S:-3600}"  # the CPU tests on this 2-core machine
SECONDS=0
status=0
fail() { [ "$status" -eq 0 ] && status=$1; }  # keeps the first failure's code
left() { echo $(( budget - SECONDS )); }

# ---- where things are: work folder, report, CUDA libraries ----
work=$(mktemp -d "${TMPDIR:-/tmp}/sepal-gpu-check.XXXXXX")
out="${OUT:-$work/report}"
mkdir -p "$out" && out=$(cd "$out" && pwd)
report="$out/gpu-report.md"
: > "$report"
section() { printf '\n## %s\n\n' "$1" >> "$report"; }
fence() { { printf '```\n'; cat; printf '```\n'; } >> "$report"; }
note() { echo "$*" | tee -a "$report"; }

# CUDA's own libraries: the toolkit's, then the Python wheels' (nvidia-*-cu13: cuDNN, cuBLAS,
# runtime, NCCL), then CUDNN_ROOT. The bundle carries everything else.
cuda_lib_dirs() {
  local dirs=() nvcc_dir
  nvcc_dir=$(dirname "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")
  for d in "$nvcc_dir/../lib64" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -d "$d" ] && dirs+=("$(cd "$d" && pwd)")
  done
  if command -v python3 > /dev/null; then
    while read -r d; do [ -n "$d" ] && dirs+=("$d"); done < <(python3 - 2> /dev/null <<'PY'
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()] + sys.path
seen = set()
for r in roots:
    for d in sorted(glob.glob(os.path.join(r, "nvidia", "*", "lib"))):
        if d not in seen and glob.glob(os.path.join(d, "*.so*")):
            seen.add(d)
            print(d)
PY
)
  fi
  [ -n "${CUDNN_ROOT:-}" ] && [ -d "$CUDNN_ROOT/lib" ] && dirs+=("$CUDNN_ROOT/lib")
  local IFS=:
  echo "${dirs[*]}"
}

# ---- the programs: unpacked from the bundle, or built from source ----
if [ "$mode" = source ]; then
  build="${BUILD_DIR:-$root/build-gpu}"
  jobs="${JOBS:-$(nproc)}"
  read -r -a extra_args <<< "${SEPAL_CMAKE_ARGS:-}"
  echo "== configure and build in $build"
  if [ -z "${CUDNN_ROOT:-}" ] && command -v python3 > /dev/null; then
    wheel=$(python3 -c 'import nvidia.cudnn as m, os; print(list(m.__path__)[0])' 2> /dev/null || true)
    [ -n "$wheel" ] && [ -d "$wheel/lib" ] && export CUDNN_ROOT="$wheel"
  fi
  if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEPAL_CUDA=ON -DSEPAL_CUDA_ARCHS=90 \
         "${extra_args[@]}" > "$out/build.log" 2>&1 || ! cmake --build "$build" -j"$jobs" >> "$out/build.log" 2>&1; then
    tail -60 "$out/build.log"
    echo "gpu-check: configure or build failed; see $out/build.log" >&2
    exit 3
  fi
  bin="$work/bin"
  mkdir -p "$bin"
  for f in "$build"/tests/test_* "$build"/apps/test_flowers "$build"/bench/bench_* "$build"/apps/flowers; do
    [ -f "$f" ] && [ -x "$f" ] && ln -s "$f" "$bin/"
  done
  export SEPAL_TEST_DATA_DIR="$build/tests/golden"
  lib="$build"
  cp "$root/bench/gpu_torch.py" "$root/bench/gpu_report.py" "$bin/"
else
  [ -f "$bundle" ] || { echo "gpu-check: no bundle at '$bundle' (make one with scripts/gpu-bundle.sh)" >&2; exit 3; }
  echo "== unpacking $bundle in $work"
  if ! tar -C "$work" -xzf "$bundle"; then echo "gpu-check: cannot unpack $bundle" >&2; exit 3; fi
  trap 'rm -rf "$work/sepal-gpu"' EXIT  # the unpacked programs; the report stays
  bin="$work/sepal-gpu/bin"
  lib="$work/sepal-gpu/lib"
  export SEPAL_TEST_DATA_DIR="$bin/golden"
fi
cuda_dirs=$(cuda_lib_dirs)
export LD_LIBRARY_PATH="$lib${cuda_dirs:+:$cuda_dirs}"
export OMP_WAIT_POLICY=PASSIVE  # test programs share the cores

{
  echo "# sepal GPU check ($mode)"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- host: $(uname -srm), $(nproc) CPUs"
  [ "$mode" != source ] && sed -n 's/^\(built\|commit\|flags\|nvcc\): /- bundle \1: /p' "$work/sepal-gpu/BUILD_INFO"
  echo "- CUDA library folders: ${cuda_dirs:-none found}"
} >> "$report"

# ---- 1. the GPU and the versions ----
section "GPU and libraries"
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 | fence
else
  echo "nvidia-smi not found" >> "$report"
fi
"$bin/flowers" version 2>&1 | tee "$out/versions.txt" | fence
gpu_visible=0
grep -q '^cuda:0 ' "$out/versions.txt" && gpu_visible=1

# ---- rehearsal: every library resolves inside the bundle ----
if [ "$mode" = rehearse ]; then
  section "Libraries (ldd)"
  outside=$(cat "$work/sepal-gpu/NOT_PACKED")  # the libraries gpu-bundle.sh leaves out, as a regex
  bad=0
  for f in "$bin"/* "$lib"/*; do
    [ -f "$f" ] && head -c 4 "$f" | grep -q ELF || continue
    while read -r name _ path _; do
      if [ "$path" = "not" ]; then echo "$(basename "$f"): $name not found"; bad=1; continue; fi
      [[ "$name" =~ $outside ]] && continue
      case "$path" in "$lib"/*) ;; *) echo "$(basename "$f"): $name resolves outside the bundle ($path)"; bad=1 ;; esac
    done < <(ldd "$f" | awk '/=>/ { print $1, $2, $3, $4 }')
  done > "$out/ldd.txt"
  if [ "$bad" -ne 0 ]; then fence < "$out/ldd.txt"; cat "$out/ldd.txt"; fail 6
  else echo "every library outside libc/libstdc++/CUDA resolves inside the bundle ($(ls "$lib" | wc -l) files)" >> "$report"; fi
fi

# ---- 2. tests, program by program ----
# run_program EXE FILTER: runs one test program, records its summary line, reruns failures alone.
run_program() {
  local exe=$1 filter=$2 name log
  name=$(basename "$exe")
  log="$out/$name.log"
  timeout "$(( $(left) > 60 ? $(left) : 60 ))" "$exe" --gtest_filter="$filter" --gtest_color=no > "$log" 2>&1
  local rc=$?
  local passed failed skipped
  passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  failed=$(grep -cE '^\[  FAILED  \] [A-Za-z].* \([0-9]+ ms\)$' "$log" || true)
  skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  echo "| $name | \`$filter\` | ${passed:-0} | ${failed:-0} | ${skipped:-0} | $rc |" >> "$out/tests.md"
  if [ "$rc" -ne 0 ]; then
    fail 1
    grep '^\[  FAILED  \] [A-Za-z]' "$log" | sed 's/^\[  FAILED  \] \([^ ,]*\).*/\1/' | sort -u | head -10 |
      while read -r t; do
        echo "### $name $t (rerun alone, CUDA_LAUNCH_BLOCKING=1)" >> "$out/failures.md"
        CUDA_LAUNCH_BLOCKING=1 timeout 120 "$exe" --gtest_filter="$t" --gtest_color=no 2>&1 | tail -40 |
          { printf '```\n'; cat; printf '```\n'; } >> "$out/failures.md"
      done
    [ "$rc" -eq 124 ] && echo "### $name timed out" >> "$out/failures.md"
  fi
}
echo "== tests"
section "Tests"
echo "| program | filter | passed | failed | skipped | exit |" > "$out/tests.md"
echo "| --- | --- | --- | --- | --- | --- |" >> "$out/tests.md"
: > "$out/failures.md"
for exe in "$bin"/test_*; do
  [ -x "$exe" ] || continue
  if [ "$mode" = rehearse ]; then run_program "$exe" '*'            # the CPU tests (CUDA ones skip)
  elif [ "$(basename "$exe")" = test_cuda ]; then run_program "$exe" '*'
  else run_program "$exe" '*Cuda*:*CUDA*'; fi
done
cat "$out/tests.md" >> "$report"
[ -s "$out/failures.md" ] && cat "$out/failures.md" >> "$report"
if [ "$mode" != rehearse ] && [ "$gpu_visible" -eq 0 ] && command -v nvidia-smi > /dev/null &&
   nvidia-smi -L 2> /dev/null | grep -q '^GPU'; then
  note "**A GPU is visible to nvidia-smi but not to sepal (driver older than the CUDA runtime, or no device access): every CUDA test skipped.**"
  fail 4
fi

if [ "$mode" = rehearse ]; then
  # what the GPU run starts besides the tests: every benchmark program lists its CUDA benchmarks,
  # and the Python scripts compile
  section "Benchmark programs and scripts"
  for exe in "$bin"/bench_*; do
    if list=$("$exe" --benchmark_list_tests 2>&1); then
      echo "- $(basename "$exe"): $(grep -c . <<< "$list") benchmarks, $(grep -c Cuda <<< "$list") on CUDA" >> "$report"
    else
      echo "- **$(basename "$exe") does not start**: $(tail -1 <<< "$list")" >> "$report"; fail 5
    fi
  done
  if python3 -m py_compile "$bin/gpu_torch.py" "$bin/gpu_report.py"; then echo "- gpu_torch.py, gpu_report.py compile" >> "$report"
  else echo "- **a Python script does not compile**" >> "$report"; fail 5; fi
else
  # ---- 3. compute-sanitizer ----
  sanitizer=$(command -v compute-sanitizer || ls "$(dirname "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")/compute-sanitizer" \
                /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/extras/compute-sanitizer/compute-sanitizer 2> /dev/null | head -1)
  section "compute-sanitizer"
  if [ -z "$sanitizer" ]; then
    echo "compute-sanitizer not found" >> "$report"
  else
    echo "| tool | tests | result | seconds |" >> "$report"
    echo "| --- | --- | --- | --- |" >> "$report"
    # tool, test filter; memcheck runs without the cache so each allocation has its own bounds
    checks=(
      "memcheck CudaElementwise.EveryUnaryAndBinaryOpOnStridedAndBroadcastOperands:CudaElementwise.SizesPastOneGridPass"
      "memcheck CudaReduce.EveryOpMatchesCpuOnFloats:CudaReduce.RowsLongerThanABlockAndMoreRowsThanTheGridCap"
      "racecheck CudaReduce.EveryOpMatchesCpuOnFloats:CudaReduce.ArgMaxArgMinReturnTheFirstOfTies"
      "memcheck CudaMatmul.*"
      "memcheck *CudaConv.Float32MatchesCpu*:CudaConvCache.*"
      "memcheck *CudaBatchNorm.Float32*:*CudaPool.Float32*"
      "memcheck CudaFusedAdam.MatchesCpuBitForBit"
      "memcheck CudaPinnedCopy.CopiesAreBoundsChecked:CudaCopy.LargeStridedCopy"
      "memcheck-cached CudaAllocator.*"
    )
    for check in "${checks[@]}"; do
      read -r tool filter <<< "$check"
      if [ "$(left)" -lt 220 ]; then echo "| $tool | \`$filter\` | not run (time budget) | |" >> "$report"; continue; fi
      env_args=(SEPAL_CUDA_NO_CACHING=1)
      [ "$tool" = memcheck-cached ] && { tool=memcheck; env_args=(); }
      log="$out/sanitizer-$tool-$(echo "$filter" | tr -c 'A-Za-z0-9' '_' | cut -c1-60).log"
      start=$SECONDS
      env "${env_args[@]}" timeout 100 "$sanitizer" --tool "$tool" --error-exitcode 99 --print-limit 20 \
        "$bin/test_cuda" --gtest_filter="$filter" --gtest_color=no > "$log" 2>&1
      rc=$?
      case "$rc" in
        0) result="clean" ;;
        99) result="**errors** ($(grep -m1 -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log"))"; fail 2 ;;
        124) result="timed out after 100 s (no errors before)" ;;
        *) result="**exit $rc** (test failure under the sanitizer)"; fail 2 ;;
      esac
      echo "| $tool | \`$filter\` | $result | $(( SECONDS - start )) |" >> "$report"
    done
  fi

  # ---- 4. sepal's GPU benchmarks ----
  echo "== GPU benchmarks"
  section "sepal GPU benchmarks"
  for exe in "$bin"/bench_*; do
    [ -x "$exe" ] || continue
    name=$(basename "$exe")
    reps=5
    [ "$name" = bench_step ] && reps=7
    timeout "$(( $(left) > 90 ? 180 : 90 ))" "$exe" --benchmark_filter='[Cc]uda' --benchmark_repetitions="$reps" \
      --benchmark_report_aggregates_only=true --benchmark_out="$out/$name.json" --benchmark_out_format=json \
      --benchmark_color=false > "$out/$name.txt" 2>&1
    rc=$?
    printf '### %s\n\n' "$name" >> "$report"
    if grep -q 'Failed to match any benchmarks' "$out/$name.txt"; then echo "no CUDA benchmarks" >> "$report"
    elif [ "$rc" -ne 0 ]; then echo "**exit $rc**" >> "$report"; tail -30 "$out/$name.txt" | fence; fail 5
    else
      grep -E '_median|_min|^---|^Benchmark|ERROR OCCURRED' "$out/$name.txt" | awk '!seen[$0]++' | fence
      if grep -q 'ERROR OCCURRED' "$out/$name.txt" && [ "$gpu_visible" -eq 1 ]; then fail 5; fi
    fi
  done

  # ---- 5. PyTorch on the same GPU, and the ratios ----
  section "PyTorch on the same GPU"
  py=""
  for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import torch' 2> /dev/null; then py=$candidate; break; fi
  done
  if [ -n "$py" ]; then
    tb=$(( $(left) - 20 )); [ "$tb" -lt 60 ] && tb=60
    read -r -a torch_args <<< "${TORCH_ARGS:-}"
    timeout $(( tb + 60 )) "$py" "$bin/gpu_torch.py" --time-budget "$tb" "${torch_args[@]}" --json "$out/torch.json" \
      --markdown "$out/torch.md" > "$out/torch.log" 2>&1 || echo "(gpu_torch.py exit $?; see torch.log)" >> "$report"
    [ -f "$out/torch.md" ] && sed 's/^# /### /' "$out/torch.md" >> "$report"
    section "sepal / PyTorch"
    "$py" "$bin/gpu_report.py" --sepal "$out"/bench_*.json --torch "$out/torch.json" >> "$report" 2> "$out/gpu_report.err" ||
      echo "(no ratio table: gpu_report.py failed)" >> "$report"
  else
    echo "no PyTorch here" >> "$report"
  fi
fi

section "Result"
case "$status" in
  0) echo "all checks passed ($SECONDS s)" ;;
  1) echo "TESTS FAILED (see the failures above and the logs)" ;;
  2) echo "SANITIZER ERRORS (see the sanitizer logs)" ;;
  4) echo "GPU not usable by sepal" ;;
  5) echo "a benchmark program failed" ;;
  6) echo "LIBRARIES resolve outside the bundle" ;;
esac >> "$report"
cat "$out/tests.md"
echo "gpu-check: report written to $report (status $status, $SECONDS s)"
exit "$status"
