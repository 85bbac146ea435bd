#!/usr/bin/env bash
# gpu-bundle.sh: builds here everything a lent GPU machine needs to prove sepal's CUDA backend,
# and packs it into one compressed file, so the GPU's few minutes go to running, not building.
# The GPU machine has CUDA, cuBLAS and cuDNN (toolkit or Python wheels) but none of sepal's Debian
# packages, and a different CPU; so the build targets sm_90 with a portable x86-64 baseline (no
# -march=native), and the bundle carries every test program that holds CUDA tests, the benchmark
# programs, flowers, libsepal, the test data, and every non-CUDA shared library they load
# (oneDNN, OpenBLAS with gfortran/quadmath, OpenCL, libgomp, zlib, Google Benchmark), with the
# check script and the PyTorch comparison. Run it there with:
#   scripts/gpu-check.sh --bundle out/gpu-bundle.tar.gz      (or bin/gpu-check.sh inside the bundle)
#
#   scripts/gpu-bundle.sh [OUTPUT]   default out/gpu-bundle.tar.gz (out/ is ignored by git)
# Environment: BUILD_DIR (default build-bundle), JOBS (default nproc), MAX_MIB (default 50: a
# larger bundle is an error).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${BUILD_DIR:-$root/build-bundle}"
output="${1:-$root/out/gpu-bundle.tar.gz}"
jobs="${JOBS:-$(nproc)}"
max_mib="${MAX_MIB:-50}"

"$root/scripts/install-deps.sh"
if [ ! -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc > /dev/null; then
  echo "gpu-bundle: no CUDA toolkit (nvcc) here: the bundle needs the CUDA backend built" >&2
  exit 1
fi

# No build-tree RPATH (the programs find libraries through LD_LIBRARY_PATH set by gpu-check.sh,
# so nothing points at this machine's folders), and tests are listed when run, not at build time.
echo "== gpu-bundle: configure and build in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEPAL_CUDA=ON -DSEPAL_CUDA_ARCHS=90 \
  -DSEPAL_NATIVE=OFF -DCMAKE_SKIP_BUILD_RPATH=ON -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST > /dev/null
cmake --build "$build" -j"$jobs"

stage_root=$(mktemp -d)
trap 'rm -rf "$stage_root"' EXIT
stage="$stage_root/sepal-gpu"
mkdir -p "$stage/bin" "$stage/lib"

# Every test program (the CPU tests run in the rehearsal; all hold or may hold CUDA tests), the
# benchmarks and the apps.
for exe in "$build"/tests/test_* "$build"/apps/test_flowers "$build"/bench/bench_* \
           "$build"/apps/flowers "$build"/apps/core_demo; do
  [ -f "$exe" ] && [ -x "$exe" ] && cp "$exe" "$stage/bin/"
done
cp -r "$build/tests/golden" "$stage/bin/golden"
mkdir -p "$stage/bin/fuzz" && cp -r "$build/tests/fuzz/corpus" "$stage/bin/fuzz/corpus"
cp -P "$build"/libsepal.so* "$stage/lib/"
cp "$root/scripts/gpu-check.sh" "$root/bench/gpu_torch.py" "$root/bench/gpu_report.py" "$stage/bin/"

# The shared libraries they load, except the C/C++ runtime every Linux has and CUDA's own (the GPU
# machine brings those, matched to its driver). The rule travels in the bundle (NOT_PACKED), so
# the rehearsal checks the same one.
system_or_cuda='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|librt\.|libpthread\.|libstdc\+\+\.|libgcc_s\.|libcuda\.|libcudart\.|libcublas|libcudnn|libnvrtc|libnvJitLink|libcufft|libcurand|libnccl)'
missing=()
for f in "$stage"/bin/* "$stage"/lib/libsepal.so*; do
  [ -f "$f" ] && head -c 4 "$f" | grep -q ELF || continue
  while read -r name _ path _; do
    [[ "$name" =~ $system_or_cuda ]] && continue
    if [ "$path" = "not" ] || [ -z "$path" ]; then missing+=("$(basename "$f"): $name"); continue; fi
    [ -e "$stage/lib/$name" ] || cp -L "$path" "$stage/lib/$name"
  done < <(LD_LIBRARY_PATH="$build:${LD_LIBRARY_PATH:-}" ldd "$f" | awk '/=>/ { print $1, $2, $3, $4 }')
done
echo "$system_or_cuda" > "$stage/NOT_PACKED"
if [ ${#missing[@]} -gt 0 ]; then
  printf 'gpu-bundle: unresolved libraries: %s\n' "${missing[@]}" >&2
  exit 1
fi

# What was built, from what, against which CUDA libraries.
{
  echo "sepal GPU bundle"
  echo "built: $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -srm)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2> /dev/null || echo unknown)$(git -C "$root" diff --quiet 2> /dev/null || echo ' (with local changes)')"
  echo "flags: Release, sm_90, no -march=native"
  echo "nvcc: $("${CUDACXX:-/usr/local/cuda/bin/nvcc}" --version 2> /dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
  echo
  echo "packed libraries:"
  (cd "$stage/lib" && ls -1)
} > "$stage/BUILD_INFO"

mkdir -p "$(dirname "$output")"
tar -C "$stage_root" -czf "$output.tmp" sepal-gpu
mv "$output.tmp" "$output"
size_mib=$(( $(stat -c %s "$output") / 1048576 ))
echo "gpu-bundle: $output, ${size_mib} MiB ($(find "$stage" -type f | wc -l) files, $(du -sm "$stage" | cut -f1) MiB unpacked)"
if [ "$size_mib" -gt "$max_mib" ]; then
  echo "gpu-bundle: the bundle is larger than ${max_mib} MiB" >&2
  exit 1
fi
