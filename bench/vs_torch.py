#!/usr/bin/python3
"""vs_torch.py: sepal against PyTorch's best eager CPU variants on the same workloads, same threads, one table.

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

PyTorch variants (--variants, default all three), each measured in the same run:
  nchw           float32, the default contiguous (NCHW) layout
  channels_last  float32, model and input converted with memory_format=torch.channels_last
                 (PyTorch's CPU advice); ops: every operand of the conv, BatchNorm and max pool
  bf16           step suite only: torch.autocast("cpu", dtype=torch.bfloat16) around forward and
                 loss, float32 master weights, the same Adam; measured in both layouts
                 (bf16_nchw, bf16_channels_last, which may also be named alone) and the faster
                 one reported as "bf16"
A variant that fails in the worker (an old torch, a missing CPU feature) is reported with the
reason and the others go on.

Every fp32 ratio is sepal's float32 time / the time of the FASTEST float32 PyTorch variant of the
same run (by median; the table names it), the median of the per-round ratios. bf16: sepal's
bf16 step, when bench_step has one (named BM_Step/<workload>/bf16), is compared with PyTorch's
bf16 (target below); until then the bf16 table shows PyTorch's bf16 time and, as information
only, sepal float32 / PyTorch bf16.

Each round runs the sepal program once (every benchmark, repetitions in random order), then a
PyTorch worker process on the same workloads (per workload every variant, repetitions in random
order), alternating, so load from other processes falls on both alike. Both get
OMP_NUM_THREADS=--threads (PyTorch also torch.set_num_threads) and, with --wait-policy,
OMP_WAIT_POLICY. Times are medians over the rounds. The header names the worker's interpreter,
torch, torchvision and oneDNN versions.

The worker runs under --python (default: the interpreter running this script), which needs torch
and torchvision. Debian's /usr/bin/python3 has PyTorch 1.13 (python3-torch); the newest PyTorch
installs from PyPI into a virtual environment (never needed by the tests):
  python3 -m venv ~/venv-torch && ~/venv-torch/bin/pip install torch torchvision
Examples:
  python3 bench/vs_torch.py step build-perf/bench --rounds 3 --python ~/venv-torch/bin/python
  /usr/bin/python3 bench/vs_torch.py step build-perf/bench --rounds 3
  python3 bench/vs_torch.py step build-perf/bench --python ~/venv-torch/bin/python --variants nchw,channels_last
  python3 bench/vs_torch.py ops build-perf/bench --filter 'b8_224|BatchNorm/.*/n8' --python ~/venv-torch/bin/python
  python3 bench/vs_torch.py step build-perf/bench --rounds 1 --reps 2 --filter eval/b8_224   # a quick try
With --check the exit status is 1 when a step ratio misses its target. The targets are issue
15's, which replaced issue 8's (sepal <= 1.0x PyTorch 1.13 NCHW): float32, each of the four step
workloads at most 0.8x the fastest float32 PyTorch variant; bf16 (once sepal has a bf16 step),
finetune/b8_224 and eval/b8_224 at most 0.8x PyTorch's bf16 autocast.
"""
import argparse
import contextlib
import gc
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time

# Targets of issue 15 (sepal time / PyTorch time, same threads, same run).
STEP_TARGETS = {"finetune/b8_224": 0.8, "feature_extract/b8_224": 0.8, "eval/b8_224": 0.8, "finetune/b128_32": 0.8}
STEP_TARGETS_BF16 = {"finetune/b8_224": 0.8, "eval/b8_224": 0.8}  # sepal bf16 / PyTorch bf16
STEP_SPECS = {"finetune/b8_224": ("finetune", 8, 224), "feature_extract/b8_224": ("feature_extract", 8, 224),
              "eval/b8_224": ("eval", 8, 224), "finetune/b128_32": ("finetune", 128, 32)}
STEP_RE = re.compile(r"BM_Step/([^/]+/[^/]+)(?:/(bf16))?$")  # sepal's CPU step: workload, precision

FP32_VARIANTS = ("nchw", "channels_last")
BF16_VARIANTS = ("bf16_nchw", "bf16_channels_last")
ALL_VARIANTS = FP32_VARIANTS + BF16_VARIANTS

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

def prepare_training(torch, model, mode):
    """Trainability and train/eval modes of a training workload (feature_extract: only the head
    trains, the frozen backbone in eval mode, as bench_step and flowers do; finetune: everything),
    and its Adam optimizer and NLLLoss. bench/profile_torch.py uses it too."""
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
    return opt, criterion


