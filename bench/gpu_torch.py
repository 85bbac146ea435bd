#!/usr/bin/env python3
"""gpu_torch.py: PyTorch's times for the GPU workloads sepal's own GPU benchmarks measure.

Purpose: a report shows sepal's CUDA numbers (bench_step's BM_StepCuda, bench_optim's
BM_AdamFusedCuda_ResNet18, the bench_conv convolution) next to PyTorch's on the same card, as
ratios. This script times the PyTorch side, in whatever torch is installed, and needs nothing but
torch (no torchvision, no network).

What is measured (each: warm-up steps, then N timed repeats; median and min reported):
  finetune b64 224     one ResNet-18 training step, batch 64 of 224 px random images: forward,
                       NLLLoss, backward, Adam.step(), zero_grad(set_to_none=True), model in
                       train mode. ResNet-18 is built here in plain torch.nn with torchvision's
                       structure; its fc is Sequential(Linear(512, 102), LogSoftmax(1)) as in
                       sepal's trainer; Adam(lr=1e-3) over every parameter, fused on CUDA
                       (foreach, then the single-tensor loop, where fused is not supported).
  finetune b256 224    the same with batch 256.
                       Both in four variants: fp32 NCHW and fp32 channels_last, each with TF32
                       off and on (torch.backends.cuda.matmul / cudnn allow_tf32).
  adam fused resnet18  Adam.step() alone over torchvision resnet18's parameters (1000-class fc,
                       11,689,512 parameters in 62 tensors, every gradient set); GB/s counted
                       at 28 bytes per parameter (read param, grad, exp_avg, exp_avg_sq; write
                       param, exp_avg, exp_avg_sq).
  conv 3x3 64->64 [8,64,56,56] fwd+bwd
                       F.conv2d(x, w, padding=1) and its backward for input and weight
                       gradients, fp32, TF32 off, NCHW.
On CUDA every variant runs with torch.backends.cudnn.benchmark = True (cuDNN algorithms picked by
timing them); sepal's default is cuDNN's heuristic choice, so the conv-heavy ratios compare
"heuristic" against "benchmarked" algorithm selection.

Timing: torch.cuda.synchronize() before and after each step, wall clock (time.perf_counter)
between the two, so a step's time includes its kernel-launch overhead, as sepal's CUDA
benchmarks (which synchronise after each iteration) count it. Between workloads every model,
optimizer and tensor is released and torch.cuda.empty_cache() is called. A workload that
raises (out of memory included) is printed and recorded as failed, and the rest still run;
once --time-budget seconds have passed no new workload starts and the rest are recorded as
skipped. Exit status: 0 when nothing failed, 1 when any workload failed.

Run (about 90 s on an H100):
  python3 bench/gpu_torch.py --json out.json --markdown out.md
  python3 bench/gpu_torch.py --only b64               # only workloads whose label has "b64"
  python3 bench/gpu_torch.py --device cpu --quick     # CPU smoke test: batch 2, 64 px, no b256
Options: --device, --quick, --repeats N (default 10 steps, 50 for adam and conv), --json PATH,
--markdown PATH, --only SUBSTRING, --time-budget SECONDS (default 150).
"""
import argparse
import gc
import json
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_CLASSES = 102        # the flowers head of sepal's trainer
ADAM_BYTES_PER_PARAM = 28
RESNET18_PARAMS = 11_689_512
RESNET18_TENSORS = 62

# The legacy TF32 flags are what this script sets; newer torch warns once that they will be
# deprecated. Keep that warning out of the output.
warnings.filterwarnings("ignore", message=".*new API settings to control TF32.*")


# ---------------------------------------------------------------------------------------------
# ResNet-18, structured as torchvision.models.resnet18
# ---------------------------------------------------------------------------------------------

