#!/usr/bin/python3
"""Writes tests/golden/composite.json: PyTorch 1.13's results for the composite ops of core/ops/composite.cpp
(isclose, allclose, equal, clamp_min/max, square, float_power, true_divide, positive, sgn, hypot, logaddexp,
xlogy, broadcast_to, broadcast_tensors, meshgrid, swapaxes, swapdims, ravel, trace, diff, cross, var_mean,
std_mean, aminmax, nansum, nanmean, count_nonzero, take_along_dim, bucketize, searchsorted, bincount,
index_fill, index_copy, tril_indices, triu_indices).

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_composite.py
"""

import math
import os

import torch

from generate import F32, F64, I64, ints, make_case, nonzero, positive, randn, transposed, write_fixture
from generate_shape import shape_case

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "composite.json")


def t(*values, dtype=F64):
    return torch.tensor(values, dtype=dtype)


def cases():
    c = []
    add = c.append
    a = randn(6)
    b = a + t(0, 1e-9, 1e-3, -1e-6, 2.0, 0)
    add(make_case("isclose_defaults", "isclose", [a, b]))
    add(make_case("isclose_inf_nan", "isclose", [t(math.inf, -math.inf, 1.0, 0.0), t(math.inf, math.inf, 1.0 + 1e-7, 1e-9)],
                  rtol=1e-3, atol=0.0))
    add(make_case("isclose_ints", "isclose", [ints(5), ints(5)], rtol=0.5, atol=1.0))
    add(shape_case("allclose_true", "allclose", [a, a + 1e-9], torch_call=lambda args: torch.tensor(torch.allclose(*args))))
    add(shape_case("allclose_false", "allclose", [a, b], torch_call=lambda args: torch.tensor(torch.allclose(*args))))
    add(shape_case("equal_same", "equal", [ints(2, 3).clone(), None] if False else [t(1, 2, 3), t(1, 2, 3)],
                   torch_call=lambda args: torch.tensor(torch.equal(*args))))
    add(shape_case("equal_other_shape", "equal", [t(1, 2, 3), t(1, 2)], torch_call=lambda args: torch.tensor(torch.equal(*args))))
    add(make_case("clamp_min_f64", "clamp_min", [randn(5)], min=0.1))
    add(make_case("clamp_max_f32", "clamp_max", [randn(2, 3, dtype=F32)], max=-0.2))
    add(make_case("square_f64", "square", [transposed(randn(2, 3))]))
    add(make_case("square_i64", "square", [ints(4)]))
    add(make_case("float_power_f32_gives_f64", "float_power", [positive(4, dtype=F32), randn(4, dtype=F32)]))
    add(make_case("true_divide_ints", "true_divide", [ints(4), ints(4, lo=1, hi=5)]))
    add(make_case("positive_f64", "positive", [randn(3)]))
    add(make_case("sgn_f64", "sgn", [t(-2.0, 0.0, 3.0)], nograd=True))  # PyTorch's zero gradient has no storage
    add(make_case("hypot_f64", "hypot", [randn(2, 3), randn(3)]))
    add(make_case("hypot_large", "hypot", [t(3e200, 0.0, 4.0), t(4e200, 0.0, 3.0)], nograd=True))
    add(make_case("logaddexp_f64", "logaddexp", [randn(5), randn(5)]))
    add(make_case("logaddexp_extremes", "logaddexp", [t(1000.0, -math.inf, -1000.0, 2.0), t(1000.0, -math.inf, 0.0, 2.0)],
                  nograd=True))
    add(make_case("xlogy_f64", "xlogy", [t(0.0, 1.5, -2.0, 0.0), t(0.0, 2.0, 3.0, 5.0)]))
    add(make_case("broadcast_to_f64", "broadcast_to", [randn(3, 1)], size=[2, 3, 4]))
    add(shape_case("broadcast_tensors_three", "broadcast_tensors", [randn(3, 1), randn(1, 4), randn()],
                   torch_call=lambda args: torch.broadcast_tensors(*args)))
    add(shape_case("meshgrid_ij", "meshgrid", [randn(3), randn(2)], indexing="ij",
                   torch_call=lambda args: torch.meshgrid(*args, indexing="ij")))
    add(shape_case("meshgrid_xy", "meshgrid", [randn(3), randn(2), randn(2)], indexing="xy",
                   torch_call=lambda args: torch.meshgrid(*args, indexing="xy")))
    add(make_case("swapaxes_f64", "swapaxes", [randn(2, 3, 4)], axis0=0, axis1=2))
    add(make_case("swapdims_f64", "swapdims", [randn(2, 3)], dim0=1, dim1=0))
    add(make_case("ravel_transposed", "ravel", [transposed(randn(2, 3))]))
    add(make_case("trace_f64", "trace", [randn(3, 4)]))
    add(make_case("diff_twice_dim0", "diff", [randn(5, 2)], n=2, dim=0))
    add(shape_case("diff_prepend_append", "diff", [randn(4), randn(2), randn(1)],
                   torch_call=lambda args: torch.diff(args[0], prepend=args[1], append=args[2])))
    add(make_case("cross_dim1", "cross", [randn(2, 3), randn(2, 3)], dim=1))
    add(make_case("cross_default_dim_broadcast", "cross", [randn(3, 2), randn(3, 1)]))
    add(shape_case("var_mean_dim", "var_mean", [randn(3, 4)], dim=[1],
                   torch_call=lambda args: torch.var_mean(args[0], dim=[1])))
    add(shape_case("std_mean_all_keepdim", "std_mean", [randn(2, 3)], correction=0, keepdim=True,
                   torch_call=lambda args: torch.std_mean(args[0], dim=None, correction=0, keepdim=True)))
    # PyTorch 1.13 cannot differentiate aminmax: integer inputs keep the cases gradient-free.
    add(shape_case("aminmax_all", "aminmax", [ints(3, 4)], torch_call=lambda args: tuple(torch.aminmax(args[0]))))
    add(shape_case("aminmax_dim_keepdim", "aminmax", [ints(3, 4)], dim=0, keepdim=True,
                   torch_call=lambda args: tuple(torch.aminmax(args[0], dim=0, keepdim=True))))
    x_nan = randn(3, 4)
    x_nan[0, 1] = math.nan
    x_nan[2, 3] = math.nan
    add(shape_case("nansum_dim", "nansum", [x_nan.clone()], dim=[1], torch_call=lambda args: torch.nansum(args[0], dim=[1])))
    add(shape_case("nanmean_all", "nanmean", [x_nan.clone()], torch_call=lambda args: torch.nanmean(args[0])))
    add(make_case("count_nonzero_dim", "count_nonzero", [t(0, 1, 0, 2, 3, 0).reshape(2, 3)], dim=[0]))
    add(make_case("take_along_dim_argsort", "take_along_dim", [randn(3, 4), torch.randint(0, 4, (3, 2))], dim=1))
    add(make_case("take_along_dim_flat", "take_along_dim", [randn(2, 3), torch.tensor([5, 0, 2])]))
    add(make_case("bucketize_left", "bucketize", [t(0.5, 1.0, 2.5, 9.0), t(1.0, 2.0, 3.0)]))
    add(make_case("bucketize_right_int32", "bucketize", [t(0.5, 1.0, 2.5, 9.0), t(1.0, 2.0, 3.0)], right=True,
                  out_int32=True))
    add(shape_case("searchsorted_rows", "searchsorted", [t(1, 3, 5, 7, 2, 4, 6, 8).reshape(2, 4), t(3, 6, 9, 0, 4, 8).reshape(2, 3)],
                   side="right", torch_call=lambda args: torch.searchsorted(args[0], args[1], side="right")))
    add(shape_case("bincount_plain", "bincount", [torch.tensor([0, 3, 1, 3, 3])], minlength=6,
                   torch_call=lambda args: torch.bincount(args[0], minlength=6)))
    add(shape_case("bincount_weights", "bincount", [torch.tensor([2, 0, 2]), ints(3)],  # no derivative in PyTorch 1.13
                   torch_call=lambda args: torch.bincount(args[0], weights=args[1])))
    add(shape_case("index_fill_dim1", "index_fill", [randn(2, 4), torch.tensor([3, 0])], dim=1, value=-1.5,
                   torch_call=lambda args: args[0].index_fill(1, args[1], -1.5)))
    add(shape_case("index_copy_dim0", "index_copy", [randn(4, 2), torch.tensor([2, 0]), randn(2, 2)], dim=0,
                   torch_call=lambda args: args[0].index_copy(0, args[1], args[2])))
    add(create_like("tril_indices_offset", "tril_indices", 3, 4, 1))
    add(create_like("triu_indices_negative", "triu_indices", 4, 3, -1))
    return c


def create_like(name, op, row, col, offset):
    return shape_case(name, op, [], torch_call=lambda args: getattr(torch, op)(row, col, offset), row=row, col=col,
                      offset=offset)


def main():
    write_fixture(OUT, "tests/golden/generate_composite.py", 20261128, cases)


if __name__ == "__main__":
    main()