def make_step(torch, key, variant):
    """One step of workload `key` in PyTorch variant `variant` (a closure)."""
    import torchvision
    mode, batch, size = STEP_SPECS[key]
    bf16 = variant in BF16_VARIANTS
    channels_last = variant.endswith("channels_last")
    torch.manual_seed(7)
    model = torchvision.models.resnet18()
    model.fc = torch.nn.Sequential(torch.nn.Linear(512, 102), torch.nn.LogSoftmax(dim=1))
    images = torch.randn(batch, 3, size, size)
    labels = torch.randint(0, 102, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)

    def autocast():  # mixed precision: float32 weights, bf16 convolutions and matmuls
        return torch.autocast(device_type="cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    if mode == "eval":
        model.eval()

        def step():
            with torch.no_grad(), autocast():
                model(images)
        return step
    opt, criterion = prepare_training(torch, model, mode)

    def step():
        with autocast():
            loss = criterion(model(images), labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


CONV_RE = re.compile(r"BM_Conv/(fwd|bwd_data|bwd_weight)/[^/]+/[^/]+/n(\d+)c(\d+)h(\d+)w(\d+)k(\d+)r(\d+)s(\d+)p(\d+)$")
PLANE_RE = re.compile(r"BM_(BatchNorm|MaxPool|AdaptiveAvgPool)/(fwd|bwd)/n(\d+)c(\d+)h(\d+)w(\d+)$")


def torch_op(torch, name, variant):
    """A closure running in PyTorch the op the sepal benchmark `name` runs, with every 4-d operand
    in `variant`'s layout (nchw or channels_last); None where there is no such op or layout."""
    aten = torch.ops.aten
    torch.manual_seed(3)
    fmt = torch.channels_last if variant == "channels_last" else torch.contiguous_format

    def randn(*shape):
        return torch.randn(*shape).contiguous(memory_format=fmt)

    m = CONV_RE.match(name)
    if m:
        pass_, n, c, h, w, k, r, s, p = m.group(1), *map(int, m.groups()[1:])
        x, wt = randn(n, c, h, w), randn(k, c, r, r)
        oh, ow = (h + 2 * p - r) // s + 1, (w + 2 * p - r) // s + 1
        g = randn(n, k, oh, ow)
        if pass_ == "fwd":
            return lambda: aten.convolution(x, wt, None, [s, s], [p, p], [1, 1], False, [0, 0], 1)
        mask = [True, False, False] if pass_ == "bwd_data" else [False, True, False]
        return lambda: aten.convolution_backward(g, x, wt, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, mask)
    m = PLANE_RE.match(name)
    if m:
        op, pass_, n, c, h, w = m.group(1), m.group(2), *map(int, m.groups()[2:])
        x, dy = randn(n, c, h, w), randn(n, c, h, w)
        if op == "BatchNorm":
            wt, b, rm, rv = torch.ones(c), torch.zeros(c), torch.zeros(c), torch.ones(c)
            _, mean, invstd = aten.native_batch_norm(x, wt, b, rm, rv, True, 0.1, 1e-5)
            if pass_ == "fwd":
                return lambda: aten.native_batch_norm(x, wt, b, rm, rv, True, 0.1, 1e-5)
            return lambda: aten.native_batch_norm_backward(dy, x, wt, rm, rv, mean, invstd, True, 1e-5,
                                                           [True, True, True])
        if op == "AdaptiveAvgPool":
            if pass_ == "fwd":
                return lambda: aten._adaptive_avg_pool2d(x, [1, 1])
            gy = randn(n, c, 1, 1)
            return lambda: aten._adaptive_avg_pool2d_backward(gy, x)
        y, idx = aten.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1])
        if pass_ == "fwd":
            return lambda: aten.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1])
        gy = torch.randn_like(y)  # keeps y's layout
        return lambda: aten.max_pool2d_with_indices_backward(gy, x, [3, 3], [2, 2], [1, 1], [1, 1], False, idx)
    if name == "BM_Matmul1024" and variant == "nchw":  # no layout to vary
        a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        return lambda: torch.mm(a, b)
    return None