def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):  # as torchvision's, in-place residual add included
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._layer(64, 64, 1)
        self.layer2 = self._layer(64, 128, 2)
        self.layer3 = self._layer(128, 256, 2)
        self.layer4 = self._layer(256, 512, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _layer(cin, cout, stride):
        return nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def finetune_resnet18():
    """ResNet-18 with sepal's trainer head: Linear(512, 102) then LogSoftmax over classes."""
    model = ResNet18(1000)
    model.fc = nn.Sequential(nn.Linear(512, NUM_CLASSES), nn.LogSoftmax(dim=1))
    return model


# ---------------------------------------------------------------------------------------------
# Settings that differ between torch versions
# ---------------------------------------------------------------------------------------------

def detect_adam_impl(device):
    """The fastest Adam implementation this torch runs on device: ("fused"|"foreach"|"single-tensor",
    kwargs). Tried on a tiny parameter, since older versions reject fused=True (or CPU tensors
    with it) at construction or at the first step."""
    candidates = [("fused", {"fused": True}), ("foreach", {"foreach": True}), ("single-tensor", {})]
    for name, kwargs in candidates:
        try:
            p = torch.zeros(8, device=device, requires_grad=True)
            p.grad = torch.ones_like(p)
            torch.optim.Adam([p], lr=1e-3, **kwargs).step()
            return name, kwargs
        except (TypeError, RuntimeError, ValueError):
            continue
    raise RuntimeError("torch.optim.Adam does not run on " + str(device))


def set_tf32(on):
    """TF32 for cuBLAS matmuls and cuDNN convolutions, through the legacy allow_tf32 flags
    (mixing them with the newer fp32_precision API makes recent torch raise, so the new API is
    used only where the legacy flags are gone)."""
    try:
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on
    except (AttributeError, RuntimeError):
        precision = "tf32" if on else "ieee"
        torch.backends.cuda.matmul.fp32_precision = precision
        torch.backends.cudnn.conv.fp32_precision = precision


def cuda_sync(device):
    """A function that waits for device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def free_memory(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------
# Timing and workloads
# ---------------------------------------------------------------------------------------------

def time_steps(step, device, warmup, repeats):
    """Median and min milliseconds of step() over repeats runs after warmup runs, each run
    synchronised before and after."""
    sync = cuda_sync(device)
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


@dataclass
class Variant:
    name: str
    channels_last: bool
    tf32: bool


# The finetune variants, in the order they run.
STEP_VARIANTS = [
    Variant("fp32 NCHW tf32-off", False, False),
    Variant("fp32 channels_last tf32-off", True, False),
    Variant("fp32 NCHW tf32-on", False, True),
    Variant("fp32 channels_last tf32-on", True, True),
]
CONV_VARIANT = Variant("fp32 NCHW tf32-off", False, False)


@dataclass
class Job:
    workload: str
    variant: str
    batch: Optional[int]
    size: Optional[int]
    run: Callable[[], dict]  # returns the record's measured fields

    @property
    def label(self):
        return f"{self.workload} / {self.variant}"


def finetune_step_job(device, batch, size, variant, adam_kwargs, warmup, repeats):
    """One training step of the finetune ResNet-18 in variant's memory format and TF32 mode."""
    def run():
        set_tf32(variant.tf32)
        fmt = torch.channels_last if variant.channels_last else torch.contiguous_format
        torch.manual_seed(7)
        model = finetune_resnet18().to(device=device, memory_format=fmt).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, **adam_kwargs)
        loss_fn = nn.NLLLoss()
        images = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=fmt)
        labels = torch.randint(0, NUM_CLASSES, (batch,), dtype=torch.int64, device=device)

        def step():
            loss = loss_fn(model(images), labels)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        median_ms, min_ms = time_steps(step, device, warmup, repeats)
        return {"median_ms": median_ms, "min_ms": min_ms, "images_per_s": batch / median_ms * 1e3}
    return Job(f"finetune b{batch} {size}", variant.name, batch, size, run)


