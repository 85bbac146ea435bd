#!/usr/bin/env bash
# cli_dist_test.sh: `mpirun -np 2 flowers train` against one process on the demo flowers (32 px):
# feature extraction (Adam) and fine-tuning with --sync-bn (SGD) give the 1-process parameters
# within 1e-5 relative, local BatchNorm visibly does not; an uneven last batch, an empty rank and
# a skipped bad image change nothing; SIGUSR1 stops the job cleanly and resuming with 2 ranks or
# with 1 gives the uninterrupted run's parameters; a rank that fails ends the job within 10 s.
#   tests/dist/cli_dist_test.sh path/to/flowers path/to/compare_checkpoints mpirun [mpirun flags...]
set -uo pipefail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# Open MPI refuses root without these (CI and containers run as root)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flowers=${1:?usage: cli_dist_test.sh flowers compare_checkpoints mpirun [flags]}
compare=${2:?}
shift 2
mpirun=("$@")
source "$(dirname "$0")/../common/cli_lib.sh"
# same NAME A B MAX_REL: the checkpoints' parameters agree within MAX_REL relative
same() {
  if "$compare" "$2" "$3" --params-only "$4" > "$work/cmp.out" 2>&1; then pass "$1: $(cat "$work/cmp.out")"
  else fail "$1: $(cat "$work/cmp.out") (tolerance $4)"; fi
}
differ() {
  if "$compare" "$2" "$3" --params-only "$4" > "$work/cmp.out" 2>&1; then fail "$1 should differ: $(cat "$work/cmp.out")"
  else pass "$1 differs: $(cat "$work/cmp.out")"; fi
}

"$flowers" train --demo-size 64 --epochs 1 --max-batches 1 --image-size 32 --device cpu --out "$work/gen" > /dev/null 2>&1
data="$work/gen/demo-flowers"
common="--data $data --image-size 32 --workers 1 --device cpu"

# ---- feature extraction (Adam), 2 epochs ----
fe="$common --batch-size 16 --epochs 2"
run fe1 0 "$flowers" train $fe --out "$work/fe1"
run fe2 0 "${mpirun[@]}" "$flowers" train $fe --out "$work/fe2"
grep -q "distributed: 2 ranks" "$work/fe2.out" || fail "fe2: no 'distributed: 2 ranks' line"
[ "$(grep -c "^data:" "$work/fe2.out")" -eq 1 ] || fail "fe2: more than one rank printed"
same "feature-extract 2 ranks vs 1" "$work/fe2/last.sepal" "$work/fe1/last.sepal" 1e-5
# accuracy lines equal: validation is sharded and summed
diff <(awk '/^ +[0-9]+ /{print $4, $5, $6}' "$work/fe1.out") <(awk '/^ +[0-9]+ /{print $4, $5, $6}' "$work/fe2.out") > /dev/null ||
  fail "feature-extract: the epoch lines' accuracies differ"

# ---- fine-tuning: --sync-bn matches one process, local BatchNorm does not ----
# The last block (its BatchNorm layers train) for 10 SGD steps, and the whole network for one
# step. (Fine-tuning all of this from-scratch ResNet for more steps amplifies float rounding
# quickly, about 60x per step, starting at conv1: a single process whose BatchNorm layers run the
# SyncBatchNorm code drifts from the BatchNorm kernel just as fast; docs/distributed.md.)
l4="$common --batch-size 16 --epochs 1 --max-batches 10 --mode finetune-from=layer4 --optimizer sgd --lr 0.01"
run l4_1 0 "$flowers" train $l4 --sync-bn --out "$work/l4_1"
run l4_2 0 "${mpirun[@]}" "$flowers" train $l4 --sync-bn --out "$work/l4_2"
run l4_2local 0 "${mpirun[@]}" "$flowers" train $l4 --out "$work/l4_2local"
same "finetune layer4 --sync-bn 2 ranks vs 1" "$work/l4_2/last.sepal" "$work/l4_1/last.sepal" 1e-5
differ "finetune layer4 local BatchNorm 2 ranks vs 1" "$work/l4_2local/last.sepal" "$work/l4_1/last.sepal" 1e-4
# (SGD: Adam's first update is lr * sign(gradient), so a gradient within rounding of zero flips by 2 lr)
ft="$common --batch-size 16 --epochs 1 --max-batches 1 --mode finetune --optimizer sgd --lr 0.01"
run ft1 0 "$flowers" train $ft --sync-bn --out "$work/ft1"
run ft2 0 "${mpirun[@]}" "$flowers" train $ft --sync-bn --out "$work/ft2"
same "finetune --sync-bn 2 ranks vs 1 (one step)" "$work/ft2/last.sepal" "$work/ft1/last.sepal" 1e-5