def torch_info(torch):
    """Versions for the header: torch, torchvision, oneDNN, CPU capability, interpreter."""
    info = {"torch": torch.__version__, "python": sys.executable, "threads": torch.get_num_threads()}
    try:
        import torchvision
        info["torchvision"] = torchvision.__version__
    except Exception as e:  # the ops suite does not need it
        info["torchvision"] = f"none ({type(e).__name__})"
    config = torch.__config__.show()
    m = re.search(r"(?:MKL-DNN|oneDNN\))\s+v(\S+)", config)
    info["onednn"] = m.group(1) if m else "?"
    if not torch.backends.mkldnn.is_available():
        info["onednn"] += " (not available)"
    m = re.search(r"CPU capability usage:\s*(\S+)", config)
    info["cpu_capability"] = m.group(1) if m else "?"
    return info


def error_text(e):
    text = f"{type(e).__name__}: {e}".strip().splitlines()
    return text[0][:300] if text else type(e).__name__


def worker(args):
    import torch
    torch.set_num_threads(args.threads)
    request = json.loads(sys.stdin.read())
    names, variants = request["names"], request["variants"]
    results, errors = {}, {}
    if args.suite == "step":
        # Per workload: build every variant (same seed, same data), warm up, then all the
        # variants' repetitions in one random order; then free them before the next workload.
        for key in names:
            steps = {}
            for v in variants:
                try:
                    fn = make_step(torch, key, v)
                    for _ in range(2):  # warm-up, as bench_step's
                        fn()
                    steps[v] = fn
                except Exception as e:
                    errors[f"{key} {v}"] = error_text(e)
            order = [v for v in steps for _ in range(args.reps)]
            random.shuffle(order)  # repetitions in random order, as --benchmark_enable_random_interleaving
            times = {v: [] for v in steps}
            for v in order:
                t0 = time.perf_counter()
                steps[v]()
                times[v].append(time.perf_counter() - t0)
            results[key] = {v: {"median": statistics.median(t), "min": min(t)} for v, t in times.items()}
            del steps
            gc.collect()
    else:
        jobs = [(n, v) for n in names for v in variants if v in FP32_VARIANTS]
        for name, v in random.sample(jobs, len(jobs)):
            try:
                fn = torch_op(torch, name, v)
                if fn is None:
                    continue
                fn()
            except Exception as e:
                errors[f"{name} {v}"] = error_text(e)
                continue
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
            results.setdefault(name, {})[v] = {"median": statistics.median(reps), "min": min(reps)}
    json.dump({"info": torch_info(torch), "results": results, "errors": errors}, sys.stdout)
    return 0


def run_torch(args, names, variants, env):
    cmd = [args.python, os.path.abspath(__file__), args.suite, "--worker", "--threads", str(args.threads),
           "--reps", str(args.reps), "--min-time", str(args.min_time)]
    try:
        proc = subprocess.run(cmd, input=json.dumps({"names": names, "variants": variants}),
                              stdout=subprocess.PIPE, text=True, env=env)
    except OSError as e:
        sys.exit(f"vs_torch: cannot run the PyTorch worker with --python {args.python}: {e}")
    if proc.returncode != 0:
        sys.exit(f"vs_torch: the PyTorch worker ({args.python}) exited with status {proc.returncode}; it needs "
                 "torch (and torchvision for the step suite): pass --python /usr/bin/python3 (Debian's "
                 "python3-torch) or a virtual environment's python (bench/README.md)")
    return json.loads(proc.stdout)


# ---------------------------------------------------------------- driver

