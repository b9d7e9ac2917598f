#!/usr/bin/python3
"""Writes tests/golden/half.json: PyTorch 1.13's results for float16 and bfloat16 tensors: elementwise ops,
promotion with the other dtypes, reductions (accumulating in float32), softmax, matmul, casts, index and sort
ops, with gradients.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_half.py

PyTorch 1.13's CPU build refuses many float16 ops that its CUDA build runs ("exp_vml_cpu" not implemented for
'Half'); tensord runs them on both devices, as later PyTorch releases do. For those cases the reference is what
PyTorch's CUDA kernels compute: the op and its gradient in float32 on the same (exactly widened) inputs, each
result rounded to float16 once. Such cases carry "reference": "float32". Every other case is PyTorch's own
float16/bfloat16 result.
"""

import os

import torch

from generate import (BF16, BOOL, F16, F32, F64, I64, bools, encode_kwargs, encode_tensor, ints, make_case, nonzero,
                      positive, randn, transposed, unit, write_fixture)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "half.json")


def half_case(name, op, inputs, nograd=False, **kwargs):
    """make_case, or, where PyTorch's CPU has no float16 kernel for op, the float32 reference rounded."""
    try:
        return make_case(name, op, inputs, nograd=nograd, **kwargs)
    except RuntimeError as e:
        if "not implemented for 'Half'" not in str(e) and "not implemented for 'BFloat16'" not in str(e):
            raise
    return float32_reference_case(name, op, inputs, nograd, **kwargs)


def float32_reference_case(name, op, inputs, nograd, **kwargs):
    from generate import apply  # the same call convention as make_case

    leaves, layouts, wide = [], [], []
    for x in inputs:
        leaf, layout = x if isinstance(x, tuple) else (x, None)
        leaves.append(leaf)
        layouts.append(layout)
        w = leaf.float() if leaf.dtype in (F16, BF16) else leaf.clone()
        wide.append(w.requires_grad_(w.is_floating_point() and not nograd))
    narrow = next(leaf.dtype for leaf in leaves if leaf.dtype in (F16, BF16))
    args = [apply(lay["op"], [w], lay["kwargs"]) if lay else w for w, lay in zip(wide, layouts)]
    out = apply(op, args, kwargs)
    extra = []
    if isinstance(out, tuple):
        out, extra = out[0], list(out[1:])
    to_narrow = lambda t: t.to(narrow) if t.dtype == F32 else t
    case = {
        "name": name,
        "op": op,
        "reference": "float32",
        "inputs": [dict(encode_tensor(leaf), layout=lay) for leaf, lay in zip(leaves, layouts)],
        "kwargs": encode_kwargs(kwargs),
        "expected": encode_tensor(to_narrow(out.detach())),
        "grad_weight": None,
        "grads": [None] * len(leaves),
    }
    if extra:
        case["extra_outputs"] = [encode_tensor(to_narrow(t.detach())) for t in extra]
    if nograd:
        case["nograd"] = True
    if out.requires_grad:
        w = randn(*out.shape, dtype=narrow)
        (out * w.float()).sum().backward()
        case["grad_weight"] = encode_tensor(w)
        case["grads"] = [encode_tensor(leaf_w.grad.to(leaf.dtype)) if leaf_w.grad is not None else None
                         for leaf, leaf_w in zip(leaves, wide)]
    return case


