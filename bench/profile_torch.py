#!/usr/bin/python3
"""profile_torch.py: where the time of one ResNet-18 step goes in PyTorch, per op kind and per layer,
in the table format of sepal's profiler (tensor/profiler.h), and side by side with sepal's.

The workload is bench_step's and bench/vs_torch.py's: torchvision's ResNet-18 with the head
Sequential(Linear(512, 102), LogSoftmax(1)), NLLLoss, Adam(lr 1e-3); one step = forward, loss,
backward, step(), zero_grad(set_to_none=True). Workloads: finetune/b8_224 (default),
feature_extract/b8_224, eval/b8_224, finetune/b128_32. PyTorch variants (--variants): nchw and
channels_last (model and input in torch.channels_last).

How PyTorch's side is measured: after two warm-up steps, --steps steps run under torch.profiler
(CPU activity only, no shapes or stacks). Each module except the root runs inside a
record_function named after its torchvision path (forward pre-hook / forward hook), the loss
inside "loss", and Optimizer.step / zero_grad are PyTorch's own records ("optimizer"). An aten
op called from outside any other aten op is booked with its inclusive time under
  op kind  a name of sepal's backend calls where one corresponds (aten::conv2d ->
           conv2d_forward, aten::convolution_backward -> conv2d_backward, threshold_backward ->
           relu_backward, ...; see TORCH_KINDS), else the aten name; everything inside
           Optimizer.step is adam_step
  phase    backward under autograd::engine::evaluate_function, optimizer under Optimizer.*, else forward
  layer    forward: the innermost module record; backward: the layer of the forward op with the
           backward node's sequence number (PyTorch's link between the two), as sepal books a
           node's backward under the layer that recorded it.
Time outside aten ops (Python, the profiler's own records, the engine) is "(not in an op)".
The profiler adds a few microseconds per op, so PyTorch's profiled step is a little slower than
its plain one (vs_torch.py measures that).

sepal's side: `bench_step --profile N --workload W` (--sepal PATH). With --rounds R the sepal
program and each PyTorch variant run alternately R times and every row is the median over the
rounds (as bench/vs_torch.py alternates), which a shared machine needs. The joined tables put sepal's
time and each PyTorch variant's per op kind and per layer with the ratio sepal / PyTorch; sepal's
conv2d_backward_input and conv2d_backward_weight are joined as conv2d_backward (PyTorch computes
both in one aten::convolution_backward).

The PyTorch worker runs under --python (default: this interpreter), which needs torch and
torchvision: /usr/bin/python3 (Debian's PyTorch 1.13) or a virtual environment with the newest
PyTorch (python3 -m venv ~/venv-torch && ~/venv-torch/bin/pip install torch torchvision).
Examples:
  python3 bench/profile_torch.py --python ~/venv-torch/bin/python                        # PyTorch only
  python3 bench/profile_torch.py --python ~/venv-torch/bin/python --sepal build-cc/bench/bench_step
  python3 bench/profile_torch.py --python ~/venv-torch/bin/python --sepal build-cc/bench/bench_step \\
      --rounds 3 --wait-policy passive --variants channels_last                          # a shared machine
  python3 bench/profile_torch.py --sepal build-cc/bench/bench_step --workload eval/b8_224 --steps 3
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vs_torch import prepare_training  # noqa: E402  (the same workload set-up)

STEP_SPECS = {"finetune/b8_224": ("finetune", 8, 224), "feature_extract/b8_224": ("feature_extract", 8, 224),
              "eval/b8_224": ("eval", 8, 224), "finetune/b128_32": ("finetune", 128, 32)}
VARIANTS = ("nchw", "channels_last")

# aten op (called from outside any other aten op) -> sepal's op kind
TORCH_KINDS = {
    "aten::conv2d": "conv2d_forward", "aten::convolution": "conv2d_forward",
    "aten::convolution_backward": "conv2d_backward",
    "aten::batch_norm": "batch_norm_forward", "aten::native_batch_norm_backward": "batch_norm_backward",
    "aten::relu": "relu", "aten::relu_": "relu", "aten::threshold_backward": "relu_backward",
    "aten::max_pool2d": "max_pool2d_forward", "aten::max_pool2d_with_indices_backward": "max_pool2d_backward",
    "aten::adaptive_avg_pool2d": "adaptive_avg_pool2d_forward",
    "aten::_adaptive_avg_pool2d_backward": "adaptive_avg_pool2d_backward",
    "aten::add": "add", "aten::add_": "add",
    "aten::linear": "matmul", "aten::addmm": "matmul", "aten::mm": "matmul",
    "aten::log_softmax": "log_softmax", "aten::_log_softmax_backward_data": "log_softmax_backward",
    "aten::nll_loss": "nll_loss", "aten::nll_loss_nd": "nll_loss", "aten::nll_loss_backward": "nll_loss_backward",
}
# sepal's kinds joined into PyTorch's coarser ones in the comparison
SEPAL_JOIN = {"conv2d_backward_input": "conv2d_backward", "conv2d_backward_weight": "conv2d_backward"}

HEADER = "%-40s %8s %10s %10s %10s %10s %7s"


# ---------------------------------------------------------------- tables (both sides)

def format_table(title, rows, step_ms, op_ms):
    """sepal's table format (tensor/profiler.cpp format_table)."""
    def col(v):
        return "%10s" % "-" if v is None else "%10.2f" % v

    def line(name, calls, f, b, o, total):
        pct = 100.0 * total / step_ms if step_ms > 0 else 0.0
        return "%-40s %8s %s %s %s %s %7.1f" % (name, calls, col(f), col(b), col(o), col(total), pct)
    out = [HEADER % (title, "calls", "forward", "backward", "optimizer", "total ms", "% step")]
    for r in rows:
        out.append(line(r["name"], "%.0f" % r["calls"], r["forward"], r["backward"], r["optimizer"], total(r)))
    out.append(line("(not in an op)", "-", None, None, None, step_ms - op_ms))
    out.append(line("step", "-", None, None, None, step_ms))
    return "\n".join(out) + "\n"


