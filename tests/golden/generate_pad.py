#!/usr/bin/python3
"""Writes tests/golden/pad.json: PyTorch 1.13's results for pad (constant, reflect, replicate, circular),
einsum, lerp, nan_to_num, repeat_interleave and scatter_reduce.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_pad.py
"""

import os

import torch

from generate import F32, F64, I64, bools, expanded, ints, make_case, randn, transposed, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pad.json")


def layout(t, op, **kwargs):
    """An input the op receives as op(t): a way to feed inf and NaN, which JSON cannot store."""
    return (t, {"op": op, "kwargs": kwargs})


def idx(*shape, hi):
    return torch.randint(0, hi, shape, dtype=I64)


def pad_cases(add):
    add(make_case("pad_constant_last_dim", "pad", [randn(2, 3)], pad=[1, 2]))
    add(make_case("pad_constant_two_dims_value", "pad", [randn(2, 3, dtype=F32)], pad=[1, 0, 2, 1], value=1.5))
    add(make_case("pad_constant_negative_crops", "pad", [randn(3, 4)], pad=[-1, 2, 1, -2]))
    add(make_case("pad_constant_only_crops", "pad", [randn(3, 4)], pad=[-1, -1]))
    add(make_case("pad_constant_i64_float_value", "pad", [ints(2, 2)], pad=[1, 1], value=2.5))
    add(make_case("pad_constant_bool", "pad", [bools(3)], pad=[2, 0], value=1.0))
    add(make_case("pad_constant_transposed", "pad", [transposed(randn(3, 2))], pad=[0, 1, 1, 0]))
    add(make_case("pad_constant_empty", "pad", [randn(0, 3)], pad=[1, 1]))
    add(make_case("pad_constant_0dim_no_pad", "pad", [randn()], pad=[]))
    add(make_case("pad_constant_all_dims", "pad", [randn(2, 2, 2)], pad=[1, 0, 0, 1, 1, 1]))
    add(make_case("pad_reflect_1d_batched", "pad", [randn(2, 3, 5)], pad=[2, 3], mode="reflect"))
    add(make_case("pad_reflect_1d_unbatched_f32", "pad", [randn(2, 4, dtype=F32)], pad=[3, 1], mode="reflect"))
    add(make_case("pad_reflect_1d_negative", "pad", [randn(1, 2, 4)], pad=[-1, 2], mode="reflect"))
    add(make_case("pad_reflect_2d", "pad", [randn(1, 2, 3, 4)], pad=[1, 2, 2, 1], mode="reflect"))
    add(make_case("pad_reflect_2d_unbatched_transposed", "pad", [transposed(randn(2, 4, 3))], pad=[2, 1, 1, 0], mode="reflect"))
    add(make_case("pad_reflect_3d", "pad", [randn(1, 1, 3, 3, 4)], pad=[1, 1, 2, 0, 0, 2], mode="reflect"))
    add(make_case("pad_reflect_empty_batch", "pad", [randn(0, 2, 3)], pad=[1, 1], mode="reflect"))
    add(make_case("pad_replicate_1d", "pad", [randn(2, 2, 3)], pad=[4, 2], mode="replicate"))
    add(make_case("pad_replicate_1d_negative", "pad", [randn(1, 2, 4)], pad=[2, -3], mode="replicate"))
    add(make_case("pad_replicate_2d_f32", "pad", [randn(2, 3, 3, dtype=F32)], pad=[2, 0, 1, 3], mode="replicate"))
    add(make_case("pad_replicate_3d_expanded", "pad", [expanded(randn(1, 1, 2, 1, 3), [2, 1, 2, 2, 3])], pad=[1, 2, 1, 1, 2, 0], mode="replicate"))
    add(make_case("pad_circular_1d", "pad", [randn(2, 2, 4)], pad=[3, 2], mode="circular"))
    add(make_case("pad_circular_1d_negative", "pad", [randn(1, 1, 4)], pad=[-1, 2], mode="circular"))
    add(make_case("pad_circular_2d", "pad", [randn(1, 2, 3, 3)], pad=[1, 2, 3, 0], mode="circular"))
    add(make_case("pad_circular_3d_i64", "pad", [ints(1, 1, 2, 2, 3)], pad=[1, 1, 1, 0, 0, 2], mode="circular"))


