#!/usr/bin/python3
"""Writes tests/golden/modules/reference.safetensors: a file in the safetensors layout (8-byte little-endian
header length, JSON header, raw little-endian data) made with PyTorch 1.13's tensors and Python's own struct
and json, independently of tensord's writer, with a state_dict of the reference CNN's first conv layer and
tensors of other dtypes. tests/core/serialize_test.cpp reads it and checks the values listed in its
"__metadata__".

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_safetensors.py
"""
import json
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "modules", "reference.safetensors")
NAMES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.uint8: "U8", torch.bool: "BOOL",
         torch.float16: "F16", torch.int32: "I32"}


def main():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 4, 3)
    tensors = dict(conv.state_dict())
    tensors["counts"] = torch.arange(6, dtype=torch.int64).reshape(2, 3) - 2
    tensors["mask"] = torch.tensor([True, False, True])
    tensors["pixels"] = torch.tensor([[0, 255], [7, 128]], dtype=torch.uint8)
    tensors["half"] = torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16)
    tensors["scalar"] = torch.tensor(3.25, dtype=torch.float64)
    tensors["empty"] = torch.zeros(0, 4, dtype=torch.int32)
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt", "weight_sum": repr(float(conv.weight.double().sum())),
                              "bias_0": repr(float(conv.bias[0]))}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(OUT, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    print(f"wrote {OUT}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
