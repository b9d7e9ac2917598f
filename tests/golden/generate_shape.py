#!/usr/bin/python3
"""Writes tests/golden/shape.json: PyTorch 1.13's results for the view, shape, join and creation ops (narrow,
select, slice, diagonal, movedim, flatten, unflatten, squeeze, as_strided, unfold, *_as, the scatters, cat,
stack, hstack, vstack, split, chunk, unbind, flip, roll, repeat, tile, tril, triu, diag, arange, linspace,
logspace, eye, *_like).

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_shape.py
Cases use generate.py's helpers and format; golden_test.cpp reads every .json file in this folder. Beyond
generate.py's make_case, a case here may
- take a list of tensors (cat, stack): its inputs fill the op's Tensor[] argument, in order;
- create a tensor from numbers only (arange): no inputs, and the kwargs name our signature's arguments, while
  the PyTorch call may differ (arange's one-number form is torch.arange(end));
- have several outputs that all carry a gradient (split, chunk, unbind): the first is "expected" with
  "grad_weight", the others "extra_outputs" with "extra_grad_weights", and loss = sum_i (out_i * w_i).sum().
"""

import os

import torch

from generate import (BOOL, F32, F64, I64, apply, bools, encode_kwargs, encode_tensor, expanded, ints, make_case,
                      randn, transposed, write_fixture)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "shape.json")


def sliced(t, dim, step=2, start=1):
    """An input the op receives as t[start::step] along dim: a view with a storage offset and a stride > 1."""
    return (t, {"op": "slice", "kwargs": {"dim": dim, "start": start, "end": None, "step": step}})


