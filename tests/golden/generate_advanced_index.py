#!/usr/bin/python3
"""Writes tests/golden/advanced_index.json: PyTorch 1.13's advanced indexing, x[...] with index tensors and
masks (aten::index) and x[...] = v (aten::index_put), including where the index dims land in the result.

An index list entry that is None in our `Tensor?[]` (a dim taken whole, `:` in Python) is listed in the kwarg
"indices@none" (positions in the list); golden_test.cpp inserts undefined tensors there.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_advanced_index.py
"""

import os

import torch

from generate import BOOL, F32, F64, I64, ints, randn, transposed, write_fixture
from generate_shape import shape_case

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "advanced_index.json")


def python_index(entries, tensors):
    """The Python index tuple: `:` for None entries, the tensors in order for the others."""
    it = iter(tensors)
    return tuple(slice(None) if e is None else next(it) for e in entries)


def index_case(name, x, entries):
    tensors = [e for e in entries if e is not None]
    nones = [i for i, e in enumerate(entries) if e is None]
    kwargs = {"indices@none": nones} if nones else {}
    return shape_case(name, "index", [x] + tensors,
                      torch_call=lambda args: args[0][python_index(entries, args[1:])], **kwargs)


def index_put_case(name, x, entries, values, accumulate=False):
    tensors = [e for e in entries if e is not None]
    nones = [i for i, e in enumerate(entries) if e is None]
    kwargs = {"indices@none": nones} if nones else {}
    kwargs["accumulate"] = accumulate

    def call(args):
        base, idx, vals = args[0], args[1:-1], args[-1]
        if accumulate:  # Tensor.index_put takes no None entries in Python: these cases have none
            return base.index_put(tuple(idx), vals, accumulate=True)
        out = base.clone()  # x[...] = v is aten::index_put_ on the clone
        out[python_index(entries, idx)] = vals
        return out

    return shape_case(name, "index_put", [x] + tensors + [values], torch_call=call, **kwargs)


def idx(*values):
    return torch.tensor(values, dtype=I64)


def cases():
    c = []
    add = c.append
    add(index_case("index_first_dim", randn(4, 3), [idx(2, 0, 2)]))
    add(index_case("index_negative", randn(5), [idx(-1, 0, -5)]))
    add(index_case("index_2d_index_tensor", randn(4, 3), [torch.tensor([[0, 3], [1, 1]])]))
    add(index_case("index_middle_dim_stays_in_place", randn(2, 5, 3), [None, idx(4, 0)]))
    add(index_case("index_adjacent_pair_broadcast", randn(2, 4, 3, 2), [None, idx(1, 3, 0), idx(2)]))
    add(index_case("index_separated_pair_goes_first", randn(3, 2, 4), [idx(0, 2), None, idx(3, 1)]))
    add(index_case("index_mask_2d", randn(2, 3), [torch.tensor([[True, False, True], [False, True, True]])]))
    add(index_case("index_mask_on_dim1", randn(3, 4), [None, torch.tensor([True, False, False, True])]))
    add(index_case("index_mask_and_tensor", randn(3, 4), [torch.tensor([True, False, True]), idx(0, 3)]))
    add(index_case("index_i64_values", ints(3, 3), [idx(2, 1)]))
    add(index_case("index_f32_transposed", transposed(randn(3, 4, dtype=F32)), [idx(1, 1, 2)]))
    add(index_case("index_empty_index", randn(3, 2), [torch.zeros(0, dtype=I64)]))
    add(index_put_case("index_put_rows", randn(4, 3), [idx(0, 2)], randn(2, 3)))
    add(index_put_case("index_put_broadcast_values", randn(4, 3), [None, idx(1)], randn(1)))
    add(index_put_case("index_put_accumulate_duplicates", randn(5), [idx(1, 1, 3)], randn(3), accumulate=True))
    add(index_put_case("index_put_mask", randn(2, 3), [torch.tensor([[True, False, True], [False, False, True]])],
                       randn(3)))
    add(index_put_case("index_put_separated_pair", randn(3, 2, 4), [idx(0, 2), None, idx(3, 1)], randn(2, 2)))
    add(index_put_case("index_put_i64", ints(4), [idx(3, 0)], ints(2)))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_advanced_index.py", 20261127, cases)


if __name__ == "__main__":
    main()
