#!/usr/bin/env bash
# demo.sh: the main command. Installs missing dependencies, builds sepal (with the CUDA backend
# when the toolkit is present) and runs the demo on built-in data: today a small real training run
# of the core (an MLP on generated spirals, trained with sepal's autograd), on the best device.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
build="${BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEPAL_CUDA="${SEPAL_CUDA:-AUTO}" > /dev/null
cmake --build "$build" -j"$(nproc)" --target core_demo
"$build/apps/core_demo" --device auto "$@"
