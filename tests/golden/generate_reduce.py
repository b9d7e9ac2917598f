#!/usr/bin/python3
"""Writes tests/golden/reduce.json: PyTorch 1.13's results for the reduction family (prod, max/min, amax/amin,
argmax/argmin, all/any, var/std, logsumexp, norm, cumsum/cumprod, softmax/log_softmax).

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_reduce.py
Cases use generate.py's helpers and format; golden_test.cpp reads every .json file in this folder.
"""

import os

import torch

from generate import F32, F64, bools, expanded, ints, make_case, randn, transposed, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "reduce.json")


def with_ties(*shape):
    """Values with repeated maxima and minima, so the tie rules of the backward are exercised."""
    return torch.randint(-2, 3, shape).to(F64)


def cases():
    c = []
    add = c.append

    add(make_case("prod_all_f64", "prod", [randn(2, 3)]))
    add(make_case("prod_all_with_one_zero", "prod", [torch.tensor([[1.5, 0.0], [2.0, -3.0]], dtype=F64)]))
    add(make_case("prod_all_with_two_zeros", "prod", [torch.tensor([0.0, 2.0, 0.0, 4.0], dtype=F64)]))
    add(make_case("prod_all_i64_gives_i64", "prod", [ints(5, lo=1, hi=4)]))
    add(make_case("prod_dim_f32", "prod.dim", [randn(3, 4, dtype=F32)], dim=1))
    add(make_case("prod_dim_keepdim_zeros", "prod.dim", [torch.tensor([[0.0, 2.0], [3.0, 4.0], [0.0, 0.0]], dtype=F64)], dim=1, keepdim=True))
    add(make_case("prod_dim_transposed", "prod.dim", [transposed(randn(3, 2))], dim=0))

    for op in ["max", "min"]:
        add(make_case(f"{op}_all_f64", op, [randn(3, 4)]))
        add(make_case(f"{op}_all_ties", op, [with_ties(3, 4)]))
        add(make_case(f"{op}_all_i64", op, [ints(6)]))
        add(make_case(f"{op}_dim_f64", f"{op}.dim", [randn(3, 4)], dim=1))
        add(make_case(f"{op}_dim_keepdim_f32", f"{op}.dim", [randn(2, 3, 4, dtype=F32)], dim=0, keepdim=True))
        add(make_case(f"{op}_dim_negative_transposed", f"{op}.dim", [transposed(randn(3, 4))], dim=-1))
        add(make_case(f"{op}_dim_ties_first_index", f"{op}.dim", [with_ties(4, 5)], dim=1))
        add(make_case(f"{op}_dim_i64", f"{op}.dim", [ints(3, 4)], dim=0))
    for op in ["amax", "amin"]:
        add(make_case(f"{op}_dims_f64", op, [randn(2, 3, 4)], dim=[0, 2]))
        add(make_case(f"{op}_all_ties", op, [with_ties(3, 4)]))
        add(make_case(f"{op}_dim_keepdim_ties", op, [with_ties(3, 4)], dim=[1], keepdim=True))
        add(make_case(f"{op}_expanded", op, [expanded(randn(3, 1), [3, 4])], dim=[1]))
    for op in ["argmax", "argmin"]:
        add(make_case(f"{op}_flat", op, [randn(3, 4)]))
        add(make_case(f"{op}_dim", op, [with_ties(3, 4)], dim=1))
        add(make_case(f"{op}_dim_keepdim", op, [randn(2, 3, dtype=F32)], dim=0, keepdim=True))
        add(make_case(f"{op}_flat_keepdim", op, [randn(2, 3)], keepdim=True))

    add(make_case("all_bool", "all", [bools(6)]))
    add(make_case("all_f64", "all", [torch.tensor([1.0, 2.0, 0.5])]))
    add(make_case("any_i64", "any", [torch.tensor([0, 0, 3])]))
    add(make_case("any_f32_none", "any", [torch.zeros(4, dtype=F32)]))
    add(make_case("all_dim_keepdim", "all.dim", [bools(3, 4)], dim=1, keepdim=True))
    add(make_case("any_dim_f64", "any.dim", [torch.tensor([[0.0, 1.0], [0.0, 0.0]])], dim=0))

    add(make_case("var_all_f64", "var", [randn(3, 4)]))
    add(make_case("var_dim_f32", "var", [randn(3, 4, dtype=F32)], dim=[1]))
    add(make_case("var_dims_keepdim_correction0", "var", [randn(2, 3, 4)], dim=[0, 2], correction=0, keepdim=True))
    add(make_case("var_correction2", "var", [randn(5)], dim=None, correction=2))
    add(make_case("var_transposed", "var", [transposed(randn(3, 4))], dim=[0]))
    add(make_case("std_all_f64", "std", [randn(3, 4)]))
    add(make_case("std_dim_f32", "std", [randn(4, 3, dtype=F32)], dim=[0]))
    add(make_case("std_dims_correction0", "std", [randn(2, 3, 4)], dim=[1, 2], correction=0))

    add(make_case("logsumexp_dim_f64", "logsumexp", [randn(3, 4)], dim=[1]))
    add(make_case("logsumexp_dims_keepdim", "logsumexp", [randn(2, 3, 4).mul(10)], dim=[0, 2], keepdim=True))
    add(make_case("logsumexp_large_values", "logsumexp", [torch.tensor([[1000.0, 1000.5], [-1000.0, -999.0]], dtype=F64)], dim=[1]))
    add(make_case("logsumexp_i64_gives_f32", "logsumexp", [ints(2, 3)], dim=[1]))

    add(make_case("norm_2_all", "norm", [randn(3, 4)]))
    add(make_case("norm_2_dim", "norm", [randn(3, 4, dtype=F32)], p=2, dim=[1]))
    add(make_case("norm_1_dim_keepdim", "norm", [randn(3, 4)], p=1, dim=[0], keepdim=True))
    add(make_case("norm_3_all", "norm", [randn(5)], p=3))

    add(make_case("cumsum_f64_dim1", "cumsum", [randn(3, 4)], dim=1))
    add(make_case("cumsum_f32_dim0_transposed", "cumsum", [transposed(randn(3, 4, dtype=F32))], dim=0))
    add(make_case("cumsum_i64_gives_i64", "cumsum", [ints(5)], dim=0))
    add(make_case("cumsum_bool", "cumsum", [bools(5)], dim=0))
    add(make_case("cumsum_dtype_f64", "cumsum", [randn(4, dtype=F32)], dim=-1, dtype=F64))
    add(make_case("cumprod_f64", "cumprod", [randn(2, 4)], dim=1))
    add(make_case("cumprod_i64", "cumprod", [ints(5, lo=1, hi=4)], dim=0))

    add(make_case("softmax_dim1", "softmax", [randn(3, 4)], dim=1))
    add(make_case("softmax_dim0_f32", "softmax", [randn(3, 4, dtype=F32)], dim=0))
    add(make_case("softmax_large_values", "softmax", [torch.tensor([[1000.0, 1001.0, 999.0]], dtype=F64)], dim=-1))
    add(make_case("softmax_i64_with_dtype", "softmax", [ints(2, 3)], dim=1, dtype=F64))
    add(make_case("log_softmax_dim1", "log_softmax", [randn(3, 4)], dim=1))
    add(make_case("log_softmax_transposed_f32", "log_softmax", [transposed(randn(3, 4, dtype=F32))], dim=0))
    add(make_case("log_softmax_large_values", "log_softmax", [torch.tensor([[-1000.0, 0.0, 1000.0]], dtype=F64)], dim=1))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_reduce.py", 20261126, cases)


if __name__ == "__main__":
    main()
