#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages sepal needs to build and test, only those missing.
# The CUDA toolkit is not installed here: the CUDA backend is built when /usr/local/cuda (or
# CMAKE_CUDA_COMPILER) provides nvcc, and skipped otherwise.
set -euo pipefail
packages=(cmake make g++ pkg-config libgtest-dev libbenchmark-dev libopenblas-dev libdnnl-dev libstb-dev libjpeg62-turbo-dev zlib1g-dev dataset-fashion-mnist python3 clang libclang-rt-14-dev libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
