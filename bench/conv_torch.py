#!/usr/bin/python3
"""conv_torch.py: PyTorch's time for the convolution bench_conv.cpp measures: a 3x3, 64->64
channel convolution of an [8, 64, 56, 56] float32 input, padding 1, forward plus backward (input
and weight gradients), on --threads threads (default 2); --channels-last converts x and g to torch.channels_last (the
counterpart of BM_ConvStepChannelsLast). Needs torch: run it with Debian's /usr/bin/python3
(python3-torch), e.g. `/usr/bin/python3 bench/conv_torch.py --threads 2`, or a newer PyTorch's
interpreter."""
import argparse
import resource
import statistics
import time

import torch
import torch.nn.functional as F


def process_cpu_ms():
    """CPU time of every thread of the process (see bench_conv.cpp's process_cpu_ms)."""
    u = resource.getrusage(resource.RUSAGE_SELF)
    return (u.ru_utime + u.ru_stime) * 1e3


def times_ms(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), process_cpu_ms()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
        cpu.append(process_cpu_ms() - cpu_start)
    return (f"{statistics.median(times):.2f} ms median, {min(times):.2f} ms min, "
            f"process CPU {statistics.median(cpu):.2f} ms median")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--channels-last", action="store_true", help="x and g in torch.channels_last")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    x = torch.randn(8, 64, 56, 56).contiguous(memory_format=fmt).requires_grad_(True)
    w = torch.randn(64, 64, 3, 3, requires_grad=True)
    g = torch.randn(8, 64, 56, 56).contiguous(memory_format=fmt)

    def step():
        y = F.conv2d(x, w, padding=1)
        y.backward(g)
        x.grad = None
        w.grad = None

    def forward():
        with torch.no_grad():
            F.conv2d(x, w, padding=1)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mkldnn {torch.backends.mkldnn.is_available()}, "
          f"{'channels_last' if args.channels_last else 'NCHW'}")
    print(f"step (forward + backward input + weight): {times_ms(step, args.repeats)}")
    print(f"forward only: {times_ms(forward, args.repeats)}")


if __name__ == "__main__":
    main()