def distinct(*shape, dtype):
    """Distinct values, exact in float16 and bfloat16 (quarters from -n/8 up)."""
    n = torch.Size(shape).numel()
    return torch.randperm(n).reshape(shape).to(F64).sub(n // 2).div(4).to(dtype)


def cases():
    c = []
    add = c.append
    short = {F16: "f16", BF16: "bf16"}

    for dt in (F16, BF16):
        s = short[dt]
        # ---- elementwise unary: float math in float32, rounded once ----
        for op, make in [("exp", randn), ("log", positive), ("sqrt", positive), ("rsqrt", positive),
                         ("sin", randn), ("tanh", randn), ("sigmoid", randn), ("erf", randn), ("erfinv", unit),
                         ("reciprocal", nonzero), ("expm1", randn), ("atan", randn)]:
            add(half_case(f"half_{op}_{s}", op, [make(2, 3, dtype=dt)]))
        add(half_case(f"half_exp_{s}_transposed", "exp", [transposed(randn(3, 4, dtype=dt))]))
        for op in ["abs", "neg", "floor", "round", "relu", "sign", "frac"]:
            add(half_case(f"half_{op}_{s}", op, [randn(2, 5, dtype=dt).mul(3)]))
        for op in ["isnan", "isfinite", "logical_not"]:
            add(half_case(f"half_{op}_{s}", op, [randn(4, dtype=dt)]))

        # ---- elementwise binary ----
        add(half_case(f"half_add_{s}", "add", [randn(2, 3, dtype=dt), randn(2, 3, dtype=dt)]))
        add(half_case(f"half_add_alpha_{s}", "add", [randn(2, 3, dtype=dt), randn(2, 3, dtype=dt)], alpha=2.5))
        add(half_case(f"half_sub_broadcast_{s}", "sub", [randn(3, 1, dtype=dt), randn(4, dtype=dt)]))
        add(half_case(f"half_mul_transposed_{s}", "mul", [transposed(randn(3, 4, dtype=dt)), randn(3, 4, dtype=dt)]))
        add(half_case(f"half_div_{s}", "div", [randn(2, 3, dtype=dt), nonzero(2, 3, dtype=dt)]))
        add(half_case(f"half_pow_{s}", "pow", [positive(2, 3, dtype=dt), randn(2, 3, dtype=dt)]))
        a, b = randn(3, 4, dtype=dt), randn(3, 4, dtype=dt)
        b[0, :2] = a[0, :2]
        add(half_case(f"half_maximum_ties_{s}", "maximum", [a, b]))
        add(half_case(f"half_minimum_{s}", "minimum", [a, b]))
        add(half_case(f"half_atan2_{s}", "atan2", [randn(2, 3, dtype=dt), randn(2, 3, dtype=dt)]))
        add(half_case(f"half_fmod_{s}", "fmod", [randn(5, dtype=dt).mul(4), nonzero(5, dtype=dt)], nograd=True))
        add(half_case(f"half_remainder_{s}", "remainder", [randn(5, dtype=dt).mul(4), nonzero(5, dtype=dt)], nograd=True))
        add(half_case(f"half_floor_divide_{s}", "floor_divide", [randn(5, dtype=dt).mul(4), nonzero(5, dtype=dt)], nograd=True))
        # Rounding matters: 1 + 2^-11 is a float16 tie (to even: 1), 1 + 2^-8 a bfloat16 one.
        add(half_case(f"half_add_rounds_to_even_{s}", "add",
                      [torch.ones(3, dtype=dt), torch.tensor([2.0 ** -11, 2.0 ** -8, 3 * 2.0 ** -11], dtype=dt)]))
        add(half_case(f"half_mul_overflows_to_inf_{s}", "mul",
                      [torch.tensor([300.0, -300.0, 2.0], dtype=dt), torch.tensor([300.0, 300.0, 2.0], dtype=dt)]))

        # ---- comparisons, where, clamp-like ----
        x, y = randn(3, 4, dtype=dt), randn(3, 4, dtype=dt)
        y[1, :] = x[1, :]
        for op in ["eq", "lt", "ge"]:
            add(half_case(f"half_{op}_{s}", op, [x, y]))
        add(half_case(f"half_where_{s}", "where", [bools(3, 4), randn(3, 4, dtype=dt), randn(4, dtype=dt)]))
        add(half_case(f"half_lerp_{s}", "lerp", [randn(5, dtype=dt), randn(5, dtype=dt)], weight=0.25))
        add(half_case(f"half_nan_to_num_{s}", "nan_to_num",
                      [torch.tensor([float("nan"), float("inf"), -float("inf"), 1.5], dtype=dt)]))

        # ---- reductions ----
        add(half_case(f"half_sum_{s}", "sum", [randn(3, 4, dtype=dt)]))
        add(half_case(f"half_sum_dim_keepdim_{s}", "sum", [randn(3, 4, dtype=dt)], dim=[0], keepdim=True))
        add(half_case(f"half_sum_dtype_f32_{s}", "sum", [randn(3, 4, dtype=dt)], dim=[1], dtype=F32))
        add(half_case(f"half_mean_{s}", "mean", [randn(4, 5, dtype=dt)], dim=[1]))
        add(half_case(f"half_prod_{s}", "prod", [randn(5, dtype=dt).add(1.5)]))
        add(half_case(f"half_max_{s}", "max", [randn(3, 4, dtype=dt)]))
        add(half_case(f"half_max_dim_{s}", "max.dim", [randn(3, 4, dtype=dt)], dim=1))
        add(half_case(f"half_amin_{s}", "amin", [randn(3, 4, dtype=dt)], dim=[0]))
        add(half_case(f"half_argmax_{s}", "argmax", [randn(3, 4, dtype=dt)], dim=1))
        add(half_case(f"half_var_{s}", "var", [randn(3, 6, dtype=dt)], dim=[1]))
        add(half_case(f"half_std_{s}", "std", [randn(8, dtype=dt)]))
        add(half_case(f"half_logsumexp_{s}", "logsumexp", [randn(3, 4, dtype=dt)], dim=[1]))
        add(half_case(f"half_norm_{s}", "norm", [randn(3, 4, dtype=dt)]))
        add(half_case(f"half_cumsum_{s}", "cumsum", [randn(3, 4, dtype=dt)], dim=1))
        add(half_case(f"half_cumprod_{s}", "cumprod", [nonzero(2, 4, dtype=dt)], dim=1))
        add(half_case(f"half_softmax_{s}", "softmax", [randn(3, 5, dtype=dt).mul(3)], dim=1))
        add(half_case(f"half_softmax_dim0_{s}", "softmax", [randn(3, 5, dtype=dt)], dim=0))
        add(half_case(f"half_log_softmax_{s}", "log_softmax", [randn(2, 6, dtype=dt).mul(3)], dim=-1))
        add(half_case(f"half_softmax_to_f32_{s}", "softmax", [randn(2, 4, dtype=dt)], dim=1, dtype=F32))

        # ---- matmul (float32 accumulation) ----
        add(half_case(f"half_mm_{s}", "mm", [randn(3, 5, dtype=dt), randn(5, 4, dtype=dt)]))
        add(half_case(f"half_matmul_transposed_{s}", "matmul", [transposed(randn(3, 4, dtype=dt)), randn(4, 2, dtype=dt)]))
        add(half_case(f"half_bmm_{s}", "bmm", [randn(2, 3, 4, dtype=dt), randn(2, 4, 2, dtype=dt)]))
        add(half_case(f"half_matmul_1d_{s}", "matmul", [randn(6, dtype=dt), randn(6, dtype=dt)]))

        # ---- index and sort ----
        add(half_case(f"half_gather_{s}", "gather", [randn(3, 4, dtype=dt), torch.randint(0, 4, (3, 2))], dim=1))
        add(half_case(f"half_scatter_add_{s}", "scatter_add",
                      [randn(3, 4, dtype=dt), torch.randint(0, 3, (5, 4)), randn(5, 4, dtype=dt)], dim=0))
        add(half_case(f"half_index_select_{s}", "index_select", [randn(4, 3, dtype=dt), torch.tensor([3, 0, 0])], dim=0))
        add(half_case(f"half_masked_fill_{s}", "masked_fill", [randn(3, 4, dtype=dt), bools(3, 4)], value=-1.5))
        # Distinct values: the order of ties is not part of these ops' contract.
        add(half_case(f"half_sort_{s}", "sort", [distinct(3, 5, dtype=dt)], dim=1, descending=True))
        add(half_case(f"half_topk_{s}", "topk", [distinct(2, 6, dtype=dt)], k=3))

    # ---- casts, both directions ----
    for dt in (F16, BF16):
        s = short[dt]
        add(half_case(f"half_to_{s}_from_f64", "to", [randn(2, 3).mul(7)], dtype=dt))
        add(half_case(f"half_to_f32_from_{s}", "to", [randn(2, 3, dtype=dt)], dtype=F32))
        add(half_case(f"half_to_i64_from_{s}", "to", [randn(6, dtype=dt).mul(5)], dtype=I64))
        add(half_case(f"half_to_{s}_from_i64", "to", [ints(5, lo=-3000, hi=3000)], dtype=dt))
        add(half_case(f"half_to_bool_from_{s}", "to", [torch.tensor([0.0, -0.0, 0.5, float("inf")], dtype=dt)], dtype=BOOL))
    add(half_case("half_to_bf16_from_f16", "to", [randn(2, 3, dtype=F16).mul(100)], dtype=BF16))
    add(half_case("half_to_f16_from_bf16", "to", [randn(2, 3, dtype=BF16)], dtype=F16))
    # Overflow and underflow: 70000 is beyond float16 (inf); 1e-8 underflows to 0, 3e-6 is subnormal.
    add(half_case("half_to_f16_overflow_subnormal", "to",
                  [torch.tensor([70000.0, -70000.0, 65504.0, 65519.0, 1e-8, 3e-6, 6.1e-5])], dtype=F16))

    # ---- promotion with the other dtypes ----
    add(half_case("half_promote_f16_bf16_gives_f32", "add", [randn(3, dtype=F16), randn(3, dtype=BF16)]))
    add(half_case("half_promote_f16_f32_gives_f32", "mul", [randn(3, dtype=F16), randn(3, dtype=F32)]))
    add(half_case("half_promote_bf16_f64_gives_f64", "add", [randn(3, dtype=BF16), randn(3, dtype=F64)]))
    add(half_case("half_promote_i64_f16_gives_f16", "add", [ints(3), randn(3, dtype=F16)]))
    add(half_case("half_promote_bool_bf16_gives_bf16", "mul", [bools(4), randn(4, dtype=BF16)]))
    add(half_case("half_promote_i64_0dim_f16_gives_f16", "add", [ints(3), randn(dtype=F16)]))
    add(half_case("half_promote_f32_0dim_f16_gives_f32", "add", [randn(3, dtype=F32), randn(dtype=F16)]))
    add(half_case("half_promote_f16_0dim_f64_gives_f16", "mul", [randn(3, dtype=F16), randn(dtype=F64)]))
    add(half_case("half_promote_bf16_0dim_f16_gives_bf16", "sub", [randn(3, dtype=BF16), randn(dtype=F16)]))
    add(half_case("half_promote_f16_div_i64", "div", [ints(4), nonzero(4, dtype=F16)]))

    # ---- accumulation: 4096 x 0.1 sums to ~409.5 in float32; a float16 accumulator would stop at 256 ----
    add(half_case("half_sum_accumulates_in_f32_f16", "sum", [torch.full((4096,), 0.1, dtype=F16)]))
    add(half_case("half_sum_accumulates_in_f32_bf16", "sum", [torch.full((4096,), 0.1, dtype=BF16)]))
    add(half_case("half_mean_accumulates_in_f32_f16", "mean", [torch.full((64, 128), 0.3, dtype=F16)], dim=[1]))
    add(half_case("half_cumsum_accumulates_in_f32_bf16", "cumsum", [torch.full((1024,), 0.01, dtype=BF16)], dim=0))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_half.py", 20261203, cases)


if __name__ == "__main__":
    main()