def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def parse_variants(text):
    out = []
    for v in (x.strip() for x in text.split(",")):
        if not v:
            continue
        if v == "bf16":
            expanded = list(BF16_VARIANTS)
        elif v in ALL_VARIANTS:
            expanded = [v]
        else:
            raise argparse.ArgumentTypeError(f"unknown variant {v!r} (nchw, channels_last, bf16, "
                                             "bf16_nchw, bf16_channels_last)")
        out += [x for x in expanded if x not in out]
    if not out:
        raise argparse.ArgumentTypeError("no variant")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("suite", choices=["step", "ops"])
    ap.add_argument("bench_dir", nargs="?", default="build-perf/bench",
                    help="folder with bench_step, bench_conv and bench_core")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter that runs the PyTorch worker, with torch and torchvision "
                         "(default: this one, %(default)s)")
    ap.add_argument("--variants", type=parse_variants, default=parse_variants("nchw,channels_last,bf16"),
                    help="PyTorch variants, comma-separated: nchw, channels_last, bf16 (both layouts; or "
                         "bf16_nchw, bf16_channels_last); default all; ops runs the fp32 ones only")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=0, help="repetitions per round (default: step 10, ops 3)")
    ap.add_argument("--min-time", type=float, default=0.1, help="ops: seconds per repetition")
    ap.add_argument("--filter", default="", help="regular expression on the benchmark names")
    ap.add_argument("--wait-policy", choices=["passive", "active"], help="OMP_WAIT_POLICY for both sides")
    ap.add_argument("--compete", type=int, default=0,
                    help="run this many busy-looping processes alongside (a reproducible shared machine)")
    ap.add_argument("--json", help="write every sample here")
    ap.add_argument("--check", action="store_true", help="exit 1 when a step ratio misses its target")
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
        variants = args.variants
    else:
        programs = [(os.path.join(args.bench_dir, "bench_conv"), "^BM_(Conv|BatchNorm|MaxPool|AdaptiveAvgPool)/"),
                    (os.path.join(args.bench_dir, "bench_core"), "^BM_Matmul1024(/|$)")]
        extra = [f"--benchmark_repetitions={args.reps}", f"--benchmark_min_time={args.min_time}"]
        variants = [v for v in args.variants if v in FP32_VARIANTS]
        if not variants:
            sys.exit("vs_torch: the ops suite runs the fp32 variants only (nchw, channels_last)")
    names = {}
    for binary, flt in programs:
        listed = [n for n in list_sepal(binary, flt) if re.search(args.filter, n)]
        if args.suite == "step":
            listed = [n for n in listed if STEP_RE.match(n) and STEP_RE.match(n).group(1) in STEP_SPECS]
        if listed:
            names[binary] = listed
    all_names = [n for v in names.values() for n in v]
    if not all_names:
        sys.exit("vs_torch: no benchmark matches")

    # Fail early, before the first sepal round, when the worker's interpreter lacks torch.
    need = "import torch" + (", torchvision" if args.suite == "step" else "")
    try:
        probe = subprocess.run([args.python, "-c", need], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    except OSError as e:
        sys.exit(f"vs_torch: cannot run --python {args.python}: {e}")
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["?"])[-1]
        sys.exit(f"vs_torch: --python {args.python} cannot `{need}` ({why}): pass --python /usr/bin/python3 "
                 "(Debian's python3-torch) or a virtual environment's python (bench/README.md)")

    competitors = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.compete)]
    try:
        return compare(args, env, extra, names, all_names, variants)
    finally:
        for p in competitors:
            p.kill()
            p.wait()


def workload_of(args, name):
    """(row key, sepal precision) of a sepal benchmark: the step suite's rows are workloads
    (BM_Step/finetune/b8_224 and BM_Step/finetune/b8_224/bf16 share one), the ops suite's are names."""
    if args.suite == "step":
        m = STEP_RE.match(name)
        return m.group(1), m.group(2) or "fp32"
    return name, "fp32"


