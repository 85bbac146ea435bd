"""golden_io.py: writing the golden files the C++ tests read: a minimal safetensors writer
(JSON header padded to 8 bytes, tensors back to back) shared by the make_*_golden.py scripts."""
import json
import os
import struct

import torch

DTYPE_CODES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def save(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        t = t.detach().contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPE_CODES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(tensors)} tensors)")
