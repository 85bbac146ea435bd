#!/usr/bin/python3
"""vs_torch.py: sepal against PyTorch on the same CPU workloads, same thread count, one table.

Suites:
  step  the whole ResNet-18 step (bench_step): finetune and feature-extract training steps and
        the eval forward at batch 8, 224 px, and the finetune step at batch 128, 32 px; the head
        is Sequential(Linear(512, 102), LogSoftmax(1)) with NLLLoss and Adam(lr 1e-3) on both
        sides; feature-extract freezes the backbone (requires_grad False) and runs it in eval mode
        (BatchNorm on running statistics), as the flowers trainer does.
  ops   each pass of every distinct ResNet-18 convolution (forward, backward-data,
        backward-weight) at batch 8, 224 px and batch 128, 32 px, training-mode BatchNorm forward
        and backward, the stem's max pool (bench_conv), and the 1024^3 matmul (bench_core).
        PyTorch runs the same aten kernels (convolution, convolution_backward with one output,
        native_batch_norm[_backward], max_pool2d_with_indices[_backward], mm).

Each round runs the sepal program once (every benchmark, repetitions in random order), then a
PyTorch worker process on the same workloads, alternating, so load from other processes falls on
both alike. Both get OMP_NUM_THREADS=--threads (PyTorch also torch.set_num_threads) and, with
--wait-policy, OMP_WAIT_POLICY (both use GNU libgomp). Times are medians over the rounds; each
ratio (sepal time / PyTorch time) is the median of the per-round ratios.

Needs torch and torchvision: run it with Debian's /usr/bin/python3 (python3-torch). Examples:
  /usr/bin/python3 bench/vs_torch.py step build-perf/bench --rounds 3
  /usr/bin/python3 bench/vs_torch.py ops build-perf/bench --filter 'b8_224|BatchNorm/.*/n8'
  /usr/bin/python3 bench/vs_torch.py step build-perf/bench --wait-policy passive
With --check the exit status is 1 when a step ratio misses its target.
"""
import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time

# Targets of issue 8 (sepal time / PyTorch time, same threads).
STEP_TARGETS = {"finetune/b8_224": 1.0, "feature_extract/b8_224": 1.0, "eval/b8_224": 1.0, "finetune/b128_32": 1.0}
STEP_BATCH = {"finetune/b8_224": 8, "feature_extract/b8_224": 8, "eval/b8_224": 8, "finetune/b128_32": 128}

SCALE = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}


# ---------------------------------------------------------------- sepal side (Google Benchmark)

def run_sepal(binary, bench_filter, env, extra):
    """Runs one Google Benchmark program; returns {name: {"median": s, "min": s, counters...}}."""
    cmd = [binary, "--benchmark_format=json", f"--benchmark_filter={bench_filter}",
           "--benchmark_enable_random_interleaving=true", "--benchmark_report_aggregates_only=true"] + extra
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"vs_torch: {' '.join(cmd)} exited with status {proc.returncode}")
    out, runs = {}, {}
    for b in json.loads(proc.stdout)["benchmarks"]:
        agg = b.get("aggregate_name")
        name = base_name(b["run_name"])
        seconds = b["real_time"] * SCALE[b["time_unit"]]
        if b.get("run_type") == "iteration":  # single runs: used when there are no aggregates
            runs.setdefault(name, []).append((seconds, b))
        if agg not in ("median", "min"):
            continue
        entry = out.setdefault(name, {})
        entry[agg] = seconds
        if agg == "median":
            entry.update(counters(b))
    for name, v in runs.items():
        if name not in out:
            times = [t for t, _ in v]
            out[name] = dict(counters(v[0][1]), median=statistics.median(times), min=min(times))
    return out


def counters(b):
    return {k: b[k] for k in ("GFLOP/s", "conv_GFLOP/s", "process_cpu_ms", "items_per_second", "bytes_per_second",
                              "uses") if k in b}


def base_name(name):
    """The benchmark's name without Google Benchmark's suffixes (/real_time, /iterations:1)."""
    return re.sub(r"(/(real_time|iterations:\d+|repeats:\d+|min_time:[\d.]+))+$", "", name)