def einsum_cases(add):
    add(make_case("einsum_matmul", "einsum", [randn(2, 3), randn(3, 4)], equation="ij,jk->ik"))
    add(make_case("einsum_matmul_implicit_f32", "einsum", [randn(2, 3, dtype=F32), randn(3, 4, dtype=F32)], equation="ij,jk"))
    add(make_case("einsum_batched_ellipsis", "einsum", [randn(2, 2, 3), randn(3, 4)], equation="...ij,jk->...ik"))
    add(make_case("einsum_ellipsis_broadcast", "einsum", [randn(2, 1, 3), randn(4, 3)], equation="...i,...i->..."))
    add(make_case("einsum_trace", "einsum", [randn(3, 3)], equation="ii"))
    add(make_case("einsum_diagonal", "einsum", [randn(3, 3)], equation="ii->i"))
    add(make_case("einsum_repeated_three", "einsum", [randn(2, 2, 2)], equation="iii->i"))
    add(make_case("einsum_transpose_view", "einsum", [randn(2, 3)], equation="ij->ji"))
    add(make_case("einsum_sum_all", "einsum", [randn(2, 3)], equation="ij->"))
    add(make_case("einsum_outer", "einsum", [randn(3), randn(4)], equation="i,j->ij"))
    add(make_case("einsum_dot", "einsum", [randn(5), randn(5)], equation="i,i->"))
    add(make_case("einsum_three_operands", "einsum", [randn(2, 3), randn(3, 4), randn(4, 2)], equation="ij,jk,kl->il"))
    add(make_case("einsum_shared_batch_three", "einsum", [randn(2, 3), randn(2, 3), randn(2)], equation="bi,bi,b->b"))
    add(make_case("einsum_broadcast_size1", "einsum", [randn(3, 1), randn(1, 4)], equation="ij,ij->ij"))
    add(make_case("einsum_bilinear", "einsum", [randn(2, 3), randn(5, 3, 4), randn(2, 4)], equation="bn,anm,bm->ba"))
    add(make_case("einsum_transposed_operand", "einsum", [transposed(randn(2, 3)), randn(3, 4)], equation="ij,jk->ik"))
    add(make_case("einsum_upper_labels", "einsum", [randn(2, 3), randn(3, 2)], equation="aB,Ba->"))
    add(make_case("einsum_zero_size_contraction", "einsum", [randn(2, 0), randn(0, 3)], equation="ij,jk->ik"))
    add(make_case("einsum_i64", "einsum", [ints(2, 3), ints(3)], equation="ij,j->i"))
    add(make_case("einsum_spaces", "einsum", [randn(2, 3), randn(3)], equation=" i j , j -> i "))
    add(make_case("einsum_0dim_operand", "einsum", [randn(), randn(3)], equation=",i->i"))


def elementwise_cases(add):
    add(make_case("lerp_scalar_weight", "lerp", [randn(2, 3), randn(2, 3)], weight=0.3))
    add(make_case("lerp_scalar_weight_far_f32", "lerp", [randn(4, dtype=F32), randn(4, dtype=F32)], weight=0.75))
    add(make_case("lerp_scalar_weight_int", "lerp", [randn(3), randn(3)], weight=2))
    add(make_case("lerp_tensor_weight_broadcast", "lerp", [randn(3, 1), randn(1, 4), randn(4).mul(0.6)]))
    add(make_case("lerp_tensor_weight_f32", "lerp", [randn(2, 3, dtype=F32), randn(2, 3, dtype=F32), randn(2, 3, dtype=F32)]))
    add(make_case("lerp_transposed_self", "lerp", [transposed(randn(2, 3)), randn(2, 3), randn(1)]))
    add(make_case("lerp_0dim_weight", "lerp", [randn(3), randn(3), randn()]))
    add(make_case("nan_to_num_defaults_f32", "nan_to_num", [layout(torch.tensor([4.0, 0.0, -1.0, 0.25], dtype=F32), "rsqrt")], nograd=True))
    add(make_case("nan_to_num_defaults_f64_neginf", "nan_to_num", [layout(torch.tensor([0.0, -2.0, 1.0]), "log")], nograd=True))
    add(make_case("nan_to_num_values", "nan_to_num", [layout(torch.tensor([4.0, 0.0, -1.0]), "rsqrt")], nograd=True, nan=1.5, posinf=100.0, neginf=-7.0))
    add(make_case("nan_to_num_neginf_value", "nan_to_num", [layout(torch.tensor([0.0, -2.0, 3.0], dtype=F32), "log")], nograd=True, neginf=-3.0))
    add(make_case("nan_to_num_finite_grad", "nan_to_num", [randn(2, 3)], nan=2.0))
    add(make_case("nan_to_num_i64", "nan_to_num", [ints(4)]))


