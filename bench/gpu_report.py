#!/usr/bin/env python3
"""gpu_report.py: the sepal / PyTorch table of scripts/gpu-check.sh. Reads Google Benchmark JSON
files of sepal's GPU benchmarks (bench_step, bench_optim, bench_conv run with repetitions) and the
JSON of bench/gpu_torch.py from the same GPU, and prints a markdown table of median times and
their ratio (sepal's time over PyTorch's: below 1 means sepal is faster). For the ResNet-18 steps
PyTorch's faster layout (NCHW or channels_last) in the same precision is the reference.

  python3 bench/gpu_report.py --sepal OUT/bench_*.json --torch OUT/torch.json
Standard library only."""
import argparse
import json
import re
import sys

UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}

# (label, sepal benchmark name, PyTorch workload, PyTorch variants to take the fastest of)
ROWS = [
    ("ResNet-18 finetune step, b64 224 px, fp32", "BM_StepCuda/finetune/b64_224", "finetune b64 224",
     ["fp32 NCHW tf32-off", "fp32 channels_last tf32-off"]),
    ("ResNet-18 finetune step, b256 224 px, fp32", "BM_StepCuda/finetune/b256_224", "finetune b256 224",
     ["fp32 NCHW tf32-off", "fp32 channels_last tf32-off"]),
    ("ResNet-18 finetune step, b64 224 px, TF32", "BM_StepCuda/finetune/b64_224/tf32", "finetune b64 224",
     ["fp32 NCHW tf32-on", "fp32 channels_last tf32-on"]),
    ("ResNet-18 finetune step, b256 224 px, TF32", "BM_StepCuda/finetune/b256_224/tf32", "finetune b256 224",
     ["fp32 NCHW tf32-on", "fp32 channels_last tf32-on"]),
    ("fused Adam over ResNet-18 (11.7M params)", "BM_AdamFusedCuda_ResNet18", "adam fused resnet18", None),
    ("conv 3x3 64->64 [8,64,56,56] fwd+bwd, heuristic", "BM_ConvKernelsCuda/heuristic",
     "conv 3x3 64->64 [8,64,56,56] fwd+bwd", None),
    ("conv 3x3 64->64 [8,64,56,56] fwd+bwd, autotuned", "BM_ConvKernelsCuda/autotuned",
     "conv 3x3 64->64 [8,64,56,56] fwd+bwd", None),
]


def base_name(name):
    """BM_X/a/iterations:1/real_time_median -> BM_X/a"""
    name = re.sub(r"_(median|mean|min|stddev|cv)$", "", name)
    return re.sub(r"/(iterations:\d+|repeats:\d+|real_time|manual_time)", "", name)


def sepal_medians(paths):
    """{benchmark base name: median ms} over every file (the min aggregate when no median)."""
    out, mins = {}, {}
    for path in paths:
        try:
            with open(path) as f:
                runs = json.load(f).get("benchmarks", [])
        except (OSError, ValueError) as e:
            print(f"note: skipped {path}: {e}", file=sys.stderr)
            continue
        for r in runs:
            if r.get("error_occurred"):
                continue
            ms = r["real_time"] * UNIT_MS.get(r.get("time_unit", "ns"), 1e-6)
            key = base_name(r["name"])
            if r.get("aggregate_name") == "median":
                out[key] = ms
            elif r.get("aggregate_name") == "min" or r.get("run_type") != "aggregate":
                mins.setdefault(key, ms)
    for k, v in mins.items():
        out.setdefault(k, v)
    return out


def torch_medians(path):
    """{(workload, variant): median ms} of the records that ran, and the header."""
    with open(path) as f:
        doc = json.load(f)
    got = {(r["workload"], r["variant"]): r["median_ms"]
           for r in doc.get("records", []) if r.get("status") == "ok" and r.get("median_ms")}
    return got, doc.get("header", {})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sepal", nargs="+", required=True, help="Google Benchmark JSON files")
    ap.add_argument("--torch", required=True, help="gpu_torch.py's JSON")
    args = ap.parse_args()
    sepal = sepal_medians(args.sepal)
    torch, header = torch_medians(args.torch)
    print(f"PyTorch {header.get('torch', '?')}, cuDNN {header.get('cudnn', '?')}, "
          f"{header.get('device_name', '?')}; medians; ratio = sepal time / PyTorch time\n")
    print("| workload | sepal ms | PyTorch ms (variant) | ratio |")
    print("| --- | ---: | --- | ---: |")
    for label, sepal_name, workload, variants in ROWS:
        s = sepal.get(sepal_name)
        candidates = [(torch[(workload, v)], v) for (w, v) in torch if w == workload
                      and (variants is None or v in variants)]
        t, variant = min(candidates) if candidates else (None, "")
        ratio = f"{s / t:.2f}" if s and t else "n/a"
        s_text = f"{s:.2f}" if s else "not run"
        t_text = f"{t:.2f} ({variant})" if t else "not run"
        print(f"| {label} | {s_text} | {t_text} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
