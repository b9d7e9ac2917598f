#!/usr/bin/python3
"""Writes tests/golden/inplace.json: PyTorch 1.13's results for in-place ops (add_, mul_, exp_, fill_, copy_, ...)
and the composites addcmul/addcdiv.

Each in-place case writes into a clone of its first leaf (layout "clone"), as `x.clone().add_(y)` in PyTorch:
the output is that clone, and the gradients of the leaves flow through the rebased history.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_inplace.py
"""

import os

import torch

from generate import F32, F64, I64, ints, make_case, nonzero, positive, randn, unit, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "inplace.json")


def cloned(t):
    """t, received by the in-place op as t.clone(): a non-leaf it may write into."""
    return (t, {"op": "clone", "kwargs": {}})


def cases():
    c = []
    add = c.append
    add(make_case("add__broadcast_other", "add_", [cloned(randn(2, 3)), randn(3)], alpha=0.5))
    add(make_case("add__f32_number", "add_", [cloned(randn(4, dtype=F32)), randn(dtype=F64)]))
    add(make_case("add__i64", "add_", [cloned(ints(5)), ints(5)], alpha=2))
    add(make_case("sub__f64", "sub_", [cloned(randn(3, 2)), randn(3, 2)]))
    add(make_case("mul__other_needs_original_self", "mul_", [cloned(randn(2, 3)), randn(2, 3)]))
    add(make_case("mul__f32_by_f64_0dim", "mul_", [cloned(randn(3, dtype=F32)), randn()]))
    add(make_case("div__f64", "div_", [cloned(randn(2, 2)), nonzero(2, 2)]))
    add(make_case("pow__f64", "pow_", [cloned(positive(5)), randn(5)]))
    add(make_case("clamp__f64", "clamp_", [cloned(randn(6))], min=-0.5, max=0.5))
    add(make_case("exp__f64", "exp_", [cloned(randn(2, 3))]))
    add(make_case("sigmoid__f32", "sigmoid_", [cloned(randn(4, dtype=F32))]))
    add(make_case("tanh__f64", "tanh_", [cloned(unit(4))]))
    add(make_case("abs__i64", "abs_", [cloned(ints(6))]))
    add(make_case("eq__f64_gives_zero_grad", "eq_", [cloned(randn(4)), randn(4)]))
    add(make_case("masked_fill__f64", "masked_fill_", [cloned(randn(2, 3)), torch.tensor([True, False, True])], value=2.5))
    add(make_case("index_add__f64", "index_add_", [cloned(randn(4, 2)), torch.tensor([0, 2, 0]), randn(3, 2)], dim=0, alpha=2))
    add(make_case("scatter_add__f64", "scatter_add_", [cloned(randn(3)), torch.tensor([0, 0, 2, 1]), randn(4)], dim=0))
    add(make_case("addcmul__f64", "addcmul_", [cloned(randn(2, 3)), randn(2, 3), randn(3)], value=0.25))
    add(make_case("addcdiv__f64", "addcdiv_", [cloned(randn(3)), randn(3), nonzero(3)], value=-2))
    add(make_case("addcmul_f64_broadcast", "addcmul", [randn(2, 1), randn(1, 3), randn(2, 3)], value=3))
    add(make_case("addcmul_f32_default_value", "addcmul", [randn(4, dtype=F32), randn(4, dtype=F32), randn(4, dtype=F32)]))
    add(make_case("addcdiv_f64_broadcast", "addcdiv", [randn(3), randn(2, 3), nonzero(2, 1)], value=0.5))
    add(make_case("fill__f64_number", "fill_", [cloned(randn(2, 2))], value=1.5))
    add(make_case("fill__i64_truncates", "fill_", [cloned(ints(3))], value=2.7))
    add(make_case("fill__f64_0dim_tensor_value", "fill_", [cloned(randn(3)), randn()]))
    add(make_case("zero__f64", "zero_", [cloned(randn(2, 3))]))
    add(make_case("copy__broadcast_and_cast", "copy_", [cloned(randn(2, 3)), randn(3, dtype=F32)]))
    add(make_case("copy__float_into_int", "copy_", [cloned(ints(4)), randn(4)]))
    add(make_case("lerp__f64_tensor_weight", "lerp_", [cloned(randn(3)), randn(3), unit(3)]))
    add(make_case("nan_to_num__f64", "nan_to_num_", [cloned(randn(4))], nan=0.0))
    add(make_case("scatter_reduce__amax", "scatter_reduce_", [cloned(randn(3)), torch.tensor([0, 2, 2]), randn(3)], dim=0, reduce="amax"))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_inplace.py", 20261126, cases)


if __name__ == "__main__":
    main()
