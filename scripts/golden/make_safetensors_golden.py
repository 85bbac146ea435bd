#!/usr/bin/python3
"""make_safetensors_golden.py: writes tests/golden/safetensors_golden.safetensors, a small file laid
out byte for byte like `safetensors.torch.save_file` writes it, for tests/checkpoint.

Uses only the Python standard library. When torch is importable (Debian's python3-torch in
/usr/bin/python3), the F16/BF16/I64/F32 bytes are also produced by torch and must match the
hand-packed ones; when the `safetensors` package is importable too, its save_file output must
match ours (the same bytes, or the same header JSON when a hash map reorders the metadata keys).

    /usr/bin/python3 scripts/golden/make_safetensors_golden.py [output path]

The values (and their bit patterns) are repeated in tests/checkpoint/safetensors_test.cpp.
"""
import json
import math
import os
import struct
import sys

INF = math.inf
NAN = math.nan

# name -> (safetensors dtype, shape, values). save_file sorts by dtype, widest alignment first
# (I64 > F32 > BF16 > F16 in safetensors' Dtype enum), then by name.
TENSORS = {
    "fc.weight": ("F32", [2, 3], [0.5, -1.25, 3.0, -0.0, 1024.75, 0.1]),
    "fc.bias": ("F32", [3], [1.0, -2.0, 0.25]),
    # 0x3C00 0xC000 0x7BFF(max) 0x0001(2^-24) 0x03FF(largest subnormal) 0x0400(2^-14) 0x7C00 0x8000 0x7E00
    "half": ("F16", [3, 3], [1.0, -2.0, 65504.0, 2.0**-24, 1023 * 2.0**-24, 2.0**-14, INF, -0.0, NAN]),
    # 0x3F80 0xC060 0x0001(2^-133, subnormal) 0xFF80
    "brain": ("BF16", [2, 2], [1.0, -3.5, 2.0**-133, -INF]),
    "bn.num_batches_tracked": ("I64", [], [12345]),
    "ids": ("I64", [3], [-1, 2**40 + 3, -(2**62)]),
}
METADATA = {"format": "pt", "source": "sepal golden: caf\u00e9 \u273f"}
DTYPE_RANK = {"BOOL": 0, "U8": 1, "F16": 2, "BF16": 3, "F32": 4, "F64": 5, "I64": 6}
ITEMSIZE = {"BOOL": 1, "U8": 1, "F16": 2, "BF16": 2, "F32": 4, "F64": 8, "I64": 8}


def bf16_bytes(v):
    """BF16 by truncating the float32 bits; exact because every value above is representable."""
    (bits,) = struct.unpack("<I", struct.pack("<f", v))
    if not math.isnan(v):
        assert bits & 0xFFFF == 0, f"{v} is not exactly representable in BF16"
    return struct.pack("<H", bits >> 16)


def pack_stdlib(dtype, values):
    if dtype == "F32":
        return struct.pack(f"<{len(values)}f", *values)
    if dtype == "F16":
        return struct.pack(f"<{len(values)}e", *values)
    if dtype == "BF16":
        return b"".join(bf16_bytes(v) for v in values)
    if dtype == "I64":
        return struct.pack(f"<{len(values)}q", *values)
    raise ValueError(dtype)


def pack_torch(torch, dtype, shape, values):
    tdtype = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}[dtype]
    t = torch.tensor(values, dtype=tdtype).reshape(shape)
    if dtype in ("F16", "BF16"):
        t = t.view(torch.int16)  # numpy has no bfloat16
    return t.contiguous().numpy().tobytes()


def serialize(buffers):
    order = sorted(TENSORS, key=lambda n: (-DTYPE_RANK[TENSORS[n][0]], n))
    header = {}
    if METADATA:
        header["__metadata__"] = METADATA
    offset = 0
    for name in order:
        dtype, shape, values = TENSORS[name]
        n = len(buffers[name])
        assert n == math.prod(shape) * ITEMSIZE[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(buffers[n] for n in order)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "data",
                                                             "safetensors_golden.safetensors")
    buffers = {n: pack_stdlib(d, v) for n, (d, _, v) in TENSORS.items()}
    try:
        import torch
    except ImportError:
        torch = None
        print("torch not found: bytes packed with the standard library only")
    if torch is not None:
        for name, (dtype, shape, values) in TENSORS.items():
            assert pack_torch(torch, dtype, shape, values) == buffers[name], f"torch disagrees on {name}"
        print(f"torch {torch.__version__} agrees on every tensor's bytes")
    data = serialize(buffers)

    try:
        from safetensors.torch import save_file
    except ImportError:
        save_file = None
    if torch is not None and save_file is not None:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            ref_path = os.path.join(tmp, "ref.safetensors")
            save_file({n: torch.tensor(v, dtype={"F32": torch.float32, "F16": torch.float16,
                                                 "BF16": torch.bfloat16, "I64": torch.int64}[d]).reshape(s)
                       for n, (d, s, v) in TENSORS.items()}, ref_path, metadata=METADATA)
            with open(ref_path, "rb") as f:
                ref = f.read()
        n = struct.unpack("<Q", ref[:8])[0]
        assert len(ref) == len(data) and ref[:8] == data[:8], "header length differs from save_file"
        assert json.loads(ref[8:8 + n]) == json.loads(data[8:8 + n]), "header differs from save_file"
        assert ref[8 + n:] == data[8 + n:], "data differs from save_file"
        print("safetensors.torch.save_file writes the same file" +
              (" byte for byte" if ref == data else " (metadata keys in another order)"))

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "wb") as f:
        f.write(data)
    print(f"wrote {out} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