def total(r):
    return r["forward"] + r["backward"] + r["optimizer"]


def parse_tables(text):
    """sepal's printed tables -> {"kind": rows, "layer": rows, "step_ms": x, "op_ms": x}."""
    tables, current, outside = {"kind": [], "layer": [], "step_ms": 0.0}, None, 0.0
    for line in text.splitlines():
        if line.startswith("op kind (ms per step)"):
            current = tables["kind"]
        elif line.startswith("layer (ms per step)"):
            current = tables["layer"]
        elif not line.strip():
            current = None
        elif current is not None:
            name, calls, f, b, o, t, _ = line.rsplit(None, 6)
            if name == "step":
                tables["step_ms"] = float(t)
            elif name == "(not in an op)":
                outside = float(t)
            else:
                current.append({"name": name, "calls": float(calls), "forward": float(f), "backward": float(b),
                                "optimizer": float(o)})
    tables["op_ms"] = tables["step_ms"] - outside
    return tables


# ---------------------------------------------------------------- PyTorch side (worker process)

def make_step(torch, key, variant):
    """The workload's model and step (as bench/vs_torch.py's make_step), with a module scope per
    named module and a "loss" scope."""
    import torchvision
    mode, batch, size = STEP_SPECS[key]
    torch.manual_seed(7)
    model = torchvision.models.resnet18()
    model.fc = torch.nn.Sequential(torch.nn.Linear(512, 102), torch.nn.LogSoftmax(dim=1))
    images = torch.randn(batch, 3, size, size)
    labels = torch.randint(0, 102, (batch,))
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    record_function = torch.autograd.profiler.record_function
    for name, module in model.named_modules():
        if not name:
            continue
        open_records = []

        def pre(_m, _inputs, name=name, open_records=open_records):
            r = record_function("scope:" + name)
            r.__enter__()
            open_records.append(r)

        def post(_m, _inputs, _output, open_records=open_records):
            open_records.pop().__exit__(None, None, None)
        module.register_forward_pre_hook(pre)
        module.register_forward_hook(post)
    if mode == "eval":
        model.eval()

        def step():
            with torch.no_grad():
                model(images)
        return step
    opt, criterion = prepare_training(torch, model, mode)

    def step():
        out = model(images)
        with record_function("scope:loss"):
            loss = criterion(out, labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def book(events, steps):
    """torch.profiler events -> rows by kind and by layer (ms per step)."""
    def is_aten(e):
        return e.name.startswith("aten::")

    def ancestors(e):
        p = e.cpu_parent
        while p is not None:
            yield p
            p = p.cpu_parent

    def forward_scope(e):
        for a in ancestors(e):
            if a.name.startswith("scope:"):
                return a.name[len("scope:"):]
        return ""
    # the layer of each forward op with a sequence number, for its backward node
    seq_scope = {}
    for e in events:
        if is_aten(e) and e.sequence_nr >= 0 and not any(a.name.startswith("autograd::engine") for a in ancestors(e)):
            seq_scope.setdefault(e.sequence_nr, forward_scope(e))
    cells = {}
    for e in events:
        if not is_aten(e) or any(is_aten(a) for a in ancestors(e)):
            continue
        kind, phase, scope = TORCH_KINDS.get(e.name, e.name[len("aten::"):]), "forward", None
        for a in ancestors(e):
            if a.name.startswith("autograd::engine::evaluate_function"):
                phase, scope = "backward", seq_scope.get(a.sequence_nr, "")
                break
            if a.name.startswith("Optimizer."):
                phase, scope = "optimizer", "optimizer"
                kind = "adam_step" if a.name.startswith("Optimizer.step") else "zero_grad"
                break
        if scope is None:
            scope = forward_scope(e)
        c = cells.setdefault((kind, phase, scope), [0.0, 0])
        c[0] += e.cpu_time_total / 1e3 / steps  # us -> ms per step
        c[1] += 1.0 / steps

    def rows_by(key_of):
        rows = {}
        for (kind, phase, scope), (ms, calls) in cells.items():
            name = key_of(kind, scope)
            r = rows.setdefault(name, {"name": name, "calls": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0})
            r[phase] += ms
            r["calls"] += calls
        return sorted(rows.values(), key=total, reverse=True)
    kinds = rows_by(lambda kind, scope: kind)
    layers = rows_by(lambda kind, scope: scope or "(outside modules)")
    return kinds, layers, sum(c[0] for c in cells.values())


def worker(args):
    import torch
    from torch.profiler import ProfilerActivity, profile
    torch.set_num_threads(args.threads)
    step = make_step(torch, args.workload, args.variant)
    for _ in range(2):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        step_ms = (time.perf_counter() - start) * 1e3 / args.steps
    kinds, layers, op_ms = book(prof.events(), args.steps)
    json.dump({"kind": kinds, "layer": layers, "step_ms": step_ms, "op_ms": op_ms, "torch": torch.__version__,
               "threads": torch.get_num_threads()}, sys.stdout)


# ---------------------------------------------------------------- the comparison

def run_torch(args, variant, env):
    cmd = [args.python, os.path.abspath(__file__), "--worker", "--variant", variant, "--workload", args.workload,
           "--steps", str(args.steps), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"profile_torch: the PyTorch worker failed under --python {args.python} (exit {proc.returncode}); "
                 "it needs torch and torchvision")
    return json.loads(proc.stdout)


def run_sepal(args, env):
    cmd = [args.sepal, "--profile", str(args.steps), "--workload", args.workload]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"profile_torch: {' '.join(cmd)} failed (exit {proc.returncode})")
    return proc.stdout, parse_tables(proc.stdout)