def list_sepal(binary, bench_filter):
    proc = subprocess.run([binary, f"--benchmark_filter={bench_filter}", "--benchmark_list_tests=true"],
                          stdout=subprocess.PIPE, text=True, check=True)
    return [base_name(line.strip()) for line in proc.stdout.splitlines() if line.strip()]


# ---------------------------------------------------------------- PyTorch side (worker process)

def torch_step_workloads(torch):
    import torchvision

    def make(mode, batch, size):
        torch.manual_seed(7)
        model = torchvision.models.resnet18()
        model.fc = torch.nn.Sequential(torch.nn.Linear(512, 102), torch.nn.LogSoftmax(dim=1))
        images = torch.randn(batch, 3, size, size)
        labels = torch.randint(0, 102, (batch,))
        if mode == "eval":
            model.eval()

            def step():
                with torch.no_grad():
                    model(images)
            return step
        if mode == "feature_extract":
            for name, p in model.named_parameters():
                p.requires_grad_(name.startswith("fc."))
            model.train()
            for name, child in model.named_children():
                if name != "fc":
                    child.eval()
        else:
            model.train()
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
        criterion = torch.nn.NLLLoss()

        def step():
            loss = criterion(model(images), labels)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return step

    specs = {"finetune/b8_224": ("finetune", 8, 224), "feature_extract/b8_224": ("feature_extract", 8, 224),
             "eval/b8_224": ("eval", 8, 224), "finetune/b128_32": ("finetune", 128, 32)}
    return {f"BM_Step/{k}": (lambda s=s: make(*s)) for k, s in specs.items()}


CONV_RE = re.compile(r"BM_Conv/(fwd|bwd_data|bwd_weight)/[^/]+/[^/]+/n(\d+)c(\d+)h(\d+)w(\d+)k(\d+)r(\d+)s(\d+)p(\d+)$")
PLANE_RE = re.compile(r"BM_(BatchNorm|MaxPool)/(fwd|bwd)/n(\d+)c(\d+)h(\d+)w(\d+)$")


def torch_op(torch, name):
    """A closure running in PyTorch the op the sepal benchmark `name` runs."""
    aten = torch.ops.aten
    torch.manual_seed(3)
    m = CONV_RE.match(name)
    if m:
        pass_, n, c, h, w, k, r, s, p = m.group(1), *map(int, m.groups()[1:])
        x, wt = torch.randn(n, c, h, w), torch.randn(k, c, r, r)
        oh, ow = (h + 2 * p - r) // s + 1, (w + 2 * p - r) // s + 1
        g = torch.randn(n, k, oh, ow)
        if pass_ == "fwd":
            return lambda: aten.convolution(x, wt, None, [s, s], [p, p], [1, 1], False, [0, 0], 1)
        mask = [True, False, False] if pass_ == "bwd_data" else [False, True, False]
        return lambda: aten.convolution_backward(g, x, wt, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, mask)
    m = PLANE_RE.match(name)
    if m:
        op, pass_, n, c, h, w = m.group(1), m.group(2), *map(int, m.groups()[2:])
        x, dy = torch.randn(n, c, h, w), torch.randn(n, c, h, w)
        if op == "BatchNorm":
            wt, b, rm, rv = torch.ones(c), torch.zeros(c), torch.zeros(c), torch.ones(c)
            _, mean, invstd = aten.native_batch_norm(x, wt, b, rm, rv, True, 0.1, 1e-5)
            if pass_ == "fwd":
                return lambda: aten.native_batch_norm(x, wt, b, rm, rv, True, 0.1, 1e-5)
            return lambda: aten.native_batch_norm_backward(dy, x, wt, rm, rv, mean, invstd, True, 1e-5,
                                                           [True, True, True])
        y, idx = aten.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1])
        if pass_ == "fwd":
            return lambda: aten.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1])
        gy = torch.randn_like(y)
        return lambda: aten.max_pool2d_with_indices_backward(gy, x, [3, 3], [2, 2], [1, 1], [1, 1], False, idx)
    if name == "BM_Matmul1024":
        a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        return lambda: torch.mm(a, b)
    return None