def median_of(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def min_of(xs):
    xs = [x for x in xs if x is not None]
    return min(xs) if xs else None


def round_ratio(a, b):
    """The median of the per-round ratios a / b (rounds where both were measured)."""
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    return statistics.median(x / y for x, y in pairs) if pairs else None


def fastest(s, variants):
    """The variant of `variants` with the lowest median time in row `s`, or None."""
    timed = [(median_of(s["torch"][v]), v) for v in variants if median_of(s["torch"][v]) is not None]
    return min(timed)[1] if timed else None


def ms(t, width, digits=1):
    return f"{t * 1e3:>{width}.{digits}f}" if t is not None else f"{'-':>{width}}"


def compare(args, env, extra, names, all_names, variants):
    rows = list(dict.fromkeys(workload_of(args, n)[0] for n in all_names))
    samples = {k: {"sepal": {"fp32": [], "bf16": []}, "sepal_min": {"fp32": [], "bf16": []},
                   "torch": {v: [] for v in variants}, "torch_min": {v: [] for v in variants}, "counters": {}}
               for k in rows}
    loads, info, errors = [], {}, {}
    for r in range(args.rounds):
        print(f"round {r + 1} of {args.rounds} (load average {load_average():.2f})", file=sys.stderr, flush=True)
        loads.append(load_average())
        for s in samples.values():  # one slot per round, None where nothing was measured
            for side in ("sepal", "sepal_min", "torch", "torch_min"):
                for lst in s[side].values():
                    lst.append(None)
        for binary, listed in names.items():
            flt = "^(" + "|".join(re.escape(n) for n in listed) + ")(/|$)"
            res = run_sepal(binary, flt, env, extra)
            for n, e in res.items():
                if n not in listed:
                    continue
                key, prec = workload_of(args, n)
                samples[key]["sepal"][prec][-1] = e["median"]
                samples[key]["sepal_min"][prec][-1] = e.get("min", e["median"])
                if prec == "fp32":
                    samples[key]["counters"] = {k: v for k, v in e.items() if k not in ("median", "min")}
        tres = run_torch(args, rows, variants, env)
        info = tres["info"]
        errors.update(tres["errors"])
        for key, per_variant in tres["results"].items():
            for v, e in per_variant.items():
                samples[key]["torch"][v][-1] = e["median"]
                samples[key]["torch_min"][v][-1] = e["min"]
    loads.append(load_average())

    print(f"\nsepal vs PyTorch {info.get('torch', '?')} (torchvision {info.get('torchvision', '?')}, "
          f"oneDNN {info.get('onednn', '?')}, CPU capability {info.get('cpu_capability', '?')}; "
          f"worker {info.get('python', args.python)})")
    print(f"{args.threads} threads, OMP_WAIT_POLICY={env.get('OMP_WAIT_POLICY', '(default)')}, "
          f"{args.rounds} rounds x {args.reps} repetitions, load average {min(loads):.2f}-{max(loads):.2f}"
          + (f", {args.compete} busy-looping processes alongside" if args.compete else ""))
    print(f"PyTorch variants: {', '.join(variants)}")
    failed_variants = {}
    for what, why in errors.items():
        row, v = what.rsplit(" ", 1)
        failed_variants.setdefault((v, why), []).append(row)
    for (v, why), where in failed_variants.items():
        print(f"PyTorch variant {v} failed ({', '.join(where) if len(where) < len(rows) else 'every workload'}), "
              f"left out: {why}")

    fp32 = [v for v in variants if v in FP32_VARIANTS]
    bf16 = [v for v in variants if v in BF16_VARIANTS]
    failed = False
    if args.suite == "step":
        failed = step_tables(samples, rows, fp32, bf16)
    else:
        ops_table(samples, rows, fp32)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"suite": args.suite, "threads": args.threads, "loads": loads, "torch": info,
                       "variants": variants, "errors": errors, "samples": samples}, f, indent=1)
    return 1 if failed and args.check else 0


def step_tables(samples, rows, fp32, bf16):
    """Prints the fp32 and bf16 step tables; returns whether a ratio missed its target."""
    failed = False
    if fp32:
        print(f"\nfloat32: ratio = sepal / the fastest float32 PyTorch variant of this run (issue 15 target <= 0.8)")
        print(f"{'workload':<24} {'sepal ms':>9} {'(min)':>8} " + " ".join(f"{v + ' ms':>16}" for v in fp32)
              + f" {'fastest':>14} {'ratio':>6} {'sepal img/s':>11} {'conv GFLOP/s':>12} {'target':>7}")
        for key in rows:
            s = samples[key]
            st = median_of(s["sepal"]["fp32"])
            best = fastest(s, fp32)
            line = (f"{key:<24} {ms(st, 9)} {ms(min_of(s['sepal_min']['fp32']), 8)} "
                    + " ".join(ms(median_of(s["torch"][v]), 16) for v in fp32))
            if st is None or best is None:
                print(line + f" {'(sepal or PyTorch missing)':>14}")
                continue
            ratio = round_ratio(s["sepal"]["fp32"], s["torch"][best])
            target = STEP_TARGETS[key]
            ok = ratio <= target
            failed |= not ok
            batch = STEP_SPECS[key][1]
            print(line + f" {best:>14} {ratio:>6.2f} {batch / st:>11.1f} "
                  f"{s['counters'].get('conv_GFLOP/s', 0):>12.1f} {'<= ' + format(target, '.1f'):>7} "
                  f"{'PASS' if ok else 'FAIL'}")
    if bf16:
        has_sepal_bf16 = any(median_of(samples[k]["sepal"]["bf16"]) is not None for k in rows)
        print("\nbf16: PyTorch's torch.autocast(\"cpu\", dtype=torch.bfloat16) around forward and loss, float32 "
              "master weights; \"bf16\" is the faster of the layouts measured")
        if has_sepal_bf16:
            print("ratio = sepal bf16 (BM_Step/<workload>/bf16) / PyTorch bf16 (issue 15 target <= 0.8 on "
                  "finetune/b8_224 and eval/b8_224)")
        else:
            print("sepal has no bf16 step yet: the last column is sepal float32 / PyTorch bf16, "
                  "information only (no target)")
        sepal_col = "sepal bf16 ms" if has_sepal_bf16 else "sepal fp32 ms"
        ratio_col = "bf16 ratio" if has_sepal_bf16 else "fp32/bf16 (info)"
        print(f"{'workload':<24} {sepal_col:>13} " + " ".join(f"{v + ' ms':>21}" for v in bf16)
              + f" {'bf16 (layout)':>20} {ratio_col:>16}")
        for key in rows:
            s = samples[key]
            prec = "bf16" if has_sepal_bf16 else "fp32"
            st = median_of(s["sepal"][prec])
            best = fastest(s, bf16)
            line = f"{key:<24} {ms(st, 13)} " + " ".join(ms(median_of(s["torch"][v]), 21) for v in bf16)
            if best is None:
                print(line + f" {'(PyTorch bf16 missing)':>20}")
                continue
            layout = best[len("bf16_"):]
            line += f" {median_of(s['torch'][best]) * 1e3:>6.1f} ({layout})".rjust(21)
            ratio = round_ratio(s["sepal"][prec], s["torch"][best])
            if ratio is None:
                print(line + f" {'-':>16}")
                continue
            line += f" {ratio:>16.2f}"
            if has_sepal_bf16 and key in STEP_TARGETS_BF16:
                ok = ratio <= STEP_TARGETS_BF16[key]
                failed |= not ok
                line += f" {'<= ' + format(STEP_TARGETS_BF16[key], '.1f'):>7} {'PASS' if ok else 'FAIL'}"
            print(line)
    return failed


