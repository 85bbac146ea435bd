#!/usr/bin/env bash
# scripts/fuzz.sh: builds the checkpoint reader's libFuzzer target (tests/fuzz/checkpoint_fuzz.cpp)
# with clang under AddressSanitizer and UndefinedBehaviorSanitizer and runs it for a bounded time
# from the seed corpus in tests/fuzz/corpus (new inputs go to build-fuzz/corpus, not the repo).
# Two builds: checksums ignored (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, so mutations reach
# the structural checks) for FUZZ_SECONDS (default 60), then checksums on for a third of that.
#   bash scripts/fuzz.sh            # CI
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_DEEP=${FUZZ_SECONDS:-60}
SECONDS_CRC=$(( SECONDS_DEEP / 3 > 5 ? SECONDS_DEEP / 3 : 5 ))
CXX=${FUZZ_CXX:-clang++}
OUT=build-fuzz
mkdir -p "$OUT/corpus" "$OUT/artifacts"
SOURCES="tests/fuzz/checkpoint_fuzz.cpp checkpoint/crc32c.cpp checkpoint/text.cpp checkpoint/format.cpp checkpoint/schema.cpp"
FLAGS="-std=c++20 -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
echo "fuzz.sh: building with $CXX"
$CXX $FLAGS -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION $SOURCES -o "$OUT/checkpoint_fuzz_deep"
$CXX $FLAGS $SOURCES -o "$OUT/checkpoint_fuzz"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# -malloc_limit_mb: any single allocation above 256 MB is a finding (the reader may only allocate
# what the input's size justifies, and the inputs are at most -max_len bytes).
COMMON="-max_len=65536 -malloc_limit_mb=256 -rss_limit_mb=2048 -artifact_prefix=$OUT/artifacts/ -print_final_stats=1"
echo "fuzz.sh: checksums ignored, ${SECONDS_DEEP}s"
"$OUT/checkpoint_fuzz_deep" $COMMON -max_total_time="$SECONDS_DEEP" "$OUT/corpus" tests/fuzz/corpus
echo "fuzz.sh: checksums on, ${SECONDS_CRC}s"
"$OUT/checkpoint_fuzz" $COMMON -max_total_time="$SECONDS_CRC" "$OUT/corpus" tests/fuzz/corpus
echo "fuzz.sh: no findings"
