#!/usr/bin/env python3
"""core_ratios.py: runs bench_core once and prints the two core speed ratios with PASS/FAIL.

  add speed / copy speed        target >= 0.70  (bytes moved per second: add 3 x 64 MiB,
                                                 copy 2 x 64 MiB; the reference copy is the
                                                 fastest of BM_Copy16M, BM_CopyOmp16M,
                                                 BM_CopyLoop16M and BM_CopyStream16M)
  matmul speed / sgemm speed    target >= 0.90  (2 n^3 flops per second, n = 1024)

Each speed is the median over the repetitions. Usage:
  python3 bench/core_ratios.py build-bench/bench/bench_core [--repetitions 5] [--check]
        [--no-interleave] [--json-out FILE] [-- extra benchmark flags]
Repetitions run in random order (--benchmark_enable_random_interleaving) so that load from other
processes on a shared machine falls on every benchmark alike.
With --check the exit status is 1 when a ratio misses its target (else always 0 after a run).
Standard library only.
"""
import argparse
import json
import subprocess
import sys

TARGET_ADD = 0.70
TARGET_MATMUL = 0.90


def run_benchmarks(binary, repetitions, interleave, extra):
    cmd = [binary, "--benchmark_format=json", f"--benchmark_repetitions={repetitions}",
           "--benchmark_report_aggregates_only=true"]
    if interleave:  # spreads slow phases of a shared machine over every benchmark alike
        cmd.append("--benchmark_enable_random_interleaving=true")
    cmd += extra
    print("running:", " ".join(cmd), flush=True)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    except OSError as e:
        sys.exit(f"core_ratios: cannot run {binary}: {e.strerror}")
    if proc.returncode != 0:
        sys.exit(f"core_ratios: {binary} exited with status {proc.returncode}")
    return json.loads(proc.stdout)


def medians(report):
    """Maps a benchmark's base name (BM_Add16M) to its median aggregate entry."""
    out = {}
    for b in report.get("benchmarks", []):
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"]).split("/")[0]
        out[name] = b
    return out


def cv_of(report, base):
    for b in report.get("benchmarks", []):
        if b.get("aggregate_name") == "cv" and b.get("run_name", "").split("/")[0] == base:
            return b.get("bytes_per_second", b.get("FLOP"))
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", help="path to the bench_core executable")
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--check", action="store_true", help="exit 1 when a ratio misses its target")
    ap.add_argument("--no-interleave", action="store_true",
                    help="run each benchmark's repetitions back to back instead of in random order")
    ap.add_argument("--json-out", help="also save the raw benchmark JSON here")
    ap.add_argument("extra", nargs="*", help="extra flags for the benchmark binary (after --)")
    args = ap.parse_args()

    report = run_benchmarks(args.binary, args.repetitions, not args.no_interleave, args.extra)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=1)
    m = medians(report)
    copies = {"BM_Copy16M": "memcpy, 1 thread", "BM_CopyOmp16M": "memcpy per OpenMP thread",
              "BM_CopyLoop16M": "OpenMP loop copy", "BM_CopyStream16M": "OpenMP streaming copy"}
    copies = {n: label for n, label in copies.items() if n in m}  # streaming copy is x86-only
    need = [*copies, "BM_Add16M", "BM_Matmul1024", "BM_Sgemm1024"]
    missing = [n for n in need if n not in m]
    if missing:
        sys.exit("core_ratios: missing results for " + ", ".join(missing))

    ctx = report.get("context", {})
    print(f"host: {ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} cpus; "
          f"omp_max_threads={ctx.get('omp_max_threads', '?')}, "
          f"openblas_threads={ctx.get('openblas_threads', '?')}; "
          f"median of {args.repetitions} repetitions")
    print()
    print(f"{'benchmark':<18} {'median time':>12} {'speed':>16} {'cv':>7}")
    for name in need + sorted(k for k in m if k not in need):
        b = m[name]
        if "bytes_per_second" in b:
            speed = f"{b['bytes_per_second'] / 2**30:.2f} GiB/s"
        elif "FLOP" in b:
            speed = f"{b['FLOP'] / 1e9:.1f} GFLOP/s"
        else:
            speed = "-"
        cv = cv_of(report, name)
        cv_text = f"{100 * cv:.1f}%" if cv is not None else "-"
        print(f"{name:<18} {b['real_time']:>9.3f} {b['time_unit']:<2} {speed:>16} {cv_text:>7}")

    copy_ref, copy_name = max((m[n]["bytes_per_second"], label) for n, label in copies.items())
    add_ratio = m["BM_Add16M"]["bytes_per_second"] / copy_ref
    mm_ratio = m["BM_Matmul1024"]["FLOP"] / m["BM_Sgemm1024"]["FLOP"]

    rows = [
        (f"add / copy ({copy_name})", add_ratio, TARGET_ADD),
        ("sepal matmul / cblas_sgemm", mm_ratio, TARGET_MATMUL),
    ]
    print()
    print(f"{'ratio':<44} {'value':>6} {'target':>7}  result")
    failed = False
    for label, value, target in rows:
        ok = value >= target
        failed |= not ok
        print(f"{label:<44} {value:>6.3f} {'>= ' + format(target, '.2f'):>7}  {'PASS' if ok else 'FAIL'}")
    if failed and args.check:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
