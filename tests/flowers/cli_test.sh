#!/usr/bin/env bash
# cli_test.sh: end-to-end tests of the flowers CLI on tiny generated data (32 px demo flowers,
# two batches per phase): train, resume under each policy, the feature-extract -> fine-tune
# scenario, predict (text and JSON), evaluate, inspect, Ctrl-C then resume, and error paths.
#   tests/flowers/cli_test.sh path/to/flowers
set -uo pipefail
# other tests run in parallel under ctest -j: OpenMP threads must not spin-wait on a busy core
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
flowers=${1:?usage: cli_test.sh path/to/flowers}
source "$(dirname "$0")/../common/cli_lib.sh"
one_line_error() {  # the command failed with exactly one line on stderr
  local lines; lines=$("${@:2}" 2>&1 >/dev/null | wc -l)
  [ "$lines" -eq 1 ] || fail "$1: $lines lines on stderr, expected one"
}

small="--demo-size 64 --image-size 32 --batch-size 16 --workers 1 --max-batches 2 --device cpu"
data="$work/run1/demo-flowers"

# ---- help and bad command lines ----
run help 0 "$flowers" --help && expect help "train" && expect help "inspect"
run train_help 0 "$flowers" train --help
for flag in --data --arch --pretrained --init-from --mode --lr --head-lr --backbone-lr --optimizer --weight-decay \
            --scheduler --step-size --gamma --epochs --batch-size --image-size --workers --device --seed --out \
            --resume --resume-policy --dry-run --profile; do
  grep -q -- "$flag" "$work/train_help.out" || fail "train --help does not document $flag"
done
run bad_flag 2 "$flowers" train --bogus && expect bad_flag "unknown flag '--bogus'"
one_line_error bad_flag "$flowers" train --bogus
run bad_number 2 "$flowers" train --epochs many && expect bad_number "--epochs"
run bad_mode 2 "$flowers" train --mode sideways && expect bad_mode "--mode"
run bad_policy 2 "$flowers" train --resume x --resume-policy yolo
run missing_data 1 "$flowers" train --data "$work/nowhere" --device cpu && expect missing_data "nowhere"
one_line_error missing_data "$flowers" train --data "$work/nowhere" --device cpu
run unknown_command 2 "$flowers" fly
run version 0 "$flowers" version && expect version "^flowers \(sepal [0-9]" && expect version "CUDA"
for flag in --precision --tf32 --cudnn-benchmark; do
  grep -q -- "$flag" "$work/train_help.out" || fail "train --help does not document $flag"
done

# ---- --profile: a few timed steps, the two tables, nothing saved ----
run profile 0 "$flowers" train $small --profile 2 --out "$work/prof" --mode finetune &&
  expect profile "profile of 2 train steps after one warm-up step" &&
  expect profile "^op kind \(ms per step\) +calls +forward +backward +optimizer +total ms +% step" &&
  expect profile "^conv2d_backward_weight +20 " && expect profile "^adam_step +2 " &&
  expect profile "^layer \(ms per step\)" && expect profile "^layer1\.0\.conv1 " &&
  expect profile "^optimizer " && expect profile "^step +- "
for f in best.sepal last.sepal history.json; do
  [ ! -e "$work/prof/$f" ] || fail "profile: --profile saved $f"
done
run bad_profile 2 "$flowers" train --profile -1 && expect bad_profile "--profile"
run profile_cache 2 "$flowers" train --profile 1 --mode feature-extract --no-augment --cache-features &&
  expect profile_cache "--cache-features"

# ---- train two epochs on the built-in demo flowers ----
run train 0 "$flowers" train $small --epochs 2 --out "$work/run1" --mode finetune --seed 3
for f in best.sepal last.sepal history.json curves.png report.html; do
  [ -s "$work/run1/$f" ] || fail "train: $f missing"
done
expect train "^ +2 "
run tf32_cpu 0 "$flowers" train $small --epochs 1 --out "$work/tf32" --tf32 --cudnn-benchmark --dry-run &&
  expect tf32_cpu "device: cpu \(TF32 on, cuDNN benchmark on: no effect on the CPU\)"
run bf16 0 "$flowers" train $small --epochs 1 --out "$work/bf16" --precision bf16 &&
  expect bf16 "device: cpu \(bf16 autocast\)" && expect bf16 "^ +1 "
[ -s "$work/bf16/best.sepal" ] || fail "train --precision bf16: no checkpoint"
run bad_precision 2 "$flowers" train $small --precision fp16 && expect bad_precision "expected one of fp32, bf16, got 'fp16'"
python3 - "$work/run1/history.json" <<'PY' || fail "history.json"
import json, sys
h = json.load(open(sys.argv[1]))
assert len(h["epochs"]) == 2, h
for e in h["epochs"]:
    for k in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"):
        assert k in e, k
