#!/usr/bin/python3
"""Writes tests/golden/index.json: PyTorch 1.13's results for the index family (gather, scatter, scatter_add,
index_select, index_add, take, masked_fill, masked_select, nonzero).

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_index.py
"""

import os

import torch

from generate import F32, F64, I64, bools, ints, make_case, randn, transposed, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "index.json")


def idx(*shape, hi):
    return torch.randint(0, hi, shape, dtype=I64)


def perm_rows(rows, cols, n):
    """An index for scatter along dim 0 with distinct targets in each column (no write races)."""
    return torch.stack([torch.randperm(n)[:rows] for _ in range(cols)], dim=1)


def cases():
    c = []
    add = c.append
    add(make_case("gather_dim1_f64", "gather", [randn(3, 4), idx(3, 5, hi=4)], dim=1))
    add(make_case("gather_dim0_f32_smaller_index", "gather", [randn(4, 3, dtype=F32), idx(2, 2, hi=4)], dim=0))
    add(make_case("gather_i64_transposed", "gather", [transposed(ints(3, 4)), idx(3, 2, hi=4)], dim=1))
    add(make_case("gather_1d", "gather", [randn(6), idx(8, hi=6)], dim=0))
    add(make_case("gather_negative_dim", "gather", [randn(2, 3, 4), idx(2, 3, 2, hi=4)], dim=-1))

    add(make_case("scatter_add_dim0_duplicates", "scatter_add", [randn(3, 4), idx(5, 4, hi=3), randn(5, 4)], dim=0))
    add(make_case("scatter_add_dim1_smaller_index", "scatter_add", [randn(3, 5), idx(2, 3, hi=5), randn(3, 4)], dim=1, nograd=True))  # PyTorch 1.13 cannot differentiate it
    add(make_case("scatter_add_i64", "scatter_add", [ints(4), idx(6, hi=4), ints(6)], dim=0))
    add(make_case("scatter_dim0_distinct", "scatter", [randn(5, 3), perm_rows(3, 3, 5), randn(3, 3)], dim=0))
    add(make_case("scatter_f32_1d", "scatter", [randn(6, dtype=F32), torch.randperm(6)[:4], randn(4, dtype=F32)], dim=0))

    add(make_case("index_select_dim0", "index_select", [randn(4, 3), torch.tensor([3, 0, 0, 2])], dim=0))
    add(make_case("index_select_dim1_f32", "index_select", [randn(2, 5, dtype=F32), torch.tensor([4, 1])], dim=1))
    add(make_case("index_select_transposed_i64", "index_select", [transposed(ints(3, 4)), torch.tensor([2, 2, 0])], dim=-1))
    add(make_case("index_add_dim0_duplicates", "index_add", [randn(3, 4), torch.tensor([0, 2, 0]), randn(3, 4)], dim=0))
    add(make_case("index_add_alpha", "index_add", [randn(2, 5), torch.tensor([4, 0]), randn(2, 2)], dim=1, alpha=2.5))

    add(make_case("take_f64", "take", [randn(3, 4), torch.tensor([[0, 11], [5, -1]])]))
    add(make_case("take_transposed", "take", [transposed(randn(2, 3)), torch.tensor([1, 4, 2])]))

    add(make_case("masked_fill_f64", "masked_fill", [randn(3, 4), bools(3, 4)], value=-1.5))
    add(make_case("masked_fill_broadcast_mask", "masked_fill", [randn(3, 4, dtype=F32), bools(4)], value=2))
    add(make_case("masked_fill_i64_float_value", "masked_fill", [ints(5), bools(5)], value=3.7))
    add(make_case("masked_select_f64", "masked_select", [randn(3, 4), bools(3, 4)]))
    add(make_case("masked_select_broadcast", "masked_select", [randn(2, 3), bools(3)]))
    add(make_case("masked_select_none", "masked_select", [randn(4), torch.zeros(4, dtype=torch.bool)]))

    add(make_case("nonzero_2d", "nonzero", [torch.tensor([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])]))
    add(make_case("nonzero_bool_3d", "nonzero", [bools(2, 2, 3)]))
    add(make_case("nonzero_empty", "nonzero", [torch.zeros(3, dtype=I64)]))
    # Out of place, self broadcasts with the mask too (PyTorch's expand_outplace): [1, 4, 4] and [6, 1, 4].
    add(make_case("masked_fill_broadcast_self", "masked_fill", [randn(1, 4, 4), bools(6, 1, 4)], value=-1.5))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_index.py", 20261127, cases)


if __name__ == "__main__":
    main()
