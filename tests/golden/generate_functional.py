#!/usr/bin/python3
"""Writes tests/golden/autograd/functional.json: PyTorch 1.13's torch.autograd.functional (vjp, jvp, jacobian,
hessian, vhp, hvp) on a few functions that tests/core/functional_test.cpp defines the same way by name.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_functional.py
"""

import json
import os

import torch
from torch.autograd import functional as AF

from generate import encode_tensor, randn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "autograd", "functional.json")

# name -> (function of a tuple of inputs returning a tuple of outputs, input shapes, scalar?)
FUNCTIONS = {
    "cube_sum": (lambda x: ((x ** 3).sum(),), [(3,)], True),
    "tanh_layer": (lambda x, w: (torch.tanh(w @ x),), [(3,), (2, 3)], False),
    "two_outputs": (lambda x, y: (x * y, x.sin() + y.exp()), [(2, 2), (2, 2)], False),
    "quadratic": (lambda x, y: ((x * y.pow(2)).sum() + (x * x).sum(),), [(2,), (2,)], True),
    "ignores_y": (lambda x, y: (x * 2,), [(3,), (2,)], False),
}


def enc(ts):
    return [encode_tensor(t) for t in ts]


def cases():
    out = []
    for name, (fn, shapes, scalar) in FUNCTIONS.items():
        inputs = tuple(randn(*s) for s in shapes)
        outputs = fn(*inputs)
        v_out = tuple(randn(*o.shape) for o in outputs)
        v_in = tuple(randn(*s) for s in shapes)
        case = {"name": name, "inputs": enc(inputs), "outputs": enc(outputs), "v_out": enc(v_out), "v_in": enc(v_in)}
        case["vjp"] = enc(AF.vjp(lambda *a: fn(*a), inputs, v_out)[1])
        case["jvp"] = enc(AF.jvp(lambda *a: fn(*a), inputs, v_in)[1])
        jac = AF.jacobian(lambda *a: fn(*a), inputs)
        case["jacobian"] = [enc(row) for row in jac]
        if scalar:
            f1 = lambda *a: fn(*a)[0]
            case["hessian"] = [enc(row) for row in AF.hessian(f1, inputs)]
            case["vhp"] = enc(AF.vhp(f1, inputs, v_in)[1])
            case["hvp"] = enc(AF.hvp(f1, inputs, v_in)[1])
        out.append(case)
    return out


def main():
    torch.manual_seed(20261127)
    data = {"generator": "tests/golden/generate_functional.py", "torch_version": torch.__version__, "cases": cases()}
    with open(OUT, "w") as f:
        json.dump(data, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print(f"wrote {len(data['cases'])} cases to {OUT}")


if __name__ == "__main__":
    main()
