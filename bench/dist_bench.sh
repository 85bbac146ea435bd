#!/usr/bin/env bash
# dist_bench.sh: data-parallel scaling on this machine. Runs bench_dist as 1 process and as 2 ranks
# under mpirun, with the same PER-RANK batch (8: the 2-rank job trains 16 images a step) and the
# same GLOBAL batch (8 = 2 x 4), and prints step time 1 rank vs 2 ranks, the speedup, the
# communication backward did not hide, the all-reduce bus bandwidth per size and a least-squares
# fit of all-reduce time = 2(N-1) latency + 2(N-1)/N bytes / busbw (docs/distributed.md).
# OMP_NUM_THREADS = cores / ranks for each run (the output says so); the 1-process run is repeated
# with the 2-rank job's threads per rank, which shows the per-rank compute alone. Each figure is
# the min over the repetitions (the least disturbed on a shared machine), the median in brackets.
#
#   bench/dist_bench.sh path/to/bench_dist              # e.g. build/bench/bench_dist; about 1.5 min
#   MIN_TIME=0.5 REPS=8 PX=64 bench/dist_bench.sh ...  # the defaults; PX=224 for real image sizes
set -euo pipefail

bin=${1:?usage: bench/dist_bench.sh path/to/bench_dist}
[[ -x $bin ]] || { echo "dist_bench.sh: $bin is not an executable" >&2; exit 2; }
min_time=${MIN_TIME:-0.5}
reps=${REPS:-8}
px=${PX:-64}
cores=$(nproc)
ranks=2
t1=$cores
t2=$((cores / ranks > 0 ? cores / ranks : 1))
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # mpirun as root (harmless otherwise)
flags=(--benchmark_min_time="$min_time" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true
       --benchmark_out_format=json)
echo "1 process: OMP_NUM_THREADS=$t1; $ranks ranks: OMP_NUM_THREADS=$t2 each ($cores cores)"
echo "min_time ${min_time}s, $reps repetitions, ${px} px images; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# the console output is not needed (the JSON is); shown only when a run fails
run() { "$@" >"$out/log" 2>&1 || { cat "$out/log" >&2; echo "dist_bench.sh: failed: $*" >&2; exit 1; }; }
run env OMP_NUM_THREADS="$t1" "$bin" "${flags[@]}" --benchmark_filter=ResNet18Step --steps="8/$px" \
  --benchmark_out="$out/one.json"
run env OMP_NUM_THREADS="$t2" "$bin" "${flags[@]}" --benchmark_filter=ResNet18Step --steps="8/$px,4/$px" \
  --benchmark_out="$out/one_narrow.json"
run mpirun -np "$ranks" --oversubscribe -x OMP_NUM_THREADS="$t2" "$bin" "${flags[@]}" --steps="8/$px,4/$px" \
  --benchmark_out="$out/two.json"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$px" "$t1" "$t2" "$ranks" <<'PY'
import json, sys

out, px, t1, t2, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])

def load(name):  # {run name: {aggregate name: run}}
    runs = {}
    for r in json.load(open(f"{out}/{name}.json"))["benchmarks"]:
        runs.setdefault(r["run_name"], {})[r.get("aggregate_name", "")] = r
    return runs

one, narrow, two = load("one"), load("one_narrow"), load("two")
step = lambda runs, b: runs[f"BM_ResNet18Step/{b}/{px}/manual_time"]
base_rate = 8 / step(one, 8)["min"]["real_time"]
print(f"\nResNet-18 fine-tuning step (Adam, BatchNorm in train mode), {px} px: min (median) of the repetitions")
print("| run | ranks x per-rank batch = global | threads/rank | step ms | rank 0 main-thread CPU ms | job images/s"
      " | speedup vs 1 process | exposed comm ms |")
print("|---|---|---|---|---|---|---|---|")
def row(label, runs, ranks, b, threads):
    lo, mid = step(runs, b)["min"], step(runs, b)["median"]
    rate = ranks * b / lo["real_time"]
    print(f"| {label} | {ranks} x {b} = {ranks * b} | {threads} | {lo['real_time']:.1f} ({mid['real_time']:.1f}) | "
          f"{lo['cpu_time']:.1f} ({mid['cpu_time']:.1f}) | {rate * 1e3:.1f} | {rate / base_rate:.2f} | "
          f"{lo['exposed_comm_ms']:.1f} ({mid['exposed_comm_ms']:.1f}) |")
row("1 process", one, 1, 8, t1)
row(f"1 process, {t2} thread(s): per-rank compute of the next row", narrow, 1, 8, t2)
row(f"{n} ranks, same per-rank batch", two, n, 8, t2)
row(f"1 process, {t2} thread(s): per-rank compute of the next row", narrow, 1, 4, t2)
row(f"{n} ranks, same global batch", two, n, 4, t2)
print(f"gradient all-reduced per step: {step(one, 8)['min']['grad_MB']:.1f} MB; speedup = job images/s over the "
      "first row's (at the same global batch: its step time over this one's)")

print(f"\nAll-reduce, {n} ranks: min (median) of the repetitions")
print("| size | ms | algbw GB/s | busbw GB/s |")
print("|---|---|---|---|")
busbw = lambda size, ms: size / (ms * 1e-3) * 1e-9 * 2 * (n - 1) / n
points = sorted((int(name.split("/")[1]), r) for name, r in two.items() if name.startswith("BM_AllReduce/"))
for size, r in points:
    lo, mid = r["min"]["real_time"], r["median"]["real_time"]
    print(f"| {size >> 20} MiB | {lo:.3f} ({mid:.3f}) | {size / lo * 1e-6:.2f} | {busbw(size, lo):.2f} "
          f"({busbw(size, mid):.2f}) |")

# least squares on the min times, t = a + b x with x = 2(N-1)/N bytes: a = 2(N-1) latency, 1/b =
# busbw. Over the sizes up to 25 MiB (the reducer's buckets; this machine's all-reduce falls off a
# cliff above them, docs/distributed.md) and, for comparison, over every size.
def fit(pts):
    xs = [2 * (n - 1) / n * s for s, _ in pts]
    ts = [r["min"]["real_time"] * 1e-3 for _, r in pts]
    mx, mt = sum(xs) / len(xs), sum(ts) / len(ts)
    b = sum((x - mx) * (t - mt) for x, t in zip(xs, ts)) / sum((x - mx) ** 2 for x in xs)
    a = mt - b * mx
    return f"time = {a * 1e6:.0f} us + 2(N-1)/N bytes / {1e-9 / b:.2f} GB/s (latency {a / (2 * (n - 1)) * 1e6:.0f} us)"
small = [p for p in points if p[0] <= 25 << 20]
if len(small) >= 2:
    print(f"fit, sizes <= 25 MiB: {fit(small)}")
print(f"fit, every size:      {fit(points)}")
PY
