#!/usr/bin/python3
"""Writes tests/golden/pool.json: PyTorch 1.13's results and gradients for the pooling ops: max pooling
(1-3 d, with indices), average pooling (1-3 d), adaptive average and max pooling, max_unpool2d,
fractional_max_pool2d, lp_pool1d/2d, and aten's gradient ops (max_pool2d_with_indices_backward, ...), over
strides, padding, dilation, ceil_mode, count_include_pad, divisor_override, unbatched, empty and
non-contiguous inputs.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_pool.py
"""

import os

import torch
import torch.nn.functional as F

import generate
from generate import F32, F64, I64, make_case, transposed, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pool.json")

_base_apply = generate.apply


def pool_apply(op, args, kwargs):
    """The PyTorch call behind each registry name (kwargs named as in tensord's signatures)."""
    if op in ("max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices"):
        return getattr(F, op.replace("_with_indices", ""))(*args, return_indices=True, **kwargs)
    if op in ("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
              "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "lp_pool1d", "lp_pool2d"):
        return getattr(F, op)(*args, **kwargs)
    if op in ("adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"):
        return getattr(F, op)(*args, return_indices=True, **kwargs)
    if op == "max_unpool2d":
        return torch._C._nn.max_unpool2d(*args, **kwargs)
    if op == "max_unpool3d":
        return torch._C._nn.max_unpool3d(*args, kwargs["output_size"], kwargs["stride"], kwargs["padding"])
    if op in ("fractional_max_pool2d", "fractional_max_pool3d"):
        # random_samples is not differentiable in PyTorch: it must not require grad there.
        x, samples = args
        return getattr(torch._C._nn, op)(x, kwargs["kernel_size"], kwargs["output_size"], samples.detach())
    if op.endswith("_backward") or op in ("_adaptive_avg_pool2d", "_adaptive_avg_pool3d"):
        return getattr(torch.ops.aten, op)(*_backward_args(op, args, kwargs))
    return _base_apply(op, args, kwargs)


def _backward_args(op, args, kwargs):
    if op in ("_adaptive_avg_pool2d", "_adaptive_avg_pool3d"):
        return [args[0], kwargs["output_size"]]
    if op in ("_adaptive_avg_pool2d_backward", "adaptive_max_pool2d_backward", "_adaptive_avg_pool3d_backward",
              "adaptive_max_pool3d_backward"):
        return list(args)
    grad, self = args[0], args[1]
    k = [kwargs[n] for n in ("kernel_size", "stride", "padding")]
    if op.startswith("max_pool"):
        return [grad, self, *k, kwargs["dilation"], kwargs["ceil_mode"], args[2]]
    return [grad, self, *k, kwargs["ceil_mode"], kwargs["count_include_pad"], kwargs.get("divisor_override")]


generate.apply = pool_apply


def distinct(*shape, dtype=F64):
    """Values without ties (a permutation of a grid, scaled), so max pooling picks one element per window."""
    n = 1
    for s in shape:
        n *= s
    return (torch.randperm(n, dtype=F64).sub(n / 2).div(4) + torch.rand(n, dtype=F64).mul(0.1).round(decimals=2)).reshape(shape).to(dtype)


def randn(*shape, dtype=F64):
    return generate.randn(*shape, dtype=dtype)


def max_pool_cases(add):
    add(make_case("max_pool2d_k2", "max_pool2d", [distinct(2, 3, 6, 6)], kernel_size=2))
    add(make_case("max_pool2d_k2_f32", "max_pool2d", [distinct(2, 3, 6, 6, dtype=F32)], kernel_size=2))
    add(make_case("max_pool2d_stride_pad_dilation", "max_pool2d", [distinct(2, 2, 7, 8)], kernel_size=[3, 2], stride=[2, 1], padding=[1, 1], dilation=[2, 3]))
    add(make_case("max_pool2d_ceil_mode", "max_pool2d", [distinct(1, 2, 7, 5)], kernel_size=3, stride=2, ceil_mode=True))
    add(make_case("max_pool2d_ceil_pad_drop_last", "max_pool2d", [distinct(1, 1, 4, 7)], kernel_size=2, stride=3, padding=1, ceil_mode=True))
    add(make_case("max_pool2d_unbatched", "max_pool2d", [distinct(3, 5, 5)], kernel_size=2, stride=1))
    add(make_case("max_pool2d_transposed", "max_pool2d", [transposed(distinct(2, 2, 6, 5))], kernel_size=2, stride=[1, 2], padding=1))
    add(make_case("max_pool2d_empty_batch", "max_pool2d", [distinct(0, 2, 4, 4)], kernel_size=2))
    add(make_case("max_pool2d_with_indices_basic", "max_pool2d_with_indices", [distinct(2, 2, 5, 6)], kernel_size=2, stride=1))
    add(make_case("max_pool2d_with_indices_ceil_dilation_f32", "max_pool2d_with_indices", [distinct(1, 3, 9, 9, dtype=F32)], kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True))
    add(make_case("max_pool2d_with_indices_transposed", "max_pool2d_with_indices", [transposed(distinct(1, 2, 5, 4), 1, 3)], kernel_size=[2, 3], stride=[2, 1]))
    add(make_case("max_pool1d_basic", "max_pool1d", [distinct(2, 3, 9)], kernel_size=3))
    add(make_case("max_pool1d_ceil_pad_dilation", "max_pool1d", [distinct(3, 10)], kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True))
    add(make_case("max_pool1d_with_indices", "max_pool1d_with_indices", [distinct(2, 2, 8, dtype=F32)], kernel_size=2, stride=1, padding=1))
    add(make_case("max_pool1d_with_indices_transposed", "max_pool1d_with_indices", [transposed(distinct(2, 7, 3))], kernel_size=3, stride=2, ceil_mode=True))
    add(make_case("max_pool3d_basic", "max_pool3d", [distinct(1, 2, 4, 4, 4)], kernel_size=2))
    add(make_case("max_pool3d_unbatched_options", "max_pool3d", [distinct(2, 5, 4, 6)], kernel_size=[3, 2, 2], stride=[2, 1, 2], padding=[1, 0, 1], dilation=[1, 2, 1], ceil_mode=True))
    add(make_case("max_pool3d_with_indices", "max_pool3d_with_indices", [distinct(2, 1, 3, 4, 5, dtype=F32)], kernel_size=2, stride=1))


def avg_pool_cases(add):
    add(make_case("avg_pool2d_k2", "avg_pool2d", [randn(2, 3, 6, 6)], kernel_size=2))
    add(make_case("avg_pool2d_k2_f32", "avg_pool2d", [randn(2, 3, 6, 6, dtype=F32)], kernel_size=2))
    add(make_case("avg_pool2d_pad_include", "avg_pool2d", [randn(1, 2, 5, 5)], kernel_size=3, stride=2, padding=1))
    add(make_case("avg_pool2d_pad_exclude", "avg_pool2d", [randn(1, 2, 5, 5)], kernel_size=3, stride=2, padding=1, count_include_pad=False))
    add(make_case("avg_pool2d_ceil_include", "avg_pool2d", [randn(1, 1, 6, 7)], kernel_size=[3, 2], stride=[2, 3], padding=1, ceil_mode=True))
    add(make_case("avg_pool2d_ceil_exclude", "avg_pool2d", [randn(1, 1, 6, 7)], kernel_size=[3, 2], stride=[2, 3], padding=1, ceil_mode=True, count_include_pad=False))
    add(make_case("avg_pool2d_divisor_override", "avg_pool2d", [randn(2, 4, 4)], kernel_size=2, stride=1, divisor_override=3))
    add(make_case("avg_pool2d_transposed", "avg_pool2d", [transposed(randn(1, 2, 5, 6))], kernel_size=2, stride=1, padding=1))
    add(make_case("avg_pool2d_i64", "avg_pool2d", [generate.ints(1, 2, 4, 4)], kernel_size=2, stride=1))
    add(make_case("avg_pool2d_empty_batch", "avg_pool2d", [randn(0, 2, 4, 4)], kernel_size=2))
    add(make_case("avg_pool1d_basic", "avg_pool1d", [randn(2, 3, 8)], kernel_size=3))
    add(make_case("avg_pool1d_pad_ceil_exclude", "avg_pool1d", [randn(3, 9, dtype=F32)], kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False))
    add(make_case("avg_pool3d_basic", "avg_pool3d", [randn(1, 2, 4, 4, 4)], kernel_size=2))
    add(make_case("avg_pool3d_options", "avg_pool3d", [randn(2, 5, 4, 6)], kernel_size=[3, 2, 2], stride=[2, 1, 2], padding=[1, 0, 1], ceil_mode=True, count_include_pad=False))
    add(make_case("avg_pool3d_divisor_f32", "avg_pool3d", [randn(1, 1, 3, 4, 4, dtype=F32)], kernel_size=2, stride=1, divisor_override=5))


def adaptive_cases(add):
    add(make_case("adaptive_avg_pool2d_shrink", "adaptive_avg_pool2d", [randn(2, 3, 7, 5)], output_size=[3, 2]))
    add(make_case("adaptive_avg_pool2d_grow_f32", "adaptive_avg_pool2d", [randn(1, 2, 3, 4, dtype=F32)], output_size=[5, 7]))
    add(make_case("adaptive_avg_pool2d_1x1", "adaptive_avg_pool2d", [randn(2, 3, 4, 5)], output_size=1))
    add(make_case("adaptive_avg_pool2d_unbatched_transposed", "adaptive_avg_pool2d", [transposed(randn(2, 6, 5))], output_size=[4, 3]))
    add(make_case("_adaptive_avg_pool2d_direct", "_adaptive_avg_pool2d", [randn(1, 2, 5, 5)], output_size=[2, 3]))
    add(make_case("adaptive_avg_pool1d_basic", "adaptive_avg_pool1d", [randn(2, 3, 10)], output_size=4))
    add(make_case("adaptive_avg_pool1d_grow_unbatched", "adaptive_avg_pool1d", [randn(2, 3, dtype=F32)], output_size=5))
    add(make_case("adaptive_max_pool2d_shrink", "adaptive_max_pool2d", [distinct(2, 2, 7, 5)], output_size=[3, 2]))
    add(make_case("adaptive_max_pool2d_grow_f32", "adaptive_max_pool2d", [distinct(1, 2, 3, 4, dtype=F32)], output_size=[4, 6]))
    add(make_case("adaptive_max_pool2d_transposed", "adaptive_max_pool2d", [transposed(distinct(1, 3, 6, 6))], output_size=4))
    add(make_case("adaptive_max_pool1d_basic", "adaptive_max_pool1d", [distinct(2, 3, 10)], output_size=4))
    add(make_case("adaptive_max_pool1d_unbatched", "adaptive_max_pool1d", [distinct(3, 7, dtype=F32)], output_size=3))


def other_cases(add):
    x = distinct(2, 2, 4, 6)
    _, idx = F.max_pool2d(x, 2, return_indices=True)
    add(make_case("max_unpool2d_default", "max_unpool2d", [randn(2, 2, 2, 3), idx], output_size=[4, 6]))
    _, idx = F.max_pool2d(x, 2, stride=2, return_indices=True)
    add(make_case("max_unpool2d_larger_f32", "max_unpool2d", [randn(2, 2, 2, 3, dtype=F32), idx], output_size=[5, 7]))
    _, idx3 = F.max_pool2d(distinct(3, 6, 6), 3, stride=2, padding=1, return_indices=True)
    add(make_case("max_unpool2d_unbatched", "max_unpool2d", [randn(3, 3, 3), idx3], output_size=[6, 6]))
    add(make_case("fractional_max_pool2d_basic", "fractional_max_pool2d", [distinct(2, 2, 9, 8), torch.rand(2, 2, 2, dtype=F64)], kernel_size=2, output_size=[5, 4]))
    add(make_case("fractional_max_pool2d_f32_k3", "fractional_max_pool2d", [distinct(1, 3, 10, 11, dtype=F32), torch.rand(1, 3, 2)], kernel_size=[3, 2], output_size=[6, 7]))
    add(make_case("fractional_max_pool2d_unbatched", "fractional_max_pool2d", [distinct(2, 7, 7), torch.rand(1, 2, 2, dtype=F64)], kernel_size=2, output_size=[3, 6]))
    add(make_case("lp_pool2d_p2", "lp_pool2d", [randn(1, 2, 6, 6)], norm_type=2.0, kernel_size=2))
    add(make_case("lp_pool2d_p3_stride_ceil_f32", "lp_pool2d", [randn(1, 2, 5, 6, dtype=F32).abs().add(0.1)], norm_type=3.0, kernel_size=[2, 3], stride=[2, 2], ceil_mode=True))
    add(make_case("lp_pool1d_p1", "lp_pool1d", [randn(2, 3, 8).abs().add(0.1)], norm_type=1.0, kernel_size=3, stride=2))
    add(make_case("lp_pool1d_p2_ceil", "lp_pool1d", [randn(3, 7)], norm_type=2.0, kernel_size=2, ceil_mode=True))


def backward_op_cases(add):
    """aten's gradient ops, called directly: their own gradients (double backward) against PyTorch's."""
    x = distinct(2, 2, 5, 6)
    _, idx = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    add(make_case("max_pool2d_with_indices_backward_basic", "max_pool2d_with_indices_backward", [randn(2, 2, 3, 3), x, idx],
                  kernel_size=[3, 3], stride=[2, 2], padding=[1, 1], dilation=[1, 1], ceil_mode=False))
    _, idx = F.max_pool2d(x, 2, stride=1, return_indices=True)
    add(make_case("max_pool2d_with_indices_backward_overlap_f32", "max_pool2d_with_indices_backward",
                  [randn(2, 2, 4, 5, dtype=F32), x.float(), idx], kernel_size=[2, 2], stride=[1, 1], padding=[0, 0], dilation=[1, 1], ceil_mode=False))
    x3 = distinct(1, 2, 3, 4, 4)
    _, idx = F.max_pool3d(x3, 2, stride=1, return_indices=True)
    add(make_case("max_pool3d_with_indices_backward_basic", "max_pool3d_with_indices_backward", [randn(1, 2, 2, 3, 3), x3, idx],
                  kernel_size=[2, 2, 2], stride=[1, 1, 1], padding=[0, 0, 0], dilation=[1, 1, 1], ceil_mode=False))
    add(make_case("avg_pool2d_backward_basic", "avg_pool2d_backward", [randn(2, 2, 3, 3), randn(2, 2, 5, 6)],
                  kernel_size=[3, 3], stride=[2, 2], padding=[1, 1], ceil_mode=False, count_include_pad=True, divisor_override=None))
    add(make_case("avg_pool2d_backward_exclude_ceil", "avg_pool2d_backward", [randn(1, 1, 3, 4), randn(1, 1, 5, 6)],
                  kernel_size=[2, 2], stride=[2, 2], padding=[1, 1], ceil_mode=True, count_include_pad=False, divisor_override=None))
    add(make_case("avg_pool3d_backward_divisor", "avg_pool3d_backward", [randn(1, 1, 2, 3, 3), randn(1, 1, 3, 4, 4)],
                  kernel_size=[2, 2, 2], stride=[1, 1, 1], padding=[0, 0, 0], ceil_mode=False, count_include_pad=True, divisor_override=3))
    add(make_case("_adaptive_avg_pool2d_backward_basic", "_adaptive_avg_pool2d_backward", [randn(1, 2, 3, 2), randn(1, 2, 7, 5)]))
    xa = distinct(1, 2, 7, 5)
    _, idx = F.adaptive_max_pool2d(xa, [3, 2], return_indices=True)
    add(make_case("adaptive_max_pool2d_backward_basic", "adaptive_max_pool2d_backward", [randn(1, 2, 3, 2), xa, idx]))


def adaptive_3d_cases(add):
    add(make_case("adaptive_avg_pool3d_basic", "adaptive_avg_pool3d", [randn(2, 2, 5, 4, 6)], output_size=[3, 2, 4]))
    add(make_case("adaptive_avg_pool3d_unbatched_grow_f32", "adaptive_avg_pool3d", [randn(2, 2, 3, 2, dtype=F32)],
                  output_size=[3, 4, 3]))
    add(make_case("adaptive_avg_pool3d_ones", "adaptive_avg_pool3d", [randn(1, 3, 2, 3, 4)], output_size=1))
    add(make_case("_adaptive_avg_pool3d_transposed", "_adaptive_avg_pool3d", [transposed(randn(1, 2, 4, 4, 3))],
                  output_size=[2, 3, 2]))
    add(make_case("adaptive_max_pool3d_basic", "adaptive_max_pool3d", [distinct(2, 2, 5, 4, 6)], output_size=[2, 3, 4]))
    add(make_case("adaptive_max_pool3d_unbatched_f32", "adaptive_max_pool3d", [distinct(3, 4, 3, 5, dtype=F32)],
                  output_size=[2, 2, 3]))
    add(make_case("_adaptive_avg_pool3d_backward_basic", "_adaptive_avg_pool3d_backward",
                  [randn(1, 2, 3, 2, 2), randn(1, 2, 5, 4, 3)]))
    xa = distinct(1, 2, 5, 4, 3)
    _, idx = F.adaptive_max_pool3d(xa, [3, 2, 2], return_indices=True)
    add(make_case("adaptive_max_pool3d_backward_basic", "adaptive_max_pool3d_backward", [randn(1, 2, 3, 2, 2), xa, idx]))
    _, idx = F.max_pool3d(distinct(1, 2, 4, 4, 6), 2, return_indices=True)
    add(make_case("max_unpool3d_basic", "max_unpool3d", [randn(1, 2, 2, 2, 3), idx], output_size=[4, 4, 6],
                  stride=[2, 2, 2], padding=[0, 0, 0]))
    _, idx = F.max_pool3d(distinct(2, 5, 4, 5, dtype=F32), [2, 1, 2], stride=[2, 1, 2], return_indices=True)
    add(make_case("max_unpool3d_unbatched_larger_f32", "max_unpool3d", [randn(2, 2, 4, 2, dtype=F32), idx],
                  output_size=[5, 4, 5], stride=[2, 1, 2], padding=[0, 0, 0]))
    add(make_case("fractional_max_pool3d_basic", "fractional_max_pool3d",
                  [distinct(2, 2, 5, 6, 7), torch.rand(2, 2, 3, dtype=F64)], kernel_size=2, output_size=[3, 4, 5]))
    add(make_case("fractional_max_pool3d_unbatched_f32", "fractional_max_pool3d",
                  [distinct(2, 6, 5, 7, dtype=F32), torch.rand(1, 2, 3)], kernel_size=[3, 2, 2], output_size=[2, 3, 4]))


def cases():
    c = []
    for part in (max_pool_cases, avg_pool_cases, adaptive_cases, other_cases, backward_op_cases, adaptive_3d_cases):
        part(c.append)
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_pool.py", 20260115, cases)


if __name__ == "__main__":
    main()
