#!/usr/bin/env bash
# demo.sh: the main command. Installs missing dependencies, builds sepal and the flowers trainer
# (with the CUDA backend when the toolkit is present) and runs `flowers demo`: the whole
# transfer-learning story on the built-in procedural flowers (pretrain, feature extraction, resume
# into fine-tuning with the plan shown, predict), about 5 minutes on 2 CPU cores.
#   scripts/demo.sh [--out DIR] [--quick]      (arguments go to `flowers demo`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
build="${BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSEPAL_CUDA="${SEPAL_CUDA:-AUTO}" > /dev/null
cmake --build "$build" -j"$(nproc)" --target flowers
"$build/apps/flowers" demo "$@"