def worker(args):
    import torch
    torch.set_num_threads(args.threads)
    names = json.loads(sys.stdin.read())
    results = {}
    if args.suite == "step":
        makers = torch_step_workloads(torch)
        steps = {}
        for name in names:
            steps[name] = makers[name]()
            for _ in range(2):  # warm-up, as bench_step's
                steps[name]()
        order = [name for name in names for _ in range(args.reps)]
        random.shuffle(order)  # repetitions in random order, as --benchmark_enable_random_interleaving
        times = {name: [] for name in names}
        for name in order:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
        for name, v in times.items():
            results[name] = {"median": statistics.median(v), "min": min(v)}
    else:
        for name in random.sample(names, len(names)):
            fn = torch_op(torch, name)
            if fn is None:
                continue
            fn()
            reps = []
            for _ in range(args.reps):  # like Google Benchmark: iterate for min_time, mean per iteration
                count, t0 = 0, time.perf_counter()
                while True:
                    fn()
                    count += 1
                    elapsed = time.perf_counter() - t0
                    if elapsed >= args.min_time:
                        break
                reps.append(elapsed / count)
            results[name] = {"median": statistics.median(reps), "min": min(reps)}
    json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}, sys.stdout)
    return 0


def run_torch(args, names, env):
    cmd = [sys.executable, os.path.abspath(__file__), args.suite, "--worker", "--threads", str(args.threads),
           "--reps", str(args.reps), "--min-time", str(args.min_time)]
    proc = subprocess.run(cmd, input=json.dumps(names), stdout=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"vs_torch: the PyTorch worker exited with status {proc.returncode}")
    return json.loads(proc.stdout)


# ---------------------------------------------------------------- driver

def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("suite", choices=["step", "ops"])
    ap.add_argument("bench_dir", nargs="?", default="build-perf/bench",
                    help="folder with bench_step, bench_conv and bench_core")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=0, help="repetitions per round (default: step 10, ops 3)")
    ap.add_argument("--min-time", type=float, default=0.1, help="ops: seconds per repetition")
    ap.add_argument("--filter", default="", help="regular expression on the benchmark names")
    ap.add_argument("--wait-policy", choices=["passive", "active"], help="OMP_WAIT_POLICY for both sides")
    ap.add_argument("--compete", type=int, default=0,
                    help="run this many busy-looping processes alongside (a reproducible shared machine)")
    ap.add_argument("--json", help="write every sample here")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.reps:
        args.reps = 10 if args.suite == "step" else 3
    if args.worker:
        return worker(args)

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if args.wait_policy:
        env["OMP_WAIT_POLICY"] = args.wait_policy
    if args.suite == "step":
        programs = [(os.path.join(args.bench_dir, "bench_step"), "^BM_Step/")]
        extra = [f"--benchmark_repetitions={args.reps}"]
    else:
        programs = [(os.path.join(args.bench_dir, "bench_conv"), "^BM_(Conv|BatchNorm|MaxPool)/"),
                    (os.path.join(args.bench_dir, "bench_core"), "^BM_Matmul1024(/|$)")]
        extra = [f"--benchmark_repetitions={args.reps}", f"--benchmark_min_time={args.min_time}"]
    names = {}
    for binary, flt in programs:
        listed = [n for n in list_sepal(binary, flt) if re.search(args.filter, n)]
        if listed:
            names[binary] = listed
    all_names = [n for v in names.values() for n in v]
    if not all_names:
        sys.exit("vs_torch: no benchmark matches")

    competitors = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.compete)]
    try:
        return compare(args, env, extra, names, all_names)
    finally:
        for p in competitors:
            p.kill()
            p.wait()


