#!/usr/bin/python3
"""make_optim_golden.py: golden values from PyTorch 1.13's torch.optim for tests/optim.

Writes tests/golden/optim_golden.safetensors (the tests read it and never need torch):

  Trajectories of Adam, AdamW and SGD in several configurations (CONFIGS below), float32, each
  on the same small problem (mirrored by tests/optim/golden_problem.h):
    group 0: a.weight [4, 5], a.bias [5]         group 1: b.weight [3, 7], b.bias [7]
    group 2: c.weight [6], added by add_param_group after step 40 (ADD_AFTER)
  for 120 steps (STEPS). Every value comes from a formula both sides compute in float64 and
  round to float32 once, so nothing random crosses languages:
    initial p[i]  = ((7 i + 5 id + 3) mod 19 - 9) * 0.1
    target t[i]   = ((5 i + 3 id + 1) mod 11 - 5) * 0.2
    grad at step k = float32(sign * 2 * (p[i] - t[i]) + ((13 i + 7 k + 11 id) mod 17 - 8) * 0.01)
  (sign = -1 for the maximize configurations, so that they converge too). Some parameters get
  no gradient (grad = None) on some steps (no_grad below): b.bias not before step 5, so its
  state and bias correction start late. Stored: every parameter after steps RECORD, and each
  parameter's final state ("<cfg>.<param>.exp_avg", ..., "<cfg>.<param>.step").

  Learning-rate sequences (float64, [epochs, groups]) of StepLR, MultiStepLR,
  CosineAnnealingLR and ReduceLROnPlateau (two modes), get_last_lr() after construction and
  after each step() ("sched.<name>"), with the metrics fed to ReduceLROnPlateau.

Run with Debian's python3-torch:

    /usr/bin/python3 scripts/golden/make_optim_golden.py
"""
import os
import struct
import sys

import torch

from golden_io import save

STEPS = 120
ADD_AFTER = 40
RECORD = [1, 10, 40, 41, 80, 120]

PARAMS = [  # (name, shape, id, group)
    ("a.weight", [4, 5], 0, 0),
    ("a.bias", [5], 1, 0),
    ("b.weight", [3, 7], 2, 1),
    ("b.bias", [7], 3, 1),
    ("c.weight", [6], 4, 2),
]

# name: (optimizer, defaults, group 1 overrides, group 2 overrides, gradient sign)
CONFIGS = {
    "adam": ("Adam", dict(lr=0.01), dict(lr=0.003, betas=(0.8, 0.99)), dict(lr=0.02), 1.0),
    "adam_amsgrad_wd": ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1), dict(lr=0.003),
                        dict(lr=0.02, amsgrad=False), 1.0),
    "adam_maximize": ("Adam", dict(lr=0.01, maximize=True, weight_decay=0.05), dict(lr=0.003, eps=1e-6),
                      dict(lr=0.02), -1.0),
    "adamw": ("AdamW", dict(lr=0.01), dict(lr=0.003, weight_decay=0.1), dict(lr=0.02), 1.0),
    "adamw_amsgrad": ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.05), dict(lr=0.003),
                      dict(lr=0.02, betas=(0.85, 0.995)), 1.0),
    "adamw_maximize": ("AdamW", dict(lr=0.01, maximize=True, amsgrad=True, weight_decay=0.02), dict(lr=0.003),
                       dict(lr=0.02), -1.0),
    "sgd_momentum": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
                     dict(lr=0.02, momentum=0.5), dict(lr=0.03), 1.0),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.001), dict(lr=0.02),
                     dict(lr=0.03, momentum=0.6), 1.0),
    "sgd_maximize": ("SGD", dict(lr=0.05, maximize=True, weight_decay=0.01), dict(lr=0.02),
                     dict(lr=0.03, momentum=0.7), -1.0),
}


def initial(pid, shape):
    n = 1
    for d in shape:
        n *= d
    return torch.tensor([((7 * i + 5 * pid + 3) % 19 - 9) * 0.1 for i in range(n)],
                        dtype=torch.float64).reshape(shape).float()


def target(pid, n):
    return torch.tensor([((5 * i + 3 * pid + 1) % 11 - 5) * 0.2 for i in range(n)], dtype=torch.float64)