def shape_case(name, op, inputs, torch_call=None, **kwargs):
    """Like make_case, for ops with several differentiable outputs, a list input or no input. torch_call(args)
    computes PyTorch's result when the op is not getattr(torch.Tensor, op)(*args, **kwargs)."""
    leaves, layouts = [], []
    for x in inputs:
        leaf, layout = x if isinstance(x, tuple) else (x, None)
        leaves.append(leaf.clone().requires_grad_(leaf.is_floating_point()))
        layouts.append(layout)
    args = [apply(lay["op"], [leaf], lay["kwargs"]) if lay else leaf for leaf, lay in zip(leaves, layouts)]
    out = torch_call(args) if torch_call else apply(op, args, kwargs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    assert outs, f"{name}: no outputs"
    weights = [randn(*o.shape, dtype=o.dtype) if o.requires_grad else None for o in outs]
    case = {
        "name": name,
        "op": op,
        "inputs": [dict(encode_tensor(leaf), layout=lay) for leaf, lay in zip(leaves, layouts)],
        "kwargs": encode_kwargs(kwargs),
        "expected": encode_tensor(outs[0]),
        "grad_weight": encode_tensor(weights[0]) if weights[0] is not None else None,
        "grads": [None] * len(leaves),
    }
    if len(outs) > 1:
        case["extra_outputs"] = [encode_tensor(o) for o in outs[1:]]
        case["extra_grad_weights"] = [encode_tensor(w) if w is not None else None for w in weights[1:]]
    terms = [(o * w).sum() for o, w in zip(outs, weights) if w is not None]
    if terms:
        assert weights[0] is not None, f"{name}: the first output must carry the gradient"
        sum(terms).backward()
        case["grads"] = [encode_tensor(leaf.grad) if leaf.grad is not None else None for leaf in leaves]
    return case


def list_case(name, op, inputs, **kwargs):
    """torch.<op>(tensors, **kwargs) for the ops that take a Tensor[] (cat, stack, hstack, vstack)."""
    return shape_case(name, op, inputs, torch_call=lambda args: getattr(torch, op)(args, **kwargs), **kwargs)


def create_case(name, op, torch_args, **kwargs):
    """A creation op: torch.<op>(*torch_args, **kwargs); the JSON kwargs name our signature's arguments."""
    ours = dict(kwargs)
    names = {"arange": ["start", "end", "step"], "linspace": ["start", "end", "steps"],
             "logspace": ["start", "end", "steps", "base"], "eye": ["n", "m"]}[op]
    ours.update(zip(names, torch_args))
    return shape_case(name, op, [], torch_call=lambda args: getattr(torch, op)(*torch_args, **kwargs), **ours)


def like_case(name, op, inputs, **kwargs):
    return shape_case(name, op, inputs, torch_call=lambda args: getattr(torch, op)(*args, **kwargs), **kwargs)


def as_strided_scatter_case(name, inputs, **kwargs):
    """PyTorch 1.13's gradient of as_strided_scatter w.r.t. self is wrong (gradcheck fails; it reads uninitialised
    memory), so that one gradient is PyTorch's forward applied to the weight: the elements src overwrote get 0."""
    case = make_case(name, "as_strided_scatter", inputs, **kwargs)
    w = torch.tensor(case["grad_weight"]["values"], dtype=F64).reshape(case["grad_weight"]["shape"])
    case["grads"][0] = encode_tensor(torch.as_strided_scatter(w, torch.zeros(kwargs["size"], dtype=F64), **kwargs))
    return case


def cases():
    c = []
    add = c.append

    # ---- views: narrow, select, slice, diagonal ----
    add(make_case("narrow_f64", "narrow", [randn(4, 5)], dim=1, start=1, length=3))
    add(make_case("narrow_negative_dim_and_start", "narrow", [randn(3, 4, 2)], dim=-2, start=-3, length=2))
    add(make_case("narrow_f32_transposed", "narrow", [transposed(randn(3, 5, dtype=F32))], dim=1, start=2, length=3))
    add(make_case("narrow_i64", "narrow", [ints(5, 2)], dim=0, start=1, length=2))
    add(make_case("narrow_empty_at_end", "narrow", [randn(2, 3)], dim=1, start=3, length=0))
    add(make_case("narrow_bool_sliced", "narrow", [sliced(bools(7, 3), 0)], dim=0, start=1, length=2))
    add(make_case("select_f64", "select", [randn(3, 4)], dim=1, index=2))
    add(make_case("select_negative_index", "select", [randn(2, 3, 4)], dim=-1, index=-1))
    add(make_case("select_f32_expanded", "select", [expanded(randn(1, 4, dtype=F32), [3, 4])], dim=0, index=1))
    add(make_case("select_to_0dim", "select", [randn(3)], dim=0, index=0))
    add(make_case("select_i64_transposed", "select", [transposed(ints(3, 4))], dim=0, index=2))
    add(make_case("slice_step2", "slice", [randn(7, 3)], dim=0, start=1, end=6, step=2))
    add(make_case("slice_negative_bounds", "slice", [randn(3, 6)], dim=1, start=-4, end=-1))
    add(make_case("slice_clamped_bounds", "slice", [randn(3, 6, dtype=F32)], dim=-1, start=-100, end=100, step=4))
    add(make_case("slice_defaults_none", "slice", [randn(4, 2)], dim=0, start=None, end=None, step=3))
    add(make_case("slice_empty_end_before_start", "slice", [randn(5)], dim=0, start=4, end=2))
    add(make_case("slice_transposed_i64", "slice", [transposed(ints(4, 5))], dim=1, start=1, end=3))
    add(make_case("diagonal_main", "diagonal", [randn(3, 4)]))
    add(make_case("diagonal_offset_dims", "diagonal", [randn(2, 3, 4)], offset=1, dim1=1, dim2=2))
    add(make_case("diagonal_negative_offset_dims", "diagonal", [randn(2, 3, 4, dtype=F32)], offset=-1, dim1=-1, dim2=0))
    add(make_case("diagonal_offset_past_end", "diagonal", [randn(3, 3)], offset=5))
    add(make_case("diagonal_transposed", "diagonal", [transposed(randn(4, 3))], offset=-2))
    add(make_case("diagonal_bool", "diagonal", [bools(3, 3)]))

    # ---- scatters (the views' backwards) ----
    # PyTorch 1.13's Python binding of slice_scatter takes a wrong default step (it sees a one-element slice), so
    # these cases pass step; ours defaults to 1 as the signature says.
    add(make_case("slice_scatter_f64", "slice_scatter", [randn(6, 3), randn(2, 3)], dim=0, start=1, end=5, step=2))
    add(make_case("slice_scatter_negative", "slice_scatter", [randn(2, 5), transposed(randn(2, 2))], dim=-1, start=-3, end=-1, step=1))
    add(make_case("slice_scatter_i64", "slice_scatter", [ints(4), ints(2)], start=2, step=1))
    add(make_case("select_scatter_f64", "select_scatter", [randn(3, 4), randn(4)], dim=0, index=-1))
    add(make_case("select_scatter_f32_expanded_src", "select_scatter", [randn(3, 4, dtype=F32), expanded(randn(1, dtype=F32), [3])], dim=1, index=2))
    add(make_case("diagonal_scatter_f64", "diagonal_scatter", [randn(3, 4), randn(3)]))
    add(make_case("diagonal_scatter_offset", "diagonal_scatter", [randn(2, 3, 3), randn(3, 2)], offset=1, dim1=0, dim2=2))
    add(as_strided_scatter_case("as_strided_scatter_f64", [randn(3, 4), randn(2, 2)], size=[2, 2], stride=[1, 4], storage_offset=1))
    add(as_strided_scatter_case("as_strided_scatter_default_offset", [randn(6), transposed(randn(2, 3))], size=[2, 3], stride=[3, 1]))

    # ---- movedim, flatten, unflatten, squeeze, *_as ----
    add(make_case("movedim_int", "movedim", [randn(2, 3, 4)], source=0, destination=2))
    add(make_case("movedim_lists", "movedim", [randn(2, 3, 4, 5)], source=[0, -1], destination=[2, 0]))
    add(make_case("movedim_i64_transposed", "movedim", [transposed(ints(2, 3, 4))], source=[1], destination=[-1]))
    add(make_case("flatten_all", "flatten", [randn(2, 3, 4)]))
    add(make_case("flatten_middle", "flatten", [randn(2, 3, 4, 5)], start_dim=1, end_dim=-2))
    add(make_case("flatten_transposed_copies", "flatten", [transposed(randn(3, 4, dtype=F32))]))
    add(make_case("flatten_0dim", "flatten", [randn()]))
    add(make_case("flatten_one_dim_is_noop", "flatten", [randn(2, 3)], start_dim=1, end_dim=1))
    add(make_case("flatten_bool", "flatten", [bools(2, 2)], start_dim=0))
    add(make_case("unflatten_f64", "unflatten", [randn(2, 12)], dim=1, sizes=[3, 4]))
    add(make_case("unflatten_infer_negative_dim", "unflatten", [randn(6, 2, dtype=F32)], dim=-2, sizes=[-1, 2, 1]))
    add(make_case("unflatten_transposed", "unflatten", [transposed(randn(3, 4))], dim=1, sizes=[2, 2]))
    add(make_case("squeeze_all", "squeeze", [randn(1, 3, 1, 2)]))
    add(make_case("squeeze_all_to_0dim", "squeeze", [randn(1, 1)]))
    add(make_case("squeeze_all_i64_expanded", "squeeze", [expanded(ints(1, 1), [3, 1])]))
    add(make_case("expand_as_f64", "expand_as", [randn(3, 1), randn(2, 3, 4)]))
    add(make_case("view_as_f32", "view_as", [randn(2, 6, dtype=F32), randn(3, 4, dtype=F32)]))
    add(make_case("reshape_as_transposed", "reshape_as", [transposed(randn(3, 4)), ints(12)]))

    # ---- as_strided, unfold ----
    add(make_case("as_strided_f64", "as_strided", [randn(3, 4)], size=[2, 2], stride=[1, 2]))
    add(make_case("as_strided_offset", "as_strided", [randn(3, 4, dtype=F32)], size=[3], stride=[5], storage_offset=1))
    add(make_case("as_strided_overlapping_windows", "as_strided", [randn(6)], size=[4, 3], stride=[1, 1]))
    add(make_case("as_strided_overlap_stride0", "as_strided", [randn(2, 3)], size=[2, 3, 2], stride=[3, 1, 0]))
    add(make_case("as_strided_of_transposed", "as_strided", [transposed(randn(3, 4))], size=[2, 3], stride=[4, 1], storage_offset=2))
    add(make_case("as_strided_of_expanded", "as_strided", [expanded(randn(3, 1), [3, 4])], size=[3, 2], stride=[1, 0]))
    add(make_case("as_strided_i64", "as_strided", [ints(10)], size=[3, 3], stride=[3, 1], storage_offset=1))
    add(make_case("unfold_overlapping", "unfold", [randn(2, 7)], dimension=1, size=3, step=1))
    add(make_case("unfold_step_gaps", "unfold", [randn(8, 2, dtype=F32)], dimension=0, size=2, step=3))
    add(make_case("unfold_negative_dim_transposed", "unfold", [transposed(randn(3, 5))], dimension=-2, size=2, step=2))
    add(make_case("unfold_size_equals_dim", "unfold", [randn(4)], dimension=0, size=4, step=1))
    add(make_case("unfold_i64", "unfold", [ints(6)], dimension=0, size=2, step=2))
    add(make_case("unfold_0dim", "unfold", [randn()], dimension=0, size=1, step=1))

    # ---- cat, stack, hstack, vstack ----
    add(list_case("cat_dim0_f64", "cat", [randn(2, 3), randn(1, 3), randn(3, 3)]))
    add(list_case("cat_dim1_negative", "cat", [randn(2, 1), randn(2, 3)], dim=-1))
    add(list_case("cat_promotes_i64_f32", "cat", [ints(2, 2), randn(1, 2, dtype=F32)]))
    add(list_case("cat_transposed_and_expanded", "cat", [transposed(randn(2, 3)), expanded(randn(1, 3), [2, 3])]))
    add(list_case("cat_skips_legacy_empty", "cat", [randn(2, 2), randn(0), randn(1, 2)]))
    add(list_case("cat_bool", "cat", [bools(3), bools(2)]))
    add(list_case("cat_single", "cat", [randn(2, 3)], dim=1))
    add(list_case("cat_3d_middle", "cat", [randn(2, 1, 2), randn(2, 2, 2), sliced(randn(2, 5, 2), 1)], dim=1))
    add(list_case("stack_dim0", "stack", [randn(2, 3), randn(2, 3)]))
    add(list_case("stack_last_dim", "stack", [randn(3, dtype=F32), randn(3, dtype=F32), randn(3, dtype=F32)], dim=-1))
    add(list_case("stack_i64_transposed", "stack", [transposed(ints(2, 3)), ints(2, 3)], dim=1))
    add(list_case("hstack_1d", "hstack", [randn(2), randn(3)]))
    add(list_case("hstack_2d", "hstack", [randn(2, 1), randn(2, 3)]))
    add(list_case("hstack_0dim", "hstack", [randn(), randn()]))
    add(list_case("vstack_1d", "vstack", [randn(3), randn(3)]))
    add(list_case("vstack_2d_and_1d", "vstack", [randn(2, 3), randn(3)]))

    # ---- split, split_with_sizes, chunk, unbind (several outputs, all differentiable) ----
    add(shape_case("split_uneven", "split", [randn(5, 2)], split_size=2))
    add(shape_case("split_dim1_negative", "split", [randn(2, 6)], split_size=3, dim=-1))
    add(shape_case("split_larger_than_dim", "split", [randn(3)], split_size=10))
    add(shape_case("split_transposed_i64", "split", [transposed(ints(4, 3))], split_size=2, dim=1))
    add(shape_case("split_with_sizes_f64", "split_with_sizes", [randn(6, 2)], split_sizes=[1, 0, 5]))
    add(shape_case("split_with_sizes_f32_dim1", "split_with_sizes", [transposed(randn(3, 4, dtype=F32))], split_sizes=[3, 1], dim=1))
    add(shape_case("chunk_even", "chunk", [randn(6, 2)], chunks=3))
    add(shape_case("chunk_fewer_than_asked", "chunk", [randn(6)], chunks=4))
    add(shape_case("chunk_dim_negative_expanded", "chunk", [expanded(randn(1, 5), [2, 5])], chunks=2, dim=-1))
    add(shape_case("chunk_bool", "chunk", [bools(5)], chunks=2))
    add(shape_case("unbind_dim0", "unbind", [randn(3, 2)]))
    add(shape_case("unbind_dim_negative_f32", "unbind", [transposed(randn(2, 4, dtype=F32))], dim=-1))
    add(shape_case("unbind_i64", "unbind", [ints(2, 3)], dim=1))

    # ---- flip, roll, repeat, tile, tril, triu, diag ----
    add(make_case("flip_dim0", "flip", [randn(3, 2)], dims=[0]))
    add(make_case("flip_two_dims_negative", "flip", [randn(2, 3, 4)], dims=[0, -1]))
    add(make_case("flip_transposed_f32", "flip", [transposed(randn(3, 4, dtype=F32))], dims=[1]))
    add(make_case("flip_expanded", "flip", [expanded(randn(3, 1), [3, 2])], dims=[0, 1]))
    add(make_case("flip_sliced_i64", "flip", [sliced(ints(7, 2), 0)], dims=[0]))
    add(make_case("flip_bool_no_dims", "flip", [bools(4)], dims=[]))
    add(make_case("roll_flat", "roll", [randn(3, 2)], shifts=1))
    add(make_case("roll_dim0", "roll", [randn(4, 2)], shifts=-1, dims=0))
    add(make_case("roll_two_dims", "roll", [randn(3, 4)], shifts=[5, -6], dims=[0, 1]))
    add(make_case("roll_transposed_i64", "roll", [transposed(ints(3, 4))], shifts=[2], dims=[-1]))
    add(make_case("roll_zero_shift", "roll", [randn(3, dtype=F32)], shifts=3, dims=0))
    add(make_case("repeat_f64", "repeat", [randn(2, 3)], repeats=[2, 1]))
    add(make_case("repeat_new_dims", "repeat", [randn(2, dtype=F32)], repeats=[3, 1, 2]))
    add(make_case("repeat_transposed", "repeat", [transposed(randn(2, 3))], repeats=[1, 2]))
    add(make_case("repeat_zero", "repeat", [randn(2, 2)], repeats=[0, 3]))
    add(make_case("repeat_i64", "repeat", [ints(3)], repeats=[2]))
    add(make_case("tile_short_dims", "tile", [randn(2, 3)], dims=[2]))
    add(make_case("tile_long_dims", "tile", [randn(3)], dims=[2, 2]))
    add(make_case("tile_bool", "tile", [bools(2, 1)], dims=[1, 3]))
    add(make_case("tril_f64", "tril", [randn(4, 4)]))
    add(make_case("tril_offset_batched", "tril", [randn(2, 3, 4)], diagonal=1))
    add(make_case("tril_negative_offset_transposed", "tril", [transposed(randn(4, 3, dtype=F32))], diagonal=-1))
    add(make_case("tril_i64", "tril", [ints(3, 3)], diagonal=-1))
    add(make_case("triu_f64", "triu", [randn(3, 5)]))
    add(make_case("triu_offset", "triu", [randn(4, 3)], diagonal=2))
    add(make_case("triu_negative_offset_expanded", "triu", [expanded(randn(1, 3), [3, 3])], diagonal=-1))
    add(make_case("triu_bool", "triu", [bools(3, 4)], diagonal=1))
    add(make_case("diag_vector", "diag", [randn(3)]))
    add(make_case("diag_vector_offset", "diag", [randn(2, dtype=F32)], diagonal=-2))
    add(make_case("diag_matrix", "diag", [randn(3, 4)]))
    add(make_case("diag_matrix_offset_transposed", "diag", [transposed(randn(4, 3))], diagonal=1))
    add(make_case("diag_matrix_negative_offset_i64", "diag", [ints(4, 2)], diagonal=-2))

    # ---- creation ----
    add(create_case("arange_end_i64", "arange", [5]))
    add(create_case("arange_end_float", "arange", [5.0]))
    add(create_case("arange_start_end_step_float", "arange", [1, 2.5, 0.5]))
    add(create_case("arange_tenths_f32", "arange", [0, 1, 0.1]))
    add(create_case("arange_f64", "arange", [0, 1, 0.3], dtype=F64))
    add(create_case("arange_negative_step", "arange", [10, 0, -3]))
    add(create_case("arange_empty", "arange", [3, 3]))
    add(create_case("arange_int_bounds_f32", "arange", [0, 5, 2], dtype=F32))
    add(create_case("arange_float_bounds_i64", "arange", [0.5, 5, 2], dtype=I64))
    add(create_case("arange_negative_float_start_i64", "arange", [-1.5, 3, 1], dtype=I64))
    add(create_case("arange_f32_inexact_step", "arange", [1, 4, 0.7], dtype=F32))
    add(create_case("linspace_f32", "linspace", [0, 1, 5]))
    add(create_case("linspace_one", "linspace", [2, 7, 1]))
    add(create_case("linspace_zero", "linspace", [0, 1, 0]))
    add(create_case("linspace_f64", "linspace", [-1, 3, 7], dtype=F64))
    add(create_case("linspace_descending_f32", "linspace", [3, -1, 7], dtype=F32))
    add(create_case("linspace_i64", "linspace", [0, 10, 4], dtype=I64))
    add(create_case("linspace_descending_i64", "linspace", [10, 0, 4], dtype=I64))
    add(create_case("logspace_default", "logspace", [0, 2, 3]))
    add(create_case("logspace_base2", "logspace", [0, 2, 3, 2.0]))
    add(create_case("logspace_f64", "logspace", [-1, 1, 5], dtype=F64))
    add(create_case("logspace_i64", "logspace", [0, 3, 4], dtype=I64))
    add(create_case("logspace_one", "logspace", [2, 5, 1]))
    add(create_case("eye_square", "eye", [3]))
    add(create_case("eye_rect_i64", "eye", [2, 3], dtype=I64))
    add(create_case("eye_tall_bool", "eye", [3, 2], dtype=BOOL))
    add(create_case("eye_empty", "eye", [0]))
    add(like_case("zeros_like_i64", "zeros_like", [ints(2, 3)]))
    add(like_case("zeros_like_f32_dtype_f64", "zeros_like", [randn(2, dtype=F32)], dtype=F64))
    add(like_case("ones_like_transposed", "ones_like", [transposed(randn(2, 3))]))
    add(like_case("ones_like_bool", "ones_like", [bools(3)]))
    add(like_case("empty_like_empty", "empty_like", [randn(0, 2)]))
    add(like_case("full_like_i64_truncates", "full_like", [ints(2, 2)], fill_value=2.7))
    add(like_case("full_like_f64", "full_like", [randn(3)], fill_value=-1.5))
    add(like_case("full_like_bool_dtype", "full_like", [randn(2)], fill_value=True, dtype=BOOL))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_shape.py", 20240607, cases)


if __name__ == "__main__":
    main()
