#!/usr/bin/python3
"""make_transform_golden.py: writes tests/golden/transforms_golden.txt, the pixels torchvision 0.14
produces on PIL images for the deterministic ops of data/transforms.h, for tests/data/transforms_golden_test.cpp.

Needs torchvision and Pillow (Debian's python3-torchvision; /usr/bin/python3 here):

    /usr/bin/python3 scripts/golden/make_transform_golden.py [output path]

File format, one record a line (values separated by spaces):
    image NAME H W C v...                 an input image, HWC uint8 (C = 3 RGB or 1 L)
    case OP INPUT NPARAMS p... H W C v... OP(INPUT, p...) as uint8 HWC
    tensor OP INPUT NPARAMS p... C H W v... OP(INPUT, p...) as float32 CHW (repr, round-trips)
    digest OP INPUT NPARAMS p... H W C X    OP(INPUT, p...)'s bytes hashed: X = FNV-1a 64, hex
The digest records run on "cube", a 64x64 RGB image holding all 16^3 colours with levels in
steps of 17 (not stored: the test builds it from the formula in make_cube), so the colour ops are
checked on every hue, saturation and value region without a large file.
OPs: resize (h, w), resize_shorter (size), center_crop (h, w), resized_crop (top, left, h, w,
out_h, out_w), rotate (degrees), hflip, vflip, grayscale (channels out), brightness, contrast,
saturation, hue (factor), normalize (ToTensor then Normalize with the ImageNet mean and std).
"""
import os
import sys

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def make_inputs():
    rng = np.random.RandomState(6)
    noise = rng.randint(0, 256, size=(13, 17, 3), dtype=np.uint8)
    # A smooth colourful image with mild noise: hue/contrast see realistic colours, not only noise.
    y, x = np.mgrid[0:24, 0:20].astype(np.float64)
    smooth = np.stack([128 + 120 * np.sin(x / 4.0), 128 + 100 * np.cos(y / 5.0), 255 * (x + y) / 42.0], axis=2)
    smooth = np.clip(smooth + rng.normal(0, 6, smooth.shape), 0, 255).round().astype(np.uint8)
    wide = rng.randint(0, 256, size=(32, 48, 3), dtype=np.uint8)
    gray = rng.randint(0, 256, size=(9, 11), dtype=np.uint8)
    return {
        "noise": Image.fromarray(noise, "RGB"),
        "smooth": Image.fromarray(smooth, "RGB"),
        "wide": Image.fromarray(wide, "RGB"),
        "gray": Image.fromarray(gray, "L"),
    }