def ops_table(samples, rows, fp32):
    print(f"\nratio = sepal / the fastest PyTorch variant of this run for that benchmark")
    print(f"{'benchmark':<72} {'sepal ms':>9} " + " ".join(f"{v + ' ms':>16}" for v in fp32)
          + f" {'fastest':>14} {'ratio':>6} {'sepal rate':>14}")
    for n in rows:
        s = samples[n]
        st = median_of(s["sepal"]["fp32"])
        best = fastest(s, fp32)
        line = f"{n:<72} {ms(st, 9, 3)} " + " ".join(ms(median_of(s["torch"][v]), 16, 3) for v in fp32)
        if st is None or best is None:
            print(line + " (missing)")
            continue
        c = s["counters"]
        rate = ""
        if "GFLOP/s" in c:
            rate = f"{c['GFLOP/s']:.1f} GFLOP/s"
        elif "bytes_per_second" in c:
            rate = f"{c['bytes_per_second'] / 1e9:.1f} GB/s"
        print(line + f" {best:>14} {round_ratio(s['sepal']['fp32'], s['torch'][best]):>6.2f} {rate:>14}")
    # The convolution time of one ResNet-18 training step, summed from the table (uses x time):
    # PyTorch per variant and with the faster variant of each layer.
    for tag in ("b8_224", "b128_32"):
        tot = {"sepal": 0.0, "best": 0.0, **{v: 0.0 for v in fp32}}
        counted = 0
        for n in rows:
            m = re.match(rf"BM_Conv/(fwd|bwd_data|bwd_weight)/{tag}/([^/]+)/", n)
            s = samples[n]
            times = {v: median_of(s["torch"][v]) for v in fp32}
            if not m or median_of(s["sepal"]["fp32"]) is None or None in times.values():
                continue
            if m.group(1) == "bwd_data" and m.group(2) == "conv1":
                continue  # the images need no gradient
            uses = s["counters"].get("uses", 1)
            tot["sepal"] += uses * median_of(s["sepal"]["fp32"])
            for v in fp32:
                tot[v] += uses * times[v]
            tot["best"] += uses * min(times.values())
            counted += 1
        if counted:
            best_total = min(fp32, key=lambda v: tot[v])
            print(f"convolutions of one {tag} training step (sum of uses x time): sepal {tot['sepal'] * 1e3:.1f} ms, "
                  + ", ".join(f"torch {v} {tot[v] * 1e3:.1f} ms" for v in fp32)
                  + f", torch faster layout per layer {tot['best'] * 1e3:.1f} ms; sepal / torch {best_total} "
                  f"{tot['sepal'] / tot[best_total]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