PY

# ---- resume: same options continue (auto = full resume), strict too ----
run resume_auto 0 "$flowers" train $small --epochs 3 --out "$work/run1" --mode finetune --seed 3 \
    --data "$data" --resume "$work/run1/last.sepal" && expect resume_auto "policy auto\): full resume"
expect resume_auto "^ +3 "
expect resume_auto "best valid accuracy .* at epoch [0-9]+: .*run1/best.sepal"  # a resume into the same --out
run resume_strict 0 "$flowers" train $small --epochs 4 --out "$work/run1" --mode finetune --seed 3 \
    --data "$data" --resume "$work/run1/last.sepal" --resume-policy strict

# ---- exact resume: 2 epochs in one go == 1 epoch, stop, resume for 1 (same history, bitwise) ----
exact="--demo-size 64 --image-size 32 --batch-size 16 --workers 2 --max-batches 3 --device cpu --data $data --mode finetune --seed 5"
run exact_once 0 "$flowers" train $exact --epochs 2 --out "$work/exact_once"
run exact_first 0 "$flowers" train $exact --epochs 1 --out "$work/exact_split"
run exact_rest 0 "$flowers" train $exact --epochs 2 --out "$work/exact_split" --resume "$work/exact_split/last.sepal"
python3 - "$work/exact_once/history.json" "$work/exact_split/history.json" <<'PY' || fail "exact resume: histories differ"
import json, sys
a, b = (json.load(open(p))["epochs"] for p in sys.argv[1:3])
keys = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")
assert [[e[k] for k in keys] for e in a] == [[e[k] for k in keys] for e in b], (a, b)
PY

# ---- the mission: feature extraction, then resume into fine-tuning with two learning rates ----
run fx 0 "$flowers" train $small --epochs 1 --out "$work/fx" --data "$data" --mode feature-extract --lr 1e-2
ft="$small --epochs 2 --data $data --mode finetune --head-lr 1e-3 --backbone-lr 1e-5 --resume $work/fx/last.sepal"
run ft_strict 3 "$flowers" train $ft --out "$work/ft_strict" --resume-policy strict && expect ft_strict "refuse"
run ft_dry 0 "$flowers" train $ft --out "$work/ft_dry" --resume-policy merge --dry-run
expect ft_dry "policy merge\): merge"
expect ft_dry "(now trainable|newly trainable)"
[ ! -e "$work/ft_dry/last.sepal" ] || fail "ft_dry: a dry run wrote a checkpoint"
run ft_merge 0 "$flowers" train $ft --out "$work/ft_merge" --resume-policy merge
expect ft_merge "^ +2 "
expect ft_merge "best valid accuracy .* at epoch [0-9]+: (.*ft_merge/best.sepal|before this resume \(.*fx/best.sepal)"
run ft_weights 0 "$flowers" train $ft --out "$work/ft_weights" --resume-policy weights-only && expect ft_weights "policy weights-only\): weights only"
run ft_auto 0 "$flowers" train $ft --out "$work/ft_auto" && expect ft_auto "policy auto\): merge"
run inspect_ft 0 "$flowers" inspect "$work/ft_merge/last.sepal"
expect inspect_ft "group 1"
# the best so far carries over into the new --out: never below feature extraction's best
run inspect_fx 0 "$flowers" inspect "$work/fx/last.sepal"
fx_best=$(sed -n 's/^best valid accuracy \([0-9.]*\) at epoch.*/\1/p' "$work/inspect_fx.out")
ft_best=$(sed -n 's/^best valid accuracy \([0-9.]*\) at epoch.*/\1/p' "$work/inspect_ft.out")
python3 -c "import sys; sys.exit(0 if float('$ft_best') >= float('$fx_best') else 1)" ||
  fail "resume into a new --out lowered the best so far: $fx_best -> $ft_best"
# another architecture or other classes: the plan is shown, then refused with exit 3 and a hint
run ft_arch 3 "$flowers" train $ft --arch resnet34 --out "$work/ft_arch" --resume-policy merge &&
  expect ft_arch "resume plan for" && expect ft_arch "resume refused: .*resnet18.*resnet34" && expect ft_arch "--init-from"
[ ! -e "$work/ft_arch/last.sepal" ] || fail "ft_arch: a refused resume wrote a checkpoint"
run inspect_arch 0 "$flowers" inspect "$work/fx/last.sepal" --against "--arch resnet34 --mode finetune --resume-policy merge" &&
  expect inspect_arch "train would refuse \(exit 3\): .*resnet34"