def adam_job(device, adam_name, adam_kwargs, warmup, repeats):
    """Adam.step() alone over torchvision resnet18's parameters, every gradient set."""
    def run():
        torch.manual_seed(7)
        params = [p.detach().to(device).requires_grad_() for p in ResNet18(1000).parameters()]
        count = sum(p.numel() for p in params)
        if (count, len(params)) != (RESNET18_PARAMS, RESNET18_TENSORS):
            raise RuntimeError(f"ResNet-18 has {count} parameters in {len(params)} tensors, "
                               f"expected {RESNET18_PARAMS} in {RESNET18_TENSORS}")
        for p in params:
            p.grad = torch.randn_like(p)
        opt = torch.optim.Adam(params, lr=1e-3, **adam_kwargs)
        median_ms, min_ms = time_steps(opt.step, device, warmup, repeats)
        gb = ADAM_BYTES_PER_PARAM * count / 1e9
        return {"median_ms": median_ms, "min_ms": min_ms, "gb_per_s": gb / median_ms * 1e3}
    return Job(f"adam {adam_name} resnet18", f"fp32 {RESNET18_TENSORS} tensors", None, None, run)


def conv_job(device, batch, warmup, repeats):
    """The bench_conv convolution: 3x3, 64->64 channels, padding 1, forward + input and weight
    gradients, fp32 NCHW with TF32 off."""
    size = 56

    def run():
        set_tf32(CONV_VARIANT.tf32)
        torch.manual_seed(7)
        x = torch.randn(batch, 64, size, size, device=device, requires_grad=True)
        w = torch.randn(64, 64, 3, 3, device=device, requires_grad=True)
        grad_out = torch.randn(batch, 64, size, size, device=device)

        def step():
            F.conv2d(x, w, padding=1).backward(grad_out)
            x.grad = None
            w.grad = None

        median_ms, min_ms = time_steps(step, device, warmup, repeats)
        return {"median_ms": median_ms, "min_ms": min_ms}
    return Job(f"conv 3x3 64->64 [{batch},64,{size},{size}] fwd+bwd", CONV_VARIANT.name, batch, size, run)


def sizes(args):
    """Batch sizes, image size, warm-up and repeat counts for this run (--quick, --repeats)."""
    quick = args.quick
    return {
        "step_batches": [2] if quick else [64, 256],
        "image_size": 64 if quick else 224,
        "conv_batch": 2 if quick else 8,
        "step_warmup": 1 if quick else 3,
        "step_repeats": args.repeats or (3 if quick else 10),
        "micro_warmup": 1 if quick else 5,   # adam and conv
        "micro_repeats": args.repeats or (5 if quick else 50),
    }


def plan_jobs(args, device, adam_name, adam_kwargs):
    """Every workload in run order, sized by sizes(args), filtered by --only."""
    z = sizes(args)
    jobs = [finetune_step_job(device, b, z["image_size"], v, adam_kwargs, z["step_warmup"], z["step_repeats"])
            for b in z["step_batches"] for v in STEP_VARIANTS]
    jobs.append(adam_job(device, adam_name, adam_kwargs, z["micro_warmup"], z["micro_repeats"]))
    jobs.append(conv_job(device, z["conv_batch"], z["micro_warmup"], z["micro_repeats"]))
    if args.only:
        jobs = [j for j in jobs if args.only.lower() in j.label.lower()]
    return jobs


# ---------------------------------------------------------------------------------------------
# Running and reporting
# ---------------------------------------------------------------------------------------------

def new_record(job, status="ok", error=None):
    return {"workload": job.workload, "variant": job.variant, "batch": job.batch,
            "size": job.size, "median_ms": None, "min_ms": None, "images_per_s": None,
            "gb_per_s": None, "status": status, "error": error}