def joined(title, sides, table, join=lambda name: name):
    """One row per name over every side: ms per step and sepal / side ratios."""
    names, per_side = [], []
    for label, t in sides:
        ms = {}
        for r in t[table]:
            key = join(r["name"]) if label == "sepal" else r["name"]
            if key not in ms:
                names.append(key) if key not in names else None
                ms[key] = 0.0
            ms[key] += total(r)
        ms["(not in an op)"] = t["step_ms"] - t["op_ms"]
        ms["step"] = t["step_ms"]
        per_side.append(ms)
    names = sorted(set(names), key=lambda n: -max(ms.get(n, 0.0) for ms in per_side)) + ["(not in an op)", "step"]
    labels = [label for label, _ in sides]
    ratio_labels = ["sepal/" + label for label in labels[1:]] if labels[0] == "sepal" else []
    w = max(len(l) for l in labels + ratio_labels) + 2
    head = "%-32s" % title + "".join(l.rjust(w) for l in labels + ratio_labels)
    out = [head]
    for n in names:
        cells = [("%.2f" % ms[n] if n in ms else "-").rjust(w) for ms in per_side]
        if ratio_labels:
            for ms in per_side[1:]:
                a, b = per_side[0].get(n), ms.get(n)
                cells.append(("%.2f" % (a / b) if a is not None and b else "-").rjust(w))
        out.append("%-32s" % n + "".join(cells))
    return "\n".join(out) + "\n"