# ---- predict, evaluate, inspect ----
img=$(find "$data/valid" -name '*.png' | sort | head -1)
run predict 0 "$flowers" predict --checkpoint "$work/run1/best.sepal" --resize 36 --crop 32 --topk 3 "$img" "$img"
expect predict "1\. "
run predict_json 0 "$flowers" predict --checkpoint "$work/run1/best.sepal" --resize 36 --crop 32 --topk 2 --json "$img"
python3 - "$work/predict_json.out" "$img" <<'PY' || fail "predict --json output"
import json, sys
r = json.load(open(sys.argv[1]))
assert r[0]["image"] == sys.argv[2] and len(r[0]["topk"]) == 2
t = r[0]["topk"]
assert t[0]["prob"] >= t[1]["prob"] and all(k in t[0] for k in ("index", "name", "prob"))
PY
run predict_missing 1 "$flowers" predict --checkpoint "$work/run1/best.sepal" "$work/nope.jpg" && expect predict_missing "nope.jpg"
run evaluate 0 "$flowers" evaluate --checkpoint "$work/run1/best.sepal" --data "$data" --workers 1 --device cpu
expect evaluate "accuracy [0-9.]+"
expect evaluate "confusion matrix"
run inspect 0 "$flowers" inspect "$work/run1/last.sepal" && expect inspect "resnet18" && expect inspect "history"
run inspect_against 0 "$flowers" inspect "$work/fx/last.sepal" --against "--mode finetune --head-lr 1e-3 --backbone-lr 1e-5 --resume-policy merge"
expect inspect_against "merge"
head -c 3000 "$work/run1/last.sepal" > "$work/broken.sepal"
run inspect_broken 1 "$flowers" inspect "$work/broken.sepal" && expect inspect_broken "broken.sepal"
one_line_error inspect_broken "$flowers" inspect "$work/broken.sepal"
echo "not a checkpoint" > "$work/text.sepal"
run resume_garbage 1 "$flowers" train $small --data "$data" --out "$work/g" --resume "$work/text.sepal"

# ---- hostile folders: nothing blocks, and invalid UTF-8 never reaches a checkpoint or JSON ----
hostile="$work/hostile"
cp -r "$data" "$hostile"
cls=$(ls "$hostile/valid" | sort | head -1)
mkfifo "$hostile/valid/$cls/x.png"  # opening it for reading would wait for a writer forever
run fifo_evaluate 1 timeout 120 "$flowers" evaluate --checkpoint "$work/run1/best.sepal" --data "$hostile" --workers 1 --device cpu &&
  expect fifo_evaluate "valid/$cls/x\.png: not a regular file: a named pipe"
run fifo_evaluate_skip 0 timeout 120 "$flowers" evaluate --checkpoint "$work/run1/best.sepal" --data "$hostile" \
    --workers 1 --device cpu --skip-bad-images && expect fifo_evaluate_skip "x\.png: not a regular file" &&
  expect fifo_evaluate_skip "accuracy [0-9.]+"
run fifo_train 1 timeout 120 "$flowers" train $small --data "$hostile" --out "$work/fifo_train" --epochs 1 &&
  expect fifo_train "x\.png: not a regular file: a named pipe"
run fifo_predict 1 timeout 120 "$flowers" predict --checkpoint "$work/run1/best.sepal" --resize 36 --crop 32 \
    "$hostile/valid/$cls/x.png" && expect fifo_predict "x\.png: not a regular file: a named pipe"
rm -f "$hostile/valid/$cls/x.png"
latin1=$(printf 'caf\351')  # "café" written by a Latin-1 system: byte 0xE9, not valid UTF-8
mkdir "$hostile/train/$latin1" "$hostile/valid/$latin1"
cp "$img" "$hostile/train/$latin1/1.png" && cp "$img" "$hostile/valid/$latin1/1.png"
run latin1_train 1 "$flowers" train $small --data "$hostile" --out "$work/latin1" --epochs 1 &&
  expect latin1_train 'train/caf\\xE9: class folder name is not valid UTF-8'
one_line_error latin1_train "$flowers" train $small --data "$hostile" --out "$work/latin1" --epochs 1
[ ! -e "$work/latin1/last.sepal" ] || fail "latin1_train: refused only after training"
run latin1_evaluate 1 "$flowers" evaluate --checkpoint "$work/run1/best.sepal" --data "$hostile" --workers 1 --device cpu &&
  expect latin1_evaluate 'valid/caf\\xE9: class folder name is not valid UTF-8'
cp "$img" "$work/$latin1.png"
run predict_latin1 0 "$flowers" predict --checkpoint "$work/run1/best.sepal" --resize 36 --crop 32 --topk 2 --json \
    "$work/$latin1.png"
python3 - "$work/predict_latin1.out" <<'PY' || fail "predict --json: a non-UTF-8 path must give strict UTF-8 JSON"
import json, sys
r = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", errors="strict"))
assert r[0]["image"].endswith("/caf\u00e9.png"), r[0]["image"]  # the byte 0xE9 read as Latin-1
PY

