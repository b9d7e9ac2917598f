#!/usr/bin/python3
"""Writes tests/golden/activation.json: PyTorch 1.13's values and gradients for the activation functions of
core/ops/activation.cpp (aten's leaky_relu, elu, selu, celu, gelu, silu, mish, hardtanh, relu6, hardswish,
hardsigmoid, softplus, softsign, threshold, glu, prelu, log_sigmoid, tanhshrink, softshrink, hardshrink, rrelu
in eval mode, and dropout with p = 0 or train = False). Inputs avoid the points where a piece starts (there
PyTorch's backward kernels pick one side by convention), except in the cases named *_at_bounds.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_activation.py
"""

import os

import torch

from generate import F32, F64, make_case, randn, transposed, write_fixture
from generate_shape import shape_case

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "activation.json")
F = torch.nn.functional


def wide(*shape, dtype=F64):
    """Values spread over (-6, 6), reaching every piece of the piecewise functions."""
    return randn(*shape).mul(3).mul(100).round().div(100).to(dtype)


def cases():
    c = []
    add = c.append
    for dtype, tag in ((F64, "f64"), (F32, "f32")):
        x = wide(3, 4, dtype=dtype)
        add(make_case(f"leaky_relu_{tag}", "leaky_relu", [x], negative_slope=0.2))
        add(make_case(f"elu_{tag}", "elu", [x], alpha=1.5, scale=1.0, input_scale=1.0))
        add(make_case(f"selu_{tag}", "selu", [x]))
        if dtype == F32:
            # PyTorch 1.13's float64 celu and hardsigmoid gradients carry float32 roundings (hardsigmoid's
            # kernel multiplies by the float literal 1.0f / 6.0f), ~1e-8 off the exact value tensord gives:
            # float32 cases only; tests/core/activation_test.cpp gradchecks them in float64.
            add(make_case(f"celu_{tag}", "celu", [x], alpha=0.7))
            add(make_case(f"hardsigmoid_{tag}", "hardsigmoid", [x]))
        add(make_case(f"gelu_{tag}", "gelu", [x]))
        add(make_case(f"gelu_tanh_{tag}", "gelu", [x], approximate="tanh"))
        add(make_case(f"silu_{tag}", "silu", [x]))
        add(make_case(f"mish_{tag}", "mish", [x]))
        add(make_case(f"hardtanh_{tag}", "hardtanh", [x], min_val=-2.0, max_val=1.5))
        add(make_case(f"relu6_{tag}", "relu6", [x]))
        add(make_case(f"hardswish_{tag}", "hardswish", [x]))
        add(make_case(f"softplus_{tag}", "softplus", [x], beta=2.0, threshold=5.0))
        add(shape_case(f"softsign_{tag}", "softsign", [x], torch_call=lambda a: F.softsign(a[0])))
        add(make_case(f"threshold_{tag}", "threshold", [x], threshold=0.5, value=-3.0))
        add(make_case(f"log_sigmoid_{tag}", "log_sigmoid", [x]))
        add(make_case(f"softshrink_{tag}", "softshrink", [x], lambd=0.8))
        add(make_case(f"hardshrink_{tag}", "hardshrink", [x], lambd=0.8))
        add(make_case(f"rrelu_eval_{tag}", "rrelu", [x], lower=0.1, upper=0.3, training=False))
    add(shape_case("tanhshrink_f64", "tanhshrink", [wide(5)], torch_call=lambda a: F.tanhshrink(a[0])))
    add(make_case("leaky_relu_transposed", "leaky_relu", [transposed(wide(2, 3))]))
    add(make_case("elu_extremes", "elu", [torch.tensor([-800.0, -1.0, 0.5, 800.0], dtype=F64)]))
    add(make_case("softplus_large", "softplus", [torch.tensor([-100.0, -3.0, 0.0, 19.0, 21.0, 100.0], dtype=F64)]))
    add(make_case("log_sigmoid_extremes", "log_sigmoid", [torch.tensor([-800.0, -2.0, 0.0, 3.0, 800.0], dtype=F64)]))
    add(make_case("mish_extremes", "mish", [torch.tensor([-50.0, -1.0, 0.0, 1.0, 50.0], dtype=F64)]))
    add(make_case("hardtanh_at_bounds", "hardtanh", [torch.tensor([-1.0, -0.5, 0.0, 1.0, 2.0], dtype=F64)]))
    add(make_case("leaky_relu_at_zero", "leaky_relu", [torch.tensor([-1.0, 0.0, 1.0], dtype=F64)], negative_slope=0.1))
    add(make_case("glu_last_dim", "glu", [wide(3, 4)]))
    add(make_case("glu_dim0", "glu", [wide(4, 3)], dim=0))
    add(make_case("prelu_per_channel", "prelu", [wide(2, 3, 4), torch.tensor([0.1, 0.2, 0.3], dtype=F64)]))
    add(make_case("prelu_shared", "prelu", [wide(2, 3), torch.tensor([0.25], dtype=F64)]))
    add(shape_case("dropout_eval", "dropout", [wide(3, 4)], p=0.5, train=False,
                   torch_call=lambda a: F.dropout(a[0], 0.5, False)))
    for op, fn in (("feature_dropout", F.dropout2d), ("alpha_dropout", F.alpha_dropout),
                   ("feature_alpha_dropout", F.feature_alpha_dropout)):
        add(shape_case(f"{op}_eval", op, [wide(2, 3, 4)], p=0.5, train=False,
                       torch_call=lambda a, fn=fn: fn(a[0], 0.5, False)))
    add(shape_case("dropout_p0", "dropout", [wide(3, 4)], p=0.0, train=True,
                   torch_call=lambda a: F.dropout(a[0], 0.0, True)))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_activation.py", 20261127, cases)


if __name__ == "__main__":
    main()