# ---- an uneven last batch, an empty rank, a skipped bad image ----
# one file the folder scan rejects, one only decoding finds (on whichever rank loads it)
cls=$(ls "$data/train" | head -1)
cp -r "$data" "$work/bad"
printf 'not a jpeg' > "$work/bad/train/$cls/zz-broken.jpg"
head -c 600 "$data/train/$cls/$(ls "$data/train/$cls" | head -1)" > "$work/bad/train/$cls/zz-truncated.png"
cp -r "$data" "$work/truncated"
cp "$work/bad/train/$cls/zz-truncated.png" "$work/truncated/train/$cls/"
# 400 good images: batch 19 leaves a last batch of 1 (rank 1 empty), batch 23 one of 9 (5 + 4);
# rank 0 reports the skips of both ranks
for b in 19 23; do
  u="--data $work/bad --image-size 32 --workers 1 --device cpu --batch-size $b --epochs 1 --skip-bad-images"
  run skip1_$b 0 "$flowers" train $u --out "$work/skip1_$b"
  run skip2_$b 0 "${mpirun[@]}" "$flowers" train $u --out "$work/skip2_$b"
  same "batch $b with skipped images, 2 ranks vs 1" "$work/skip2_$b/last.sepal" "$work/skip1_$b/last.sepal" 1e-5
  grep -q "skipped 2 of 402 files in train/: 1 not an image, 1 truncated" "$work/skip2_$b.out" ||
    fail "skip2_$b: no job-wide skip summary"
done

# ---- SIGUSR1 to mpirun: every rank stops after the batch, rank 0 saves, exit 130; resume ----
int="$common --batch-size 8 --epochs 2"
run full 0 "${mpirun[@]}" "$flowers" train $int --out "$work/full"
"${mpirun[@]}" "$flowers" train $int --out "$work/int" > "$work/int.out" 2>&1 &
pid=$!
for _ in $(seq 1 150); do sleep 0.2; grep -q "^epoch" "$work/int.out" 2>/dev/null && break; done
sleep 1
kill -USR1 $pid
wait $pid
status=$?
if [ "$status" -ne 130 ]; then fail "sigusr1: exit $status, expected 130"; tail -20 "$work/int.out"; else pass "sigusr1"; fi
grep -q "interrupted" "$work/int.out" || fail "sigusr1: no 'interrupted' line"
cp "$work/int/last.sepal" "$work/int.sepal"
run resume2 0 "${mpirun[@]}" "$flowers" train $int --out "$work/int" --resume "$work/int.sepal"
same "interrupted, resumed with 2 ranks vs uninterrupted" "$work/int/last.sepal" "$work/full/last.sepal" 1e-5
run resume1 0 "$flowers" train $int --out "$work/int1" --resume "$work/int.sepal"
grep -q "job: 2 -> 1 ranks, global batch 8 -> 8: same global batch" "$work/resume1.out" || fail "resume1: no world-size line"
same "interrupted, resumed with 1 rank vs uninterrupted" "$work/int1/last.sepal" "$work/full/last.sepal" 1e-5

# ---- a failing rank ends the job within 10 s, with its message ----
# (the truncated file passes the folder scan: only the rank whose shard holds it fails, while the
# other waits in a collective)
"${mpirun[@]}" "$flowers" train --data "$work/truncated" --image-size 32 --workers 1 --device cpu --batch-size 16 \
    --epochs 1 --out "$work/crash" > "$work/crash.out" 2>&1 &
pid=$!
# from the start of training (the epoch table's header; the failure comes within its first batches)
until grep -q "^epoch" "$work/crash.out" 2>/dev/null || ! kill -0 $pid 2>/dev/null; do sleep 0.1; done
start=$(date +%s%N)
wait $pid
status=$?
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$status" -eq 0 ]; then fail "crash: exit 0"; else pass "crash: exit $status, ${took_ms} ms after training started"; fi
grep -Eq "\[rank [01]\] flowers train: error: .*zz-truncated.png" "$work/crash.out" || { fail "crash: no [rank r] message"; tail -15 "$work/crash.out"; }
[ "$took_ms" -le 10000 ] || fail "crash: the job took ${took_ms} ms to end"

echo
if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all data-parallel CLI tests passed"
