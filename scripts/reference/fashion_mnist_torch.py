#!/usr/bin/python3
"""fashion_mnist_torch.py: the PyTorch 1.13 reference for the README's Fashion-MNIST recipe,
the same as `flowers train --data /usr/share/datasets/fashion-mnist --arch resnet18 --image-size 32
--epochs 2 --batch-size 128 --lr 1e-3 --mode finetune`: torchvision's ResNet-18 from scratch with
the head Sequential(Linear(512, 10), LogSoftmax(1)) and NLLLoss, Adam lr 1e-3, StepLR(7, 0.1),
images resized to 32 px, gray replicated to RGB, ImageNet normalisation, shuffled batches of 128.
Prints per-epoch train/test accuracy and images per second. Needs Debian's python3-torch and
python3-torchvision (run with /usr/bin/python3).

  /usr/bin/python3 scripts/reference/fashion_mnist_torch.py [--threads 2] [--seed 0]
"""
import argparse, gzip, struct, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

ROOT = "/usr/share/datasets/fashion-mnist"
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def prepare(images):
    # uint8 [N, 28, 28] -> normalised float [N, 3, 32, 32] (bilinear resize, as Resize(32) does)
    x = torch.from_numpy(images.copy()).float().div_(255).unsqueeze(1)
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
    return (x.expand(-1, 3, -1, -1) - MEAN) / STD


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr = prepare(read_idx(f"{ROOT}/train-images-idx3-ubyte.gz"))
    ytr = torch.from_numpy(read_idx(f"{ROOT}/train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = prepare(read_idx(f"{ROOT}/t10k-images-idx3-ubyte.gz"))
    yte = torch.from_numpy(read_idx(f"{ROOT}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model = torchvision.models.resnet18()
    model.fc = nn.Sequential(nn.Linear(512, 10), nn.LogSoftmax(dim=1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.1)
    loss_fn = nn.NLLLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.time()
        order = torch.randperm(len(ytr))
        correct = total = 0
        for i in range(0, len(order), 128):
            idx = order[i:i + 128]
            out = model(xtr[idx])
            loss = loss_fn(out, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            correct += (out.argmax(1) == ytr[idx]).sum().item()
            total += len(idx)
        seconds = time.time() - start
        sched.step()
        model.eval()
        with torch.no_grad():
            test_correct = sum((model(xte[i:i + 500]).argmax(1) == yte[i:i + 500]).sum().item()
                               for i in range(0, len(yte), 500))
        print(f"epoch {epoch}: train acc {correct / total:.4f}, test acc {test_correct / len(yte):.4f}, "
              f"{total / seconds:.0f} img/s ({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
