#!/usr/bin/python3
"""make_resnet_golden.py: golden values from PyTorch/torchvision for tests/layers.

Writes small safetensors files to tests/golden/ (the tests read them and never need torch):
  resnet18_golden.safetensors     torchvision resnet18 with the flowers tutorial head
                                  fc = Sequential(Linear(512, 5), LogSoftmax(1)): eval-mode
                                  log-probabilities of 2 images at 64x64, then, in train mode, the
                                  NLL loss and the gradients of selected parameters for targets [1, 3]
  blocks_golden.safetensors       a BasicBlock (with downsample, stride 2) and a Bottleneck
                                  (with downsample), train mode: outputs and input/weight gradients
The weights and images are not stored: both sides compute them from a formula (weights_for below,
mirrored by tests/layers/golden_weights.h), so the files stay small while every parameter of the
network is exercised. Run with Debian's python3-torch and python3-torchvision:

    /usr/bin/python3 scripts/golden/make_resnet_golden.py
"""
import math
import os
import sys

import torch

from golden_io import save
import torchvision

MASK64 = (1 << 64) - 1


def fnv1a(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


def formula_ints(name, n):
    """n integers in [-1000, 1000] from the tensor's name (a splitmix-style hash per element)."""
    base = fnv1a(name)
    out = []
    for i in range(n):
        h = (base ^ ((i * 0x9E3779B97F4A7C15) & MASK64)) & MASK64
        h ^= h >> 29
        h = (h * 0xBF58476D1CE4E5B9) & MASK64
        h ^= h >> 32
        out.append(h % 2001 - 1000)
    return out


def weights_for(name, shape):
    """The value of every element of parameter/buffer `name` (float64, rounded to float32 later)."""
    n = math.prod(shape)
    ints = formula_ints(name, n)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return torch.zeros(shape, dtype=torch.int64)
    if leaf == "running_var":
        vals = [1.0 + abs(v) * 0.001 * 0.5 for v in ints]          # in [1, 1.5]
    elif leaf in ("running_mean", "bias"):
        vals = [v * 0.001 * 0.1 for v in ints]                      # in [-0.1, 0.1]
    elif len(shape) == 1:                                            # BatchNorm weight
        vals = [1.0 + v * 0.001 * 0.1 for v in ints]                # in [0.9, 1.1]
    else:                                                            # conv / linear weight
        fan_in = math.prod(shape[1:])
        bound = math.sqrt(6.0 / fan_in)                              # He-uniform scale
        vals = [v * 0.001 * bound for v in ints]
    return torch.tensor(vals, dtype=torch.float64).reshape(shape).to(torch.float32)


def images_for(name, shape):
    ints = formula_ints(name, math.prod(shape))
    return torch.tensor([v * 0.002 for v in ints], dtype=torch.float64).reshape(shape).to(torch.float32)


def fill_module(module):
    with torch.no_grad():
        for name, t in module.state_dict().items():
            t.copy_(weights_for(name, list(t.shape)))


def resnet_golden(out_dir):
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    model.fc = torch.nn.Sequential(torch.nn.Linear(512, 5), torch.nn.LogSoftmax(dim=1))
    fill_module(model)
    images = images_for("images", [2, 3, 64, 64])
    target = torch.tensor([1, 3])
    model.eval()
    with torch.no_grad():
        eval_logp = model(images)
    model.train()
    logp = model(images)
    loss = torch.nn.functional.nll_loss(logp, target)
    loss.backward()
    out = {"images": images, "target": target, "eval_log_probs": eval_logp, "train_log_probs": logp.detach(),
           "loss": loss.detach().reshape(1)}
    for name in ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
                 "layer3.1.bn2.weight", "layer4.1.bn2.weight", "fc.0.weight", "fc.0.bias"]:
        out["grad." + name] = dict(model.named_parameters())[name].grad
    # running statistics after one training-mode forward (momentum 0.1, unbiased variance)
    for name in ["bn1.running_mean", "bn1.running_var", "layer4.1.bn2.running_var", "bn1.num_batches_tracked"]:
        out["after." + name] = model.state_dict()[name]
    save(os.path.join(out_dir, "resnet18_golden.safetensors"), out)


def blocks_golden(out_dir):
    from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1
    out = {}
    cases = {
        "basic": (BasicBlock(16, 32, stride=2, downsample=torch.nn.Sequential(conv1x1(16, 32, 2), torch.nn.BatchNorm2d(32))), [2, 16, 9, 9]),
        "bottleneck": (Bottleneck(32, 16, stride=2, downsample=torch.nn.Sequential(conv1x1(32, 64, 2), torch.nn.BatchNorm2d(64))), [2, 32, 8, 8]),
    }
    for key, (block, shape) in cases.items():
        fill_module(block)
        block.train()
        x = images_for(key + ".input", shape).requires_grad_()
        y = block(x)
        upstream = images_for(key + ".upstream", list(y.shape))
        (y * upstream).sum().backward()
        out[key + ".input"] = x.detach()
        out[key + ".output"] = y.detach()
        out[key + ".grad_input"] = x.grad
        for name, p in block.named_parameters():
            out[key + ".grad." + name] = p.grad
    save(os.path.join(out_dir, "blocks_golden.safetensors"), out)


if __name__ == "__main__":
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data")
    torch.set_num_threads(1)
    resnet_golden(out_dir)
    blocks_golden(out_dir)