def shift(pid, k, n):
    return torch.tensor([((13 * i + 7 * k + 11 * pid) % 17 - 8) * 0.01 for i in range(n)], dtype=torch.float64)


def no_grad(pid, k):
    if pid == 1:
        return k % 3 == 1
    if pid == 3:
        return k <= 4 or k % 5 == 0
    if pid == 4:
        return k % 4 == 2
    return False


def trajectory(cfg, out):
    kind, defaults, g1, g2, sign = CONFIGS[cfg]
    params = {name: initial(pid, shape).requires_grad_() for name, shape, pid, _ in PARAMS}
    cls = getattr(torch.optim, kind)
    opt = cls([{"params": [params["a.weight"], params["a.bias"]]},
               dict(params=[params["b.weight"], params["b.bias"]], **g1)], **defaults)
    for k in range(1, STEPS + 1):
        if k == ADD_AFTER + 1:
            opt.add_param_group(dict(params=[params["c.weight"]], **g2))
        for name, shape, pid, group in PARAMS:
            if group == 2 and k <= ADD_AFTER:
                continue
            p = params[name]
            if no_grad(pid, k):
                p.grad = None
                continue
            n = p.numel()
            g = sign * 2.0 * (p.detach().double().reshape(-1) - target(pid, n)) + shift(pid, k, n)
            p.grad = g.float().reshape(p.shape)
        opt.step()
        if k in RECORD:
            for name, shape, pid, group in PARAMS:
                if group == 2 and k <= ADD_AFTER:
                    continue
                out[f"{cfg}.{name}.step{k}"] = params[name].detach().clone()
    for name, p in params.items():
        st = opt.state.get(p, {})
        for key, value in st.items():
            if key == "step":
                out[f"{cfg}.{name}.step"] = torch.tensor([int(value.item())], dtype=torch.int64)
            elif value is not None:
                out[f"{cfg}.{name}.{key}"] = value.detach().clone()


def lr_sequence(make_sched, lrs, epochs, metrics=None):
    ps = [torch.zeros(1, requires_grad=True) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(ps, lrs)], lr=1.0)
    sched = make_sched(opt)
    rows = []
    for e in range(epochs):
        if metrics is None:
            if e > 0:
                opt.step()
                sched.step()
            rows.append(list(sched.get_last_lr()))
        else:
            opt.step()
            sched.step(metrics[e])
            rows.append([g["lr"] for g in opt.param_groups])
    return torch.tensor(rows, dtype=torch.float64)


def plateau_metrics(epochs, mode):
    m = [1.0 / (1 + e) + 0.05 * ((7 * e) % 5) for e in range(epochs)]
    return m if mode == "min" else [1.0 - v for v in m]


def schedules(out):
    S = torch.optim.lr_scheduler
    out["sched.step_lr"] = lr_sequence(lambda o: S.StepLR(o, step_size=7, gamma=0.1), [0.1, 0.01], 21)
    out["sched.multistep"] = lr_sequence(lambda o: S.MultiStepLR(o, milestones=[3, 8, 8, 12], gamma=0.5),
                                         [0.1, 0.05], 20)
    out["sched.cosine"] = lr_sequence(lambda o: S.CosineAnnealingLR(o, T_max=6, eta_min=0.001), [0.1, 0.02], 30)
    m = plateau_metrics(30, "min")
    out["sched.plateau_min.metrics"] = torch.tensor(m, dtype=torch.float64)
    out["sched.plateau_min"] = lr_sequence(
        lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=2, threshold=0.1, threshold_mode="rel",
                                      cooldown=1, min_lr=[0.01, 0.004]), [0.1, 0.02], 30, m)
    m = plateau_metrics(30, "max")
    out["sched.plateau_max_abs.metrics"] = torch.tensor(m, dtype=torch.float64)
    out["sched.plateau_max_abs"] = lr_sequence(
        lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.3, patience=1, threshold=0.05, threshold_mode="abs",
                                      cooldown=2, min_lr=1e-3), [0.1, 0.02], 30, m)


if __name__ == "__main__":
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data")
    torch.set_num_threads(1)
    out = {}
    for cfg in CONFIGS:
        trajectory(cfg, out)
    schedules(out)
    save(os.path.join(out_dir, "optim_golden.safetensors"), out)
