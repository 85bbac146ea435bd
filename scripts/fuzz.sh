#!/usr/bin/env bash
# scripts/fuzz.sh: builds three libFuzzer targets with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer and runs each for a bounded time from its seed corpus (new inputs go
# to build-fuzz/, not the repo):
# - the checkpoint reader (tests/fuzz/checkpoint_fuzz.cpp, seeds tests/fuzz/corpus), two builds:
#   checksums ignored (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, so mutations reach the
#   structural checks) for FUZZ_SECONDS (default 60), then checksums on for a third of that;
# - the image decoders (tests/fuzz/image_fuzz.cpp: JPEG, PNG, BMP, PPM/PGM through probe_image
#   and decode_image, seeds tests/fuzz/image_corpus) for IMAGE_FUZZ_SECONDS (default 60);
# - the JSON reader (tests/fuzz/json_fuzz.cpp: parse_json with a writer round trip, and the
#   safetensors header reader, seeds tests/fuzz/json_corpus) for JSON_FUZZ_SECONDS (default 60).
#   bash scripts/fuzz.sh            # CI
#   FUZZ_SECONDS=600 IMAGE_FUZZ_SECONDS=600 JSON_FUZZ_SECONDS=600 bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_DEEP=${FUZZ_SECONDS:-60}
SECONDS_CRC=$(( SECONDS_DEEP / 3 > 5 ? SECONDS_DEEP / 3 : 5 ))
SECONDS_IMAGE=${IMAGE_FUZZ_SECONDS:-60}
SECONDS_JSON=${JSON_FUZZ_SECONDS:-60}
CXX=${FUZZ_CXX:-clang++}
OUT=build-fuzz
mkdir -p "$OUT/corpus" "$OUT/artifacts" "$OUT/image_corpus" "$OUT/json_corpus"
SOURCES="tests/fuzz/checkpoint_fuzz.cpp checkpoint/crc32c.cpp io/utf8.cpp checkpoint/format.cpp checkpoint/schema.cpp"
FLAGS="-std=c++20 -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
echo "fuzz.sh: building with $CXX"
$CXX $FLAGS -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION $SOURCES -o "$OUT/checkpoint_fuzz_deep"
$CXX $FLAGS $SOURCES -o "$OUT/checkpoint_fuzz"
# stb_image from libstb-dev, libjpeg-turbo from libjpeg62-turbo-dev (as CMakeLists.txt finds them).
$CXX $FLAGS -I/usr/include/stb tests/fuzz/image_fuzz.cpp data/image.cpp -ljpeg -o "$OUT/image_fuzz"
$CXX $FLAGS tests/fuzz/json_fuzz.cpp io/*.cpp checkpoint/safetensors_header.cpp tensor/shape.cpp -o "$OUT/json_fuzz"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# -malloc_limit_mb: any single allocation above 256 MB is a finding (the reader may only allocate
# what the input's size justifies, and the inputs are at most -max_len bytes).
COMMON="-max_len=65536 -malloc_limit_mb=256 -rss_limit_mb=2048 -artifact_prefix=$OUT/artifacts/ -print_final_stats=1"
echo "fuzz.sh: checksums ignored, ${SECONDS_DEEP}s"
"$OUT/checkpoint_fuzz_deep" $COMMON -max_total_time="$SECONDS_DEEP" "$OUT/corpus" tests/fuzz/corpus
echo "fuzz.sh: checksums on, ${SECONDS_CRC}s"
"$OUT/checkpoint_fuzz" $COMMON -max_total_time="$SECONDS_CRC" "$OUT/corpus" tests/fuzz/corpus
# Images: at most 16 KB each (the seeds are under 2 KB), only images up to a million pixels are
# decoded (image_fuzz.cpp), so 256 MB per allocation and 25 s per input are generous.
echo "fuzz.sh: image decoders, ${SECONDS_IMAGE}s"
"$OUT/image_fuzz" -max_len=16384 -malloc_limit_mb=256 -rss_limit_mb=2048 -timeout=25 \
  -artifact_prefix="$OUT/artifacts/image-" -print_final_stats=1 \
  -max_total_time="$SECONDS_IMAGE" "$OUT/image_corpus" tests/fuzz/image_corpus
# JSON: inputs up to 64 KB, as for checkpoints; parsing is linear (duplicate keys are found with a
# hash set), so 25 s per input is only a backstop for a hang.
echo "fuzz.sh: JSON reader, ${SECONDS_JSON}s"
"$OUT/json_fuzz" -max_len=65536 -malloc_limit_mb=256 -rss_limit_mb=2048 -timeout=25 \
  -artifact_prefix="$OUT/artifacts/json-" -print_final_stats=1 \
  -max_total_time="$SECONDS_JSON" "$OUT/json_corpus" tests/fuzz/json_corpus
echo "fuzz.sh: no findings"