def median_tables(rounds):
    """The per-row medians over rounds of one side's tables (a row missing in a round counts 0)."""
    import statistics
    out = {"step_ms": statistics.median(t["step_ms"] for t in rounds),
           "op_ms": statistics.median(t["op_ms"] for t in rounds), "torch": rounds[0].get("torch"),
           "threads": rounds[0].get("threads")}
    for table in ("kind", "layer"):
        names = []
        for t in rounds:
            names += [r["name"] for r in t[table] if r["name"] not in names]
        rows = []
        for n in names:
            found = [next((r for r in t[table] if r["name"] == n), None) for t in rounds]
            row = {"name": n}
            for field in ("calls", "forward", "backward", "optimizer"):
                row[field] = statistics.median(r[field] if r else 0.0 for r in found)
            rows.append(row)
        out[table] = sorted(rows, key=total, reverse=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--python", default=sys.executable, help="interpreter with torch and torchvision for the worker")
    ap.add_argument("--sepal", help="sepal's bench_step binary: profile it too and join the tables")
    ap.add_argument("--workload", default="finetune/b8_224", choices=sorted(STEP_SPECS))
    ap.add_argument("--steps", type=int, default=5, help="profiled steps (after the warm-up)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate sepal and each PyTorch variant this many times; every row is the median over rounds")
    ap.add_argument("--wait-policy", choices=("active", "passive"),
                    help="OMP_WAIT_POLICY for both sides (passive: no spinning, kinder to a shared machine)")
    ap.add_argument("--variants", default="nchw,channels_last", help="PyTorch variants: nchw, channels_last")
    ap.add_argument("--tables", action="store_true", help="also print each side's own tables")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--variant", default="nchw", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS:
            sys.exit(f"profile_torch: unknown variant '{v}' (choose from {', '.join(VARIANTS)})")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if args.wait_policy:
        env["OMP_WAIT_POLICY"] = args.wait_policy
    labels = (["sepal"] if args.sepal else []) + variants
    samples = {label: [] for label in labels}
    loads = [os.getloadavg()[0]]
    for _ in range(max(1, args.rounds)):  # alternating, so load from other processes falls on every side alike
        if args.sepal:
            _, tables = run_sepal(args, env)
            samples["sepal"].append(tables)
        for v in variants:
            samples[v].append(run_torch(args, v, env))
        loads.append(os.getloadavg()[0])
    sides = [(label, median_tables(samples[label])) for label in labels]
    for label, t in sides:
        if not args.tables and args.sepal:
            break
        if label == "sepal":
            print(f"sepal profile: {args.workload}, {args.steps} steps, medians of {args.rounds} round(s)\n")
        else:
            print(f"PyTorch {t['torch']} profile: {args.workload}, {label}, {args.steps} steps, {t['threads']} threads, "
                  f"medians of {args.rounds} round(s)\n")
        print(format_table("op kind (ms per step)", t["kind"], t["step_ms"], t["op_ms"]))
        print(format_table("layer (ms per step)", t["layer"], t["step_ms"], t["op_ms"]))
    if args.sepal and len(sides) > 1:
        print(f"sepal vs PyTorch {sides[1][1]['torch']}: {args.workload}, {args.steps} profiled steps each, "
              f"{args.threads} threads, OMP_WAIT_POLICY={env.get('OMP_WAIT_POLICY', '(default)')}, medians of "
              f"{args.rounds} alternating round(s), load average {min(loads):.2f}-{max(loads):.2f}; ms per step\n")
        print(joined("op kind", sides, "kind", lambda n: SEPAL_JOIN.get(n, n)))
        print(joined("layer", sides, "layer"))


if __name__ == "__main__":
    main()