def run_job(job, device):
    """Runs one job and returns its record; any exception (out of memory included) becomes a
    failed record. Memory is released afterwards either way."""
    record = new_record(job)
    try:
        record.update(job.run())
    except Exception as e:  # noqa: BLE001 -- record it, keep going
        record["status"] = "failed"
        record["error"] = f"{type(e).__name__}: {e}".strip()[:500]
    free_memory(device)
    return record


def format_line(r):
    head = f"{r['workload']:<38} {r['variant']:<28}"
    if r["status"] != "ok":
        return f"{head} {r['status'].upper()}: {r['error']}"
    speed = (f"{r['images_per_s']:10.1f} images/s" if r["images_per_s"] is not None else
             f"{r['gb_per_s']:10.1f} GB/s" if r["gb_per_s"] is not None else "")
    return f"{head} median {r['median_ms']:9.3f} ms  min {r['min_ms']:9.3f} ms {speed}"


def make_header(args, device, adam_name):
    cuda = device.type == "cuda"
    name = (torch.cuda.get_device_name(device) if cuda else
            f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    return {
        "script": "bench/gpu_torch.py",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": str(device),
        "device_name": name,
        "quick": args.quick,
        **sizes(args),
        "time_budget_s": args.time_budget,
        "only": args.only,
        "adam_impl": adam_name,
        "cudnn_benchmark": torch.backends.cudnn.benchmark if cuda else None,
        "timing": ("wall clock per step between torch.cuda.synchronize() calls (launch overhead "
                   "included)" if cuda else "wall clock per step") + "; median and min over repeats after warm-up",
        "note": ("torch uses cudnn.benchmark=True (algorithms chosen by timing); sepal's default is "
                 "cuDNN's heuristic algorithm choice" if cuda else
                 "CPU run (smoke test): no cuDNN, and the tf32 settings have no effect"),
    }


def fmt(value, digits):
    return "" if value is None else f"{value:.{digits}f}"


def write_markdown(path, header, records):
    lines = [f"# PyTorch GPU workloads ({header['script']})", ""]
    lines += [f"- {key}: {value}" for key, value in header.items() if key != "script"]
    lines += ["", "| workload | variant | batch | size | median ms | min ms | images/s | GB/s | status | error |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in records:
        error = (r["error"] or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r['workload']} | {r['variant']} | {r['batch'] or ''} | {r['size'] or ''} | "
                     f"{fmt(r['median_ms'], 3)} | {fmt(r['min_ms'], 3)} | {fmt(r['images_per_s'], 1)} | "
                     f"{fmt(r['gb_per_s'], 1)} | {r['status']} | {error} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes for a CPU smoke test")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats per workload (default 10 for steps, 50 for adam and conv)")
    ap.add_argument("--json", metavar="PATH", help="write {header, records} as JSON")
    ap.add_argument("--markdown", metavar="PATH", help="write the header and a table as Markdown")
    ap.add_argument("--only", metavar="SUBSTRING", help="run only workloads whose 'workload / variant' contains it")
    ap.add_argument("--time-budget", type=float, default=150.0, metavar="SECONDS",
                    help="start no new workload after this many seconds (default 150)")
    return ap.parse_args()


def main():
    start = time.perf_counter()
    args = parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    adam_name, adam_kwargs = detect_adam_impl(device)
    header = make_header(args, device, adam_name)
    for key, value in header.items():
        print(f"{key}: {value}", flush=True)

    records = []
    for job in plan_jobs(args, device, adam_name, adam_kwargs):
        if time.perf_counter() - start > args.time_budget:
            record = new_record(job, "skipped", f"time budget of {args.time_budget:g} s exceeded")
        else:
            record = run_job(job, device)
        records.append(record)
        print(format_line(record), flush=True)
    print(f"total {time.perf_counter() - start:.1f} s", flush=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header, "records": records}, f, indent=2)
    if args.markdown:
        write_markdown(args.markdown, header, records)
    return 1 if any(r["status"] == "failed" for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