def make_cube():
    y, x = np.mgrid[0:64, 0:64]
    rgb = np.stack([17 * (x % 16), 17 * (y % 16), 17 * (x // 16 + 4 * (y // 16))], axis=2)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


DIGESTS = [
    ("hue", [0.1]), ("hue", [-0.1]), ("hue", [0.05]), ("hue", [-0.05]), ("hue", [0.5]), ("hue", [-0.37]),
    ("hue", [0.0]), ("contrast", [0.9]), ("contrast", [1.1]), ("saturation", [0.9]), ("saturation", [1.1]),
    ("brightness", [0.8]), ("brightness", [1.2]), ("grayscale", [3]), ("rotate", [45.0]), ("rotate", [-33.3]),
    ("resize", [224, 224]), ("resize", [17, 23]), ("resize", [40, 64]), ("center_crop", [51, 51]),
    ("resized_crop", [3, 9, 50, 41, 32, 32]),
]


def hwc(img):
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[:, :, None]
    return a


CASES = [
    # resize: downscale (antialiased), upscale, one axis only, identity
    ("resize", "noise", [5, 7]), ("resize", "noise", [30, 40]), ("resize", "noise", [6, 17]),
    ("resize", "noise", [13, 5]), ("resize", "noise", [13, 17]), ("resize", "wide", [7, 10]),
    ("resize", "wide", [3, 2]), ("resize", "smooth", [17, 13]), ("resize", "gray", [4, 6]),
    ("resize_shorter", "smooth", [10]), ("resize_shorter", "noise", [30]), ("resize_shorter", "wide", [11]),
    ("center_crop", "noise", [8, 8]), ("center_crop", "noise", [6, 9]), ("center_crop", "noise", [30, 30]),
    ("center_crop", "noise", [16, 20]), ("center_crop", "noise", [10, 20]), ("center_crop", "smooth", [20, 20]),
    ("resized_crop", "noise", [2, 3, 9, 11, 7, 7]), ("resized_crop", "wide", [5, 1, 20, 30, 12, 12]),
    ("resized_crop", "smooth", [0, 0, 24, 20, 40, 40]), ("resized_crop", "wide", [30, 40, 10, 10, 6, 6]),
    ("rotate", "noise", [30.0]), ("rotate", "noise", [-45.0]), ("rotate", "noise", [90.0]),
    ("rotate", "noise", [180.0]), ("rotate", "noise", [270.0]), ("rotate", "noise", [12.5]),
    ("rotate", "noise", [-170.3]), ("rotate", "noise", [359.9]), ("rotate", "noise", [0.0]),
    ("rotate", "smooth", [37.25]), ("rotate", "wide", [-20.0]), ("rotate", "gray", [45.0]),
    ("rotate", "gray", [-90.0]), ("rotate", "wide", [90.0]),
    ("hflip", "noise", []), ("vflip", "noise", []),
    ("grayscale", "noise", [3]), ("grayscale", "smooth", [1]),
    ("brightness", "noise", [0.5]), ("brightness", "noise", [1.37]), ("brightness", "smooth", [0.8]),
    ("brightness", "smooth", [1.2]), ("brightness", "noise", [0.0]), ("brightness", "gray", [1.1]),
    ("contrast", "noise", [0.3]), ("contrast", "noise", [1.6]), ("contrast", "smooth", [0.9]),
    ("contrast", "smooth", [1.1]), ("contrast", "noise", [0.0]), ("contrast", "gray", [1.5]),
    ("saturation", "noise", [0.2]), ("saturation", "noise", [1.8]), ("saturation", "smooth", [0.9]),
    ("saturation", "smooth", [1.1]), ("saturation", "noise", [0.0]),
    ("hue", "noise", [0.1]), ("hue", "noise", [-0.1]), ("hue", "noise", [0.5]), ("hue", "noise", [-0.5]),
    ("hue", "smooth", [0.033]), ("hue", "smooth", [-0.27]), ("hue", "wide", [0.07]), ("hue", "gray", [0.2]),
    ("normalize", "noise", []), ("normalize", "gray", []),
]


def apply(op, img, p):
    if op == "resize":
        return F.resize(img, [p[0], p[1]])
    if op == "resize_shorter":
        return F.resize(img, p[0])
    if op == "center_crop":
        return F.center_crop(img, [p[0], p[1]])
    if op == "resized_crop":
        return F.resized_crop(img, p[0], p[1], p[2], p[3], [p[4], p[5]])
    if op == "rotate":
        return F.rotate(img, p[0], fill=0)
    if op == "hflip":
        return F.hflip(img)
    if op == "vflip":
        return F.vflip(img)
    if op == "grayscale":
        return F.rgb_to_grayscale(img, num_output_channels=p[0])
    if op == "brightness":
        return F.adjust_brightness(img, p[0])
    if op == "contrast":
        return F.adjust_contrast(img, p[0])
    if op == "saturation":
        return F.adjust_saturation(img, p[0])
    if op == "hue":
        return F.adjust_hue(img, p[0])
    if op == "normalize":
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if img.mode == "RGB" else ([0.5], [0.25])
        return F.normalize(F.to_tensor(img), mean, std)
    raise ValueError(op)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "data", "transforms_golden.txt")
    inputs = make_inputs()
    lines = [f"# written by scripts/golden/make_transform_golden.py (torchvision {torchvision.__version__}, "
             f"torch {torch.__version__}, Pillow {Image.__version__}); see that script for the format"]
    for name, img in inputs.items():
        a = hwc(img)
        lines.append(f"image {name} {a.shape[0]} {a.shape[1]} {a.shape[2]} " + " ".join(map(str, a.reshape(-1))))
    for op, src, params in CASES:
        res = apply(op, inputs[src], params)
        head = f"{op} {src} {len(params)} " + " ".join(repr(v) for v in params)
        if isinstance(res, torch.Tensor):
            t = res.numpy().astype(np.float32)
            vals = " ".join(repr(float(v)) for v in t.reshape(-1))
            lines.append(f"tensor {head} {t.shape[0]} {t.shape[1]} {t.shape[2]} {vals}")
        else:
            a = hwc(res)
            lines.append(f"case {head} {a.shape[0]} {a.shape[1]} {a.shape[2]} " + " ".join(map(str, a.reshape(-1))))
    cube = make_cube()
    for op, params in DIGESTS:
        a = hwc(apply(op, cube, params))
        head = f"{op} cube {len(params)} " + " ".join(repr(v) for v in params)
        lines.append(f"digest {head} {a.shape[0]} {a.shape[1]} {a.shape[2]} {fnv1a64(a.tobytes()):016x}")
    with open(out, "w") as f:
        f.write("\n".join(line.replace("  ", " ") for line in lines) + "\n")
    print(f"wrote {len(CASES)} cases to {out}")


if __name__ == "__main__":
    main()