# ---- skipped files: one total per split, by reason, in the output and in history.json ----
bad="$work/badfiles"
cp -r "$data" "$bad"
cls=$(ls "$bad/valid" | sort | head -1)
: > "$bad/valid/$cls/empty.jpg"
echo "<html>not an image</html>" > "$bad/valid/$cls/text.jpg"
ln -s "$bad/nowhere.png" "$bad/valid/$cls/link.png"
python3 - "$img" "$bad/valid/$cls/huge.png" <<'PY'
import sys
png = bytearray(open(sys.argv[1], "rb").read())
png[16:24] = (12000).to_bytes(4, "big") + (16000).to_bytes(4, "big")  # IHDR: 12000 x 16000 pixels
open(sys.argv[2], "wb").write(png)
PY
: > "$bad/train/$cls/empty.png"
valid_files=$(find "$bad/valid" -name '*.png' -o -name '*.jpg' | wc -l)
train_files=$(find "$bad/train" -name '*.png' -o -name '*.jpg' | wc -l)
valid_line="skipped 4 of $valid_files files in valid/: 1 broken link, 1 empty, 1 not an image, 1 too large"
run skip_evaluate 0 "$flowers" evaluate --checkpoint "$work/run1/best.sepal" --data "$bad" --workers 1 --device cpu \
    --skip-bad-images && { grep -qxF "$valid_line" "$work/skip_evaluate.out" || fail "skip_evaluate: no line '$valid_line'"; }
run skip_train 0 "$flowers" train $small --data "$bad" --out "$work/skip_train" --epochs 1 --skip-bad-images &&
  { grep -qxF "$valid_line" "$work/skip_train.out" || fail "skip_train: no line '$valid_line'"
    grep -qxF "skipped 1 of $train_files files in train/: 1 empty" "$work/skip_train.out" ||
      fail "skip_train: no total for train/"; }
python3 - "$work/skip_train/history.json" "$valid_files" "$train_files" <<'PY' || fail "history.json: skipped files"
import json, sys
s = json.load(open(sys.argv[1]))["skipped"]
assert s["valid"] == {"folder": "valid/", "files": int(sys.argv[2]), "total": 4,
                      "by_reason": {"broken link": 1, "empty": 1, "not an image": 1, "too large": 1}}, s
assert s["train"]["total"] == 1 and s["train"]["files"] == int(sys.argv[3]) and s["train"]["by_reason"] == {"empty": 1}, s
PY
grep -q "Skipped files" "$work/skip_train/report.html" || fail "report.html: no skipped files"

# ---- the report: resumes marked, accuracy in percent, images per second ----
python3 - "$work/ft_merge/history.json" "$work/ft_merge/report.html" <<'PY' || fail "report of a resumed run"
import json, sys
h = json.load(open(sys.argv[1]))
assert h["resumes"] == [{"epoch": 1, "policy": "merge", "action": "merge"}], h["resumes"]
assert all(e["images"] > 0 and e["images_per_second"] > 0 for e in h["epochs"]), h["epochs"]
html = open(sys.argv[2]).read()
assert "resumed: merge" in html and "Resumes" in html and "images/s" in html
assert "%" in html and 'anchor="middle">1.0<' not in html and 'anchor="middle">2<' in html
PY
# optional: the page in a real browser (skipped without chromium; CI need not have it)
if command -v chromium > /dev/null 2>&1; then
  bash "$(dirname "$0")/../../scripts/report_screenshot.sh" "$work/ft_merge/report.html" "$work/report.png" > "$work/shot.out" 2>&1 &&
    pass "report_screenshot" || { fail "report_screenshot"; cat "$work/shot.out"; }
else
  echo "skip: report_screenshot (no chromium)"
fi

# ---- Ctrl-C: finishes the batch, saves a resumable checkpoint, exits; then resume ----
"$flowers" train --demo-size 64 --image-size 32 --batch-size 4 --workers 1 --device cpu --epochs 50 \
    --data "$data" --out "$work/int" > "$work/int.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do sleep 0.2; grep -q "epoch" "$work/int.out" 2>/dev/null && break; done
sleep 1.5
kill -INT $pid
wait $pid
status=$?
if [ "$status" -ne 130 ]; then fail "sigint: exit $status, expected 130"; tail -20 "$work/int.out"; else pass "sigint"; fi
expect int "interrupted"
run int_resume 0 "$flowers" train --demo-size 64 --image-size 32 --batch-size 4 --workers 1 --device cpu \
    --epochs 1 --data "$data" --out "$work/int" --resume "$work/int/last.sepal" --max-batches 3
expect int_resume "full resume"

echo
if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
echo "all flowers CLI tests passed"
