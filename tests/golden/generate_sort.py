#!/usr/bin/python3
"""Writes tests/golden/sort.json: PyTorch 1.13's results for the sort family (sort, argsort, msort, topk,
kthvalue, median, nanmedian, mode, unique, unique_consecutive).

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_sort.py
Cases use generate.py's helpers and format; golden_test.cpp reads every .json file in this folder. Where
PyTorch leaves the index of a tie unspecified (unstable sort, topk, kthvalue, median along a dim) the inputs
have no ties; stable sort, argsort, mode, median over all elements and unique have ties on purpose. JSON has
no NaN, so NaN ordering is tested in tests/core/sort_test.cpp.
"""

import os

import torch

from generate import F32, F64, I64, bools, make_case, transposed, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "sort.json")


def distinct(*shape, dtype=F64):
    """Values without ties: a shuffled arithmetic sequence, so no index choice depends on the algorithm."""
    n = 1
    for s in shape:
        n *= s
    return torch.randperm(n).sub(n // 2).mul(0.37 if dtype.is_floating_point else 3).reshape(shape).to(dtype)


def with_ties(*shape, dtype=F64):
    """Values from a few levels, so many elements are equal."""
    return torch.randint(-2, 3, shape).to(dtype)


def cases():
    c = []
    add = c.append

    add(make_case("sort_f64", "sort", [distinct(3, 5)]))
    add(make_case("sort_f32_descending", "sort", [distinct(4, 3, dtype=F32)], descending=True))
    add(make_case("sort_dim0", "sort", [distinct(4, 3)], dim=0))
    add(make_case("sort_3d_middle_dim", "sort", [distinct(2, 4, 3)], dim=-2, descending=True))
    add(make_case("sort_transposed", "sort", [transposed(distinct(3, 4))], dim=1))
    add(make_case("sort_stable_ties", "sort", [with_ties(3, 8)], stable=True))
    add(make_case("sort_stable_ties_descending", "sort", [with_ties(2, 9)], stable=True, descending=True))
    add(make_case("sort_stable_i64_ties", "sort", [with_ties(10, dtype=I64)], stable=True))
    add(make_case("sort_stable_bool", "sort", [bools(7)], stable=True))
    add(make_case("sort_0dim", "sort", [distinct()]))
    add(make_case("sort_empty", "sort", [distinct(0, 3)], dim=0))

    add(make_case("argsort_f64", "argsort", [distinct(3, 4)]))
    add(make_case("argsort_stable_ties_descending", "argsort", [with_ties(2, 7)], stable=True, descending=True))
    add(make_case("argsort_i64_dim0", "argsort", [distinct(4, 2, dtype=I64)], dim=0))

    add(make_case("msort_f64", "msort", [distinct(4, 3)]))
    add(make_case("msort_transposed_f32", "msort", [transposed(distinct(3, 4, dtype=F32))]))

    add(make_case("topk_f64", "topk", [distinct(3, 6)], k=2))
    add(make_case("topk_smallest_dim0", "topk", [distinct(5, 3)], k=3, dim=0, largest=False))
    add(make_case("topk_f32_all", "topk", [distinct(2, 4, dtype=F32)], k=4))
    add(make_case("topk_k0", "topk", [distinct(2, 4)], k=0))
    add(make_case("topk_i64", "topk", [distinct(7, dtype=I64)], k=3))
    add(make_case("topk_transposed", "topk", [transposed(distinct(4, 5))], k=2, dim=0))

    add(make_case("kthvalue_f64", "kthvalue", [distinct(3, 5)], k=2))
    add(make_case("kthvalue_keepdim_dim0", "kthvalue", [distinct(4, 3)], k=4, dim=0, keepdim=True))
    add(make_case("kthvalue_f32_3d", "kthvalue", [distinct(2, 3, 4, dtype=F32)], k=1, dim=1))
    add(make_case("kthvalue_i64", "kthvalue", [distinct(6, dtype=I64)], k=3))
    add(make_case("kthvalue_0dim", "kthvalue", [distinct()], k=1))

    add(make_case("median_all_odd", "median", [distinct(3, 3)]))
    add(make_case("median_all_even_lower", "median", [distinct(2, 4)]))
    add(make_case("median_all_ties_share_grad", "median", [with_ties(3, 5)]))
    add(make_case("median_all_i64", "median", [with_ties(6, dtype=I64)]))
    add(make_case("median_dim_f64", "median.dim", [distinct(3, 5)], dim=1))
    add(make_case("median_dim_even_keepdim", "median.dim", [distinct(4, 3, dtype=F32)], dim=0, keepdim=True))
    add(make_case("median_dim_transposed", "median.dim", [transposed(distinct(4, 6))], dim=-1))
    add(make_case("nanmedian_all", "nanmedian", [with_ties(2, 5)]))
    add(make_case("nanmedian_dim", "nanmedian.dim", [distinct(3, 4)], dim=1))
    add(make_case("nanmedian_dim_keepdim_i64", "nanmedian.dim", [distinct(3, 4, dtype=I64)], dim=0, keepdim=True))

    add(make_case("mode_f64_ties", "mode", [with_ties(3, 7)]))
    add(make_case("mode_dim0_keepdim", "mode", [with_ties(6, 3)], dim=0, keepdim=True))
    add(make_case("mode_i64", "mode", [with_ties(4, 5, dtype=I64)]))
    add(make_case("mode_all_distinct_is_smallest", "mode", [distinct(2, 5)]))
    add(make_case("mode_transposed", "mode", [transposed(with_ties(5, 4))], dim=0))

    # PyTorch marks unique's outputs as requiring grad without a formula to backward through: nograd.
    flags = dict(return_inverse=True, return_counts=True)
    add(make_case("unique_f64", "unique", [with_ties(3, 4)], nograd=True, **flags))
    add(make_case("unique_i64_1d", "unique", [with_ties(9, dtype=I64)], **flags))
    add(make_case("unique_bool", "unique", [bools(6)], **flags))
    add(make_case("unique_0dim", "unique", [torch.tensor(3)], **flags))
    add(make_case("unique_empty", "unique", [torch.zeros(0, 2, dtype=I64)], **flags))
    add(make_case("unique_dim0", "unique", [torch.tensor([[2, 1], [0, 5], [2, 1], [0, 3], [0, 5]])], dim=0, **flags))
    add(make_case("unique_dim_neg1_f32", "unique", [with_ties(2, 6, dtype=F32).clamp(-1, 0)], dim=-1, nograd=True, **flags))
    add(make_case("unique_dim1_3d", "unique", [with_ties(2, 5, 2, dtype=I64).clamp(0, 1)], dim=1, **flags))
    add(make_case("unique_consecutive_i64", "unique_consecutive", [torch.tensor([1, 1, 2, 2, 3, 1, 1, 2])], **flags))
    add(make_case("unique_consecutive_f64_2d", "unique_consecutive", [with_ties(3, 4).clamp(0, 1)], nograd=True, **flags))
    add(make_case("unique_consecutive_dim0", "unique_consecutive", [torch.tensor([[1, 1], [1, 1], [2, 3], [1, 1]])], dim=0, **flags))
    add(make_case("unique_consecutive_dim1", "unique_consecutive", [torch.tensor([[1, 1, 2], [1, 1, 3]])], dim=1, **flags))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_sort.py", 20260301, cases)


if __name__ == "__main__":
    main()
