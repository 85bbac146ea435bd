#!/usr/bin/python3
"""optim_vs_torch.py: the Adam step over ResNet-18's parameters, sepal against PyTorch.

Times torch.optim.Adam on torchvision's resnet18 parameter shapes (11,689,512 parameters in 62
tensors, every gradient set) with torch.set_num_threads(--threads), and runs bench_optim with
OMP_NUM_THREADS set to the same count (3 repetitions of each benchmark in random order), alternating
the two for --rounds rounds, so that load from other processes and the memory bandwidth left by
other machines on the host, which vary minute to minute, fall on both alike. Times are medians
over the rounds; each ratio is the median of the per-round ratios. Prints times, speeds at 28
bytes per parameter, and the ratios with their targets:

  sepal fused / one-pass reference       <= 1.3   (the memory traffic any Adam step must move)
  sepal fused / torch Adam(foreach=True) <= 0.5   (at least 2x faster on the same threads)

Needs PyTorch and torchvision: run it with Debian's /usr/bin/python3 (python3-torch). Usage:
  /usr/bin/python3 bench/optim_vs_torch.py build-optim/bench/bench_optim [--threads 2]
        [--rounds 5] [--torch-steps 20] [--check]
With --check the exit status is 1 when a ratio misses its target.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BYTES_PER_PARAM = 28
TARGET_ONE_PASS = 1.3
TARGET_TORCH = 0.5


def run_sepal(binary, threads):
    """One bench_optim run: 3 repetitions of each benchmark in random order, their medians."""
    cmd = [binary, "--benchmark_format=json", "--benchmark_filter=^BM_Adam(Fused|PerTensor|OnePass)_ResNet18/",
           "--benchmark_repetitions=3", "--benchmark_enable_random_interleaving=true",
           "--benchmark_report_aggregates_only=true"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"optim_vs_torch: {binary} exited with status {proc.returncode}")
    scale = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    return {b["run_name"].split("/")[0]: b["real_time"] * scale[b["time_unit"]]
            for b in json.loads(proc.stdout)["benchmarks"] if b.get("aggregate_name") == "median"}


class TorchAdam:
    """torch.optim.Adam over resnet18's parameter shapes, every gradient set."""

    def __init__(self, threads, foreach):
        import torch
        import torchvision
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        self.params = [p.detach().clone().requires_grad_() for p in torchvision.models.resnet18().parameters()]
        for p in self.params:
            p.grad = torch.randn_like(p) * 1e-3
        self.opt = torch.optim.Adam(self.params, lr=1e-3, foreach=foreach)
        for _ in range(3):  # state creation and warm-up
            self.opt.step()
        self.count = sum(p.numel() for p in self.params)

    def time(self, steps):
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            self.opt.step()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", help="path to bench_optim")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--torch-steps", type=int, default=20)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()

    need = ["BM_AdamFused_ResNet18", "BM_AdamPerTensor_ResNet18", "BM_AdamOnePass_ResNet18"]
    torch_foreach, torch_single = TorchAdam(args.threads, True), TorchAdam(args.threads, False)
    n, tensors = torch_foreach.count, len(torch_foreach.params)
    if n != 11689512 or tensors != 62:
        print(f"warning: torchvision resnet18 has {n} parameters in {tensors} tensors")
    samples = {name: [] for name in need + ["foreach", "single"]}
    for r in range(args.rounds):
        print(f"round {r + 1} of {args.rounds}", flush=True)
        sepal = run_sepal(args.binary, args.threads)
        missing = [name for name in need if name not in sepal]
        if missing:
            sys.exit("optim_vs_torch: missing results for " + ", ".join(missing))
        for name in need:
            samples[name].append(sepal[name])
        samples["foreach"].append(torch_foreach.time(args.torch_steps))
        samples["single"].append(torch_single.time(args.torch_steps))
    med = {name: statistics.median(v) for name, v in samples.items()}
    sepal = med
    foreach, single = med["foreach"], med["single"]

    def ratio(a, b):  # the median over the rounds of the per-round ratio (machine load varies)
        return statistics.median(x / y for x, y in zip(samples[a], samples[b]))

    rows = [("sepal Adam, fused (BM_AdamFused_ResNet18)", sepal["BM_AdamFused_ResNet18"]),
            ("sepal Adam, per tensor (BM_AdamPerTensor_ResNet18)", sepal["BM_AdamPerTensor_ResNet18"]),
            ("one pass, read 4 write 3 (BM_AdamOnePass_ResNet18)", sepal["BM_AdamOnePass_ResNet18"]),
            ("torch.optim.Adam(foreach=True)", foreach),
            ("torch.optim.Adam(foreach=False)", single)]
    print(f"\n{n} parameters in {tensors} tensors, {args.threads} threads; medians over {args.rounds} rounds")
    print(f"{'':<52} {'time':>10} {'GB/s':>8}")
    for label, t in rows:
        print(f"{label:<52} {t * 1e3:>7.2f} ms {BYTES_PER_PARAM * n / t / 1e9:>8.2f}")
    ratios = [("sepal fused / one-pass reference", ratio("BM_AdamFused_ResNet18", "BM_AdamOnePass_ResNet18"),
               TARGET_ONE_PASS),
              ("sepal fused / torch Adam(foreach=True)", ratio("BM_AdamFused_ResNet18", "foreach"), TARGET_TORCH),
              ("sepal per tensor / torch Adam(foreach=False)", ratio("BM_AdamPerTensor_ResNet18", "single"), None)]
    print(f"\n{'ratio (time), median over rounds':<48} {'value':>6} {'target':>8}")
    failed = False
    for label, value, target in ratios:
        verdict = ""
        if target is not None:
            ok = value <= target
            failed |= not ok
            verdict = "PASS" if ok else "FAIL"
        print(f"{label:<48} {value:>6.3f} {('<= ' + format(target, '.1f')) if target else '-':>8}  {verdict}")
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