def repeat_cases(add):
    add(make_case("repeat_interleave_int_flat", "repeat_interleave", [randn(2, 3)], repeats=2))
    add(make_case("repeat_interleave_int_dim", "repeat_interleave", [randn(2, 3, dtype=F32)], repeats=3, dim=1))
    add(make_case("repeat_interleave_tensor_dim0", "repeat_interleave", [randn(3, 2), torch.tensor([2, 0, 1])], dim=0))
    add(make_case("repeat_interleave_tensor_negative_dim_output_size", "repeat_interleave", [transposed(randn(2, 3)), torch.tensor([1, 3, 2])], dim=-1, output_size=6))
    add(make_case("repeat_interleave_one_count_broadcasts", "repeat_interleave", [randn(2, 2), torch.tensor([2])], dim=0))
    add(make_case("repeat_interleave_i64_flat", "repeat_interleave", [ints(2, 2), torch.tensor([1, 0, 2, 1])]))
    add(make_case("repeat_interleave_0dim", "repeat_interleave", [randn()], repeats=3))
    add(make_case("repeat_interleave_counts", "repeat_interleave.Tensor", [torch.tensor([2, 0, 1, 3])]))
    add(make_case("repeat_interleave_counts_output_size", "repeat_interleave.Tensor", [torch.tensor([1, 2])], output_size=3))


def scatter_reduce_cases(add):
    # Ties and zeros on purpose: amax/amin share the gradient among ties, prod handles zeros.
    base = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
    src = torch.tensor([[1.0, 4.0, 0.5], [-2.0, 4.0, 0.0], [3.0, 2.0, 2.0]])
    index = torch.tensor([[0, 1, 0], [1, 1, 1], [1, 0, 1]])
    for reduce in ["sum", "prod", "mean", "amax", "amin"]:
        for include_self in [True, False]:
            name = f"scatter_reduce_{reduce}_{'include' if include_self else 'exclude'}_self"
            add(make_case(name, "scatter_reduce", [base.clone(), index, src.clone()], dim=0, reduce=reduce, include_self=include_self))
    add(make_case("scatter_reduce_sum_dim1_f32", "scatter_reduce", [randn(3, 4, dtype=F32), idx(3, 5, hi=4), randn(3, 5, dtype=F32)], dim=1, reduce="sum"))
    add(make_case("scatter_reduce_mean_i64_floors", "scatter_reduce", [torch.tensor([-5, 7, 2]), torch.tensor([0, 0, 1, 0]), torch.tensor([2, 3, 4, -9])], dim=0, reduce="mean"))
    add(make_case("scatter_reduce_amax_i64_exclude", "scatter_reduce", [ints(2, 3), idx(2, 3, hi=2), ints(2, 3)], dim=0, reduce="amax", include_self=False))
    add(make_case("scatter_reduce_prod_transposed", "scatter_reduce", [transposed(randn(4, 3)), idx(2, 4, hi=3), randn(2, 4)], dim=1, reduce="prod"))
    add(make_case("scatter_reduce_amin_smaller_index_nograd", "scatter_reduce", [randn(3, 3), idx(2, 2, hi=3), randn(3, 3)], dim=0, reduce="amin", nograd=True))
    add(make_case("scatter_reduce_1d_negative_dim", "scatter_reduce", [randn(4), idx(6, hi=4), randn(6)], dim=-1, reduce="mean", include_self=False))


def complex_pad_cases(add):
    """reflect, replicate and circular padding of complex tensors (PyTorch 1.13 pads and differentiates them)."""
    def crandn(*shape, dtype=torch.complex128):
        return torch.complex(randn(*shape), randn(*shape)).to(dtype)

    add(make_case("pad_reflect_1d_complex128", "pad", [crandn(2, 3, 5)], pad=[2, 1], mode="reflect"))
    add(make_case("pad_replicate_2d_complex64", "pad", [crandn(1, 2, 3, 4, dtype=torch.complex64)], pad=[1, 2, 0, 1],
                  mode="replicate"))
    add(make_case("pad_circular_3d_complex128", "pad", [crandn(1, 1, 2, 3, 3)], pad=[1, 1, 0, 1, 1, 0], mode="circular"))


def cases():
    c = []
    for part in (pad_cases, einsum_cases, elementwise_cases, repeat_cases, scatter_reduce_cases, complex_pad_cases):
        part(c.append)
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_pad.py", 20261203, cases)


if __name__ == "__main__":
    main()