def compare(args, env, extra, names, all_names):
    samples = {n: {"sepal": [], "torch": [], "sepal_min": [], "torch_min": [], "counters": {}} for n in all_names}
    loads = []
    torch_version = "?"
    for r in range(args.rounds):
        print(f"round {r + 1} of {args.rounds} (load average {load_average():.2f})", file=sys.stderr, flush=True)
        loads.append(load_average())
        for binary, listed in names.items():
            flt = "^(" + "|".join(re.escape(n) for n in listed) + ")(/|$)"
            res = run_sepal(binary, flt, env, extra)
            for n, e in res.items():
                if n in samples:
                    samples[n]["sepal"].append(e["median"])
                    samples[n]["sepal_min"].append(e.get("min", e["median"]))
                    samples[n]["counters"] = {k: v for k, v in e.items() if k not in ("median", "min")}
        tres = run_torch(args, all_names, env)
        torch_version = tres["torch"]
        for n, e in tres["results"].items():
            samples[n]["torch"].append(e["median"])
            samples[n]["torch_min"].append(e["min"])
    loads.append(load_average())

    print(f"\nsepal vs PyTorch {torch_version}, {args.threads} threads, OMP_WAIT_POLICY="
          f"{env.get('OMP_WAIT_POLICY', '(default)')}, {args.rounds} rounds x {args.reps} repetitions, "
          f"load average {min(loads):.2f}-{max(loads):.2f}"
          + (f", {args.compete} busy-looping processes alongside" if args.compete else ""))
    failed = False
    if args.suite == "step":
        print(f"{'workload':<26} {'sepal ms':>9} {'(min)':>8} {'torch ms':>9} {'(min)':>8} {'ratio':>6} "
              f"{'sepal img/s':>11} {'torch img/s':>11} {'conv GFLOP/s':>12} {'target':>7}")
    else:
        print(f"{'benchmark':<72} {'sepal ms':>9} {'torch ms':>9} {'ratio':>6} {'sepal rate':>12}")
    for n in all_names:
        s = samples[n]
        if not s["sepal"] or not s["torch"]:
            print(f"{n:<72} (missing)")
            continue
        st, tt = statistics.median(s["sepal"]), statistics.median(s["torch"])
        ratio = statistics.median(a / b for a, b in zip(s["sepal"], s["torch"]))
        if args.suite == "step":
            key = n.split("/", 1)[1]
            batch, target = STEP_BATCH[key], STEP_TARGETS[key]
            ok = ratio <= target
            failed |= not ok
            print(f"{key:<26} {st * 1e3:>9.1f} {min(s['sepal_min']) * 1e3:>8.1f} {tt * 1e3:>9.1f} "
                  f"{min(s['torch_min']) * 1e3:>8.1f} {ratio:>6.2f} {batch / st:>11.1f} {batch / tt:>11.1f} "
                  f"{s['counters'].get('conv_GFLOP/s', 0):>12.1f} "
                  f"{'<= ' + format(target, '.1f'):>7} {'PASS' if ok else 'FAIL'}")
        else:
            c = s["counters"]
            rate = ""
            if "GFLOP/s" in c:
                rate = f"{c['GFLOP/s']:.1f} GFLOP/s"
            elif "bytes_per_second" in c:
                rate = f"{c['bytes_per_second'] / 1e9:.1f} GB/s"
            print(f"{n:<72} {st * 1e3:>9.3f} {tt * 1e3:>9.3f} {ratio:>6.2f} {rate:>12}")
    if args.suite == "ops":
        # The convolution time of one ResNet-18 training step, summed from the table (uses x time).
        for tag in ("b8_224", "b128_32"):
            tot = {"sepal": 0.0, "torch": 0.0}
            for n in all_names:
                m = re.match(rf"BM_Conv/(fwd|bwd_data|bwd_weight)/{tag}/([^/]+)/", n)
                if not m or not samples[n]["sepal"] or not samples[n]["torch"]:
                    continue
                if m.group(1) == "bwd_data" and m.group(2) == "conv1":
                    continue  # the images need no gradient
                uses = samples[n]["counters"].get("uses", 1)
                for side in tot:
                    tot[side] += uses * statistics.median(samples[n][side])
            if tot["torch"] > 0:
                print(f"convolutions of one {tag} training step (sum of uses x time): sepal "
                      f"{tot['sepal'] * 1e3:.1f} ms, torch {tot['torch'] * 1e3:.1f} ms, ratio "
                      f"{tot['sepal'] / tot['torch']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"suite": args.suite, "threads": args.threads, "loads": loads, "samples": samples}, f, indent=1)
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
