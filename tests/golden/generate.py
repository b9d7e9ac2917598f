#!/usr/bin/python3
"""Writes tests/golden/ops.json: PyTorch's results for tensord's ops, read by tests/core/golden_test.cpp.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate.py
CI has no PyTorch, so the generated JSON is committed; rerun this after adding or changing a case.

Each case calls one op the way golden_test.cpp does: getattr(torch.Tensor, op)(*inputs, **kwargs), with
kwargs named as in the op's signature. An input may carry a `layout`, another op applied to the stored
(contiguous) leaf before the call, so that the op sees a non-contiguous tensor (a transpose, an expand);
gradients are of the leaf. For an output that requires grad, the file stores w and the gradient of every
floating leaf for loss = (out * w).sum().
"""

import json
import math
import os

import numpy as np
import torch
import torch.autograd.forward_ad as fwAD

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "ops.json")

F32, F64, I64, BOOL = torch.float32, torch.float64, torch.int64, torch.bool
F16, BF16 = torch.float16, torch.bfloat16


def dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def randn(*shape, dtype=F64):
    """Normal values rounded to two decimals, so the inputs stay short and exact to read."""
    return torch.randn(shape, dtype=F64).mul(100).round().div(100).to(dtype)


def nonzero(*shape, dtype=F64):
    """Values of magnitude 0.5 or more, safe as divisors."""
    t = randn(*shape)
    return (t.sign() + (t == 0).double()).mul(t.abs() + 0.5).to(dtype)


def positive(*shape, dtype=F64):
    """Values in [0.1, ~3]: inside the domain of log, sqrt, rsqrt."""
    return randn(*shape).abs().add(0.1).to(dtype)


def unit(*shape, dtype=F64):
    """Values in (-0.9, 0.9): inside the domain of asin, acos, atanh, erfinv."""
    return randn(*shape).tanh().mul(0.9).mul(100).round().div(100).to(dtype)


def ints(*shape, lo=-9, hi=10):
    return torch.randint(lo, hi, shape, dtype=I64)


def bools(*shape):
    return torch.randint(0, 2, shape, dtype=I64).bool()


def transposed(t, dim0=-2, dim1=-1):
    """t, received by the op as a non-contiguous view: the leaf is t.transpose(dim0, dim1) made contiguous,
    and the layout transposes it back."""
    return (t.transpose(dim0, dim1).contiguous(), {"op": "transpose", "kwargs": {"dim0": dim0, "dim1": dim1}})


def expanded(t, size):
    """An input the op receives as t.expand(size): stride 0 on the broadcast dims."""
    return (t, {"op": "expand", "kwargs": {"size": list(size)}})


def encode_number(v):
    """A float for JSON: inf and NaN, which JSON lacks, as the strings "inf", "-inf" and "nan"."""
    return v if math.isfinite(v) else "nan" if math.isnan(v) else "inf" if v > 0 else "-inf"


def encode_tensor(t):
    if t.is_complex():
        # Complex values travel as [re, im] pairs; complex64 parts as their shortest float32 decimals.
        parts = t.detach().resolve_conj().reshape(-1)
        re, im = parts.real.tolist(), parts.imag.tolist()
        if t.dtype == torch.complex64:
            re, im = [float(str(np.float32(v))) for v in re], [float(str(np.float32(v))) for v in im]
        values = [[encode_number(r), encode_number(i)] for r, i in zip(re, im)]
        return {"shape": list(t.shape), "dtype": dtype_name(t.dtype), "values": values}
    values = t.detach().reshape(-1).tolist()
    if t.dtype in (F16, BF16):
        # Every float16 and bfloat16 value is a float32 value: its shortest float32 decimal reads back exactly.
        values = [float(str(np.float32(v))) for v in t.detach().float().reshape(-1).tolist()]
    elif t.dtype == F32:
        # The shortest decimal that reads back as the same float32: short, and exact once cast to float.
        values = [float(str(np.float32(v))) for v in values]
    if t.is_floating_point():
        # JSON has no inf or NaN: they travel as the strings "inf", "-inf" and "nan".
        values = [v if math.isfinite(v) else "nan" if math.isnan(v) else "inf" if v > 0 else "-inf" for v in values]
    return {"shape": list(t.shape), "dtype": dtype_name(t.dtype), "values": values}


def encode_kwargs(kwargs):
    """dtypes by name; a complex number as {"complex": [re, im]} (JSON has no complex numbers)."""
    out = {}
    for k, v in kwargs.items():
        out[k] = dtype_name(v) if isinstance(v, torch.dtype) else {"complex": [v.real, v.imag]} if isinstance(
            v, complex) else v
    return out


def fused_lstm_cell(input_gates, hidden_gates, cx, input_bias=None, hidden_bias=None):
    """torch._thnn_fused_lstm_cell, which PyTorch 1.13 has on CUDA only: its definition in PyTorch's ops (hy, cy
    and the activated gates i, f, g, o)."""
    gates = input_gates + hidden_gates
    if input_bias is not None:
        gates = gates + input_bias
    if hidden_bias is not None:
        gates = gates + hidden_bias
    i, f, g, o = gates.chunk(4, 1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    cy = f * cx + i * g
    return o * cy.tanh(), cy, torch.cat([i, f, g, o], 1)


def fused_gru_cell(input_gates, hidden_gates, hx, input_bias=None, hidden_bias=None):
    """torch._thnn_fused_gru_cell, which PyTorch 1.13 has on CUDA only: its definition in PyTorch's ops (hy and
    the workspace r, z, n, hx, h_n)."""
    if input_bias is not None:
        input_gates = input_gates + input_bias
    if hidden_bias is not None:
        hidden_gates = hidden_gates + hidden_bias
    ir, iz, i_n = input_gates.chunk(3, 1)
    hr, hz, hn = hidden_gates.chunk(3, 1)
    r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
    n = (i_n + r * hn).tanh()
    return n + z * (hx - n), torch.cat([r, z, n, hx, hn], 1)


def lstm_layer(input_gates, hx, cx, weight_hh, weight_hr=None, reverse=False):
    """tensord's _lstm_layer (core/ops/rnn_layer.cpp): one LSTM layer in one direction over every step of
    input_gates [steps, batch, 4 hidden], h projected by weight_hr^T where given (proj_size), in PyTorch's ops:
    the outputs, hy, cy, and every step's cell and activated gates. (weight_hr comes last in tensord's
    signature; the golden harness fills the op's Tensor arguments in order.)"""
    steps = input_gates.shape[0]
    out, cells, gates = [None] * steps, [None] * steps, [None] * steps
    h, c = hx, cx
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        h, c, gates[t] = fused_lstm_cell(input_gates[t], h @ weight_hh.t(), c)
        if weight_hr is not None:
            h = h @ weight_hr.t()
        out[t], cells[t] = h, c
    return torch.stack(out), h, c, torch.stack(cells), torch.stack(gates)


def gru_layer(input_gates, hx, weight_hh, bias_hh=None, reverse=False):
    """tensord's _gru_layer (core/ops/rnn_layer.cpp): one GRU layer in one direction over every step of input_gates
    [steps, batch, 3 hidden] (x W_ih^T + b_ih), in PyTorch's ops: the outputs, hy, and every step's workspace."""
    steps = input_gates.shape[0]
    out, ws = [None] * steps, [None] * steps
    h = hx
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        h, ws[t] = fused_gru_cell(input_gates[t], h @ weight_hh.t(), h, None, bias_hh)
        out[t] = h
    return torch.stack(out), h, torch.stack(ws)


def apply(op, args, kwargs):
    if op == "_gru_layer":
        return gru_layer(*args, **kwargs)
    if op == "_thnn_fused_lstm_cell":
        return fused_lstm_cell(*args, **kwargs)
    if op == "_lstm_layer":
        return lstm_layer(*args, **kwargs)
    if op == "_thnn_fused_gru_cell":
        return fused_gru_cell(*args, **kwargs)
    if op == "where":  # Tensor.where(condition, other) puts self second; torch.where matches our signature
        return torch.where(*args, **kwargs)
    if op.rstrip("_") in ("gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add"):
        # dim sits between the tensors in PyTorch's signature: pass it positionally there.
        kwargs = dict(kwargs)
        dim = kwargs.pop("dim")
        return getattr(torch.Tensor, op)(args[0], dim, *args[1:], **kwargs)
    if op in ("real", "imag"):  # properties on Tensor; torch.real/torch.imag are the functions
        return getattr(torch, op)(*args)
    if op == "pad":  # torch.nn.functional.pad, not a Tensor method
        return torch.nn.functional.pad(*args, **kwargs)
    if op == "einsum":  # the equation comes first, then the operands
        return torch.einsum(kwargs["equation"], *args)
    if op == "repeat_interleave.Tensor":  # only torch.repeat_interleave has the repeats-only form
        return torch.repeat_interleave(*args, **kwargs)
    if op == "tensordot":  # PyTorch takes the two dim lists as one `dims` pair
        return torch.tensordot(*args, dims=(kwargs["dims_self"], kwargs["dims_other"]))
    op = op.split(".")[0]  # an overload ("max.dim") is the same Python method with other arguments
    fn = getattr(torch.Tensor, op, None) or getattr(torch.ops.aten, op)  # aten for internal ops (_to_copy)
    return fn(*args, **kwargs)


def make_case(name, op, inputs, nograd=False, **kwargs):
    """inputs: tensors, or (leaf, layout) pairs from transposed()/expanded(). nograd: the op has no
    derivative in PyTorch (floor_divide), so its leaves do not require grad."""
    leaves, layouts = [], []
    for x in inputs:
        leaf, layout = x if isinstance(x, tuple) else (x, None)
        leaves.append(leaf.clone().requires_grad_((leaf.is_floating_point() or leaf.is_complex()) and not nograd))
        layouts.append(layout)
    args = [apply(lay["op"], [leaf], lay["kwargs"]) if lay else leaf for leaf, lay in zip(leaves, layouts)]
    out = apply(op, args, kwargs)
    extra = []
    if isinstance(out, tuple):  # several outputs (max.dim: values, indices): the first carries the gradient
        out, extra = out[0], list(out[1:])
    case = {
        "name": name,
        "op": op,
        "inputs": [dict(encode_tensor(leaf), layout=lay) for leaf, lay in zip(leaves, layouts)],
        "kwargs": encode_kwargs(kwargs),
        "expected": encode_tensor(out),
        "grad_weight": None,
        "grads": [None] * len(leaves),
    }
    if extra:
        case["extra_outputs"] = [encode_tensor(t) for t in extra]
    if nograd:
        case["nograd"] = True
    if out.requires_grad:
        if out.is_complex():
            # A complex weight with both parts, and the real loss Re(sum(out * w)): what a complex seed of 1
            # gives too, under PyTorch's convention (generate_complex_grad.py).
            w = torch.complex(randn(*out.shape), randn(*out.shape)).to(out.dtype)
            (out * w).sum().real.backward()
        else:
            w = randn(*out.shape, dtype=out.dtype)
            (out * w).sum().backward()
        case["grad_weight"] = encode_tensor(w)
        case["grads"] = [encode_tensor(leaf.grad) if leaf.grad is not None else None for leaf in leaves]
        forward_mode(case, name, op, leaves, layouts, kwargs)
    return case


def forward_mode(case, name, op, leaves, layouts, kwargs):
    """PyTorch's forward-mode AD of the case (torch.autograd.forward_ad): a tangent per differentiable leaf
    and the output's tangent. The tangents come from a generator seeded by the case's name, so the global
    random stream, and with it every other value in the fixtures, is what it was without them. Ops that
    PyTorch 1.13 cannot run in forward mode get no "jvp"."""
    gen = torch.Generator().manual_seed(sum(ord(c) * (i + 1) for i, c in enumerate(name)))
    tangents = []
    for leaf in leaves:
        if not (leaf.is_floating_point() or leaf.is_complex()):
            tangents.append(None)
            continue
        t = torch.randn(leaf.shape, generator=gen, dtype=F64).mul(100).round().div(100)
        if leaf.is_complex():
            t = torch.complex(t, torch.randn(leaf.shape, generator=gen, dtype=F64).mul(100).round().div(100))
        tangents.append(t.to(leaf.dtype))
    try:
        with fwAD.dual_level():
            duals = [leaf.detach() if t is None else fwAD.make_dual(leaf.detach(), t) for leaf, t in zip(leaves, tangents)]
            args = [apply(lay["op"], [d], lay["kwargs"]) if lay else d for d, lay in zip(duals, layouts)]
            out = apply(op, args, kwargs)
            if isinstance(out, tuple):
                out = out[0]
            jvp = fwAD.unpack_dual(out).tangent
    except (RuntimeError, NotImplementedError):
        return  # not supported in PyTorch 1.13's forward mode
    if jvp is None:
        return
    if not agrees_with_central_difference(op, leaves, layouts, kwargs, tangents, jvp):
        DROPPED_JVPS.append(name)
        return
    case["tangents"] = [None if t is None else encode_tensor(t) for t in tangents]
    case["jvp"] = encode_tensor(jvp)


# Cases whose PyTorch tangent disagreed with the central difference (printed by write_fixture).
DROPPED_JVPS = []


def agrees_with_central_difference(op, leaves, layouts, kwargs, tangents, jvp, h=1e-6):
    """Whether PyTorch's tangent matches (f(x + h t) - f(x - h t)) / 2h in float64. PyTorch 1.13's forward
    formulas have bugs of their own (pow with a real base and a complex exponent, or the reverse, drops part
    of the imaginary tangent), and a fixture must not hold them."""
    def wide(t):
        return t.to(torch.complex128 if t.is_complex() else F64) if t.is_floating_point() or t.is_complex() else t

    def f(sign):
        args = []
        for leaf, t, lay in zip(leaves, tangents, layouts):
            x = wide(leaf.detach())
            if t is not None:
                x = x + sign * h * wide(t)
            args.append(apply(lay["op"], [x], lay["kwargs"]) if lay else x)
        with torch.no_grad():
            out = apply(op, args, kwargs)
        return wide(out[0] if isinstance(out, tuple) else out)

    try:
        numerical = (f(1) - f(-1)) / (2 * h)
    except (RuntimeError, TypeError):
        return True  # the op does not run in float64 (a half-only case): keep PyTorch's value
    tol = 1e-3 if jvp.dtype in (F64, torch.complex128) else 2e-2
    return torch.allclose(wide(jvp), numerical, rtol=tol, atol=tol, equal_nan=True)


def cases():
    c = []
    add = c.append

    # ---- add, sub, mul, div, neg: broadcasting, promotion, alpha, layouts, empty ----
    add(make_case("add_f32", "add", [randn(2, 3, dtype=F32), randn(2, 3, dtype=F32)]))
    add(make_case("add_f64_broadcast", "add", [randn(2, 1, 3), randn(4, 1)]))
    add(make_case("add_f64_float_alpha", "add", [randn(3), randn(3)], alpha=2.5))
    add(make_case("add_f32_int_alpha", "add", [randn(3, dtype=F32), randn(2, 3, dtype=F32)], alpha=-2))
    add(make_case("add_i64_f32_promotes_to_f32", "add", [ints(3), randn(3, dtype=F32)]))
    add(make_case("add_0dim_f64_and_f32_gives_f32", "add", [randn(dtype=F64), randn(4, dtype=F32)]))
    add(make_case("add_i64_and_0dim_f64_gives_f64", "add", [ints(3), randn(dtype=F64)]))
    add(make_case("add_bool_bool", "add", [bools(5), bools(5)]))
    add(make_case("add_i64_bool", "add", [ints(4), bools(4)]))
    add(make_case("add_i64_alpha", "add", [ints(2, 2), ints(2, 2)], alpha=3))
    add(make_case("add_transposed_lhs", "add", [transposed(randn(2, 3)), randn(2, 3)]))
    add(make_case("add_expanded_rhs", "add", [randn(3, 4), expanded(randn(3, 1), [3, 4])]))
    add(make_case("add_empty", "add", [randn(0, 3), randn(3)]))
    add(make_case("add_0dim_both", "add", [randn(), randn()]))

    add(make_case("sub_f32_alpha", "sub", [randn(2, 3, dtype=F32), randn(2, 3, dtype=F32)], alpha=2))
    add(make_case("sub_f64_broadcast", "sub", [randn(3, 1), randn(1, 4)]))
    add(make_case("sub_i64", "sub", [ints(5), ints(5)]))
    add(make_case("sub_f64_minus_0dim", "sub", [randn(2, 2), randn()]))
    add(make_case("sub_f64_float_alpha_transposed", "sub", [randn(2, 3), transposed(randn(2, 3))], alpha=0.5))

    add(make_case("mul_f32", "mul", [randn(2, 3, dtype=F32), randn(2, 3, dtype=F32)]))
    add(make_case("mul_f64_broadcast", "mul", [randn(4, 1, 2), randn(3, 1)]))
    add(make_case("mul_i64", "mul", [ints(6), ints(6)]))
    add(make_case("mul_bool", "mul", [bools(6), bools(6)]))
    add(make_case("mul_i64_f64_promotes", "mul", [ints(2, 3), randn(2, 3)]))
    add(make_case("mul_f32_f64_promotes", "mul", [randn(3, dtype=F32), randn(3, dtype=F64)]))
    add(make_case("mul_both_transposed", "mul", [transposed(randn(3, 2)), transposed(randn(3, 2))]))
    add(make_case("mul_expanded_0dim", "mul", [expanded(randn(), [2, 3]), randn(2, 3)]))

    add(make_case("div_f32", "div", [randn(2, 3, dtype=F32), nonzero(2, 3, dtype=F32)]))
    add(make_case("div_f64_broadcast", "div", [randn(2, 1, 3), nonzero(4, 1)]))
    add(make_case("div_i64_gives_f32", "div", [ints(6), ints(6, lo=1, hi=5)]))
    add(make_case("div_f64_by_0dim", "div", [randn(2, 3), nonzero()]))
    add(make_case("div_0dim_by_f64", "div", [randn(), nonzero(3)]))
    add(make_case("div_transposed_divisor", "div", [randn(2, 3), transposed(nonzero(2, 3))]))

    add(make_case("neg_f32", "neg", [randn(2, 3, dtype=F32)]))
    add(make_case("neg_f64_transposed", "neg", [transposed(randn(3, 4))]))
    add(make_case("neg_i64", "neg", [ints(5)]))
    add(make_case("neg_0dim", "neg", [randn()]))

    # ---- sum, mean ----
    add(make_case("sum_all_f32", "sum", [randn(3, 4, dtype=F32)]))
    add(make_case("sum_dim0_f64", "sum", [randn(3, 4)], dim=0))
    add(make_case("sum_dim_neg1_keepdim", "sum", [randn(2, 3, 4)], dim=-1, keepdim=True))
    add(make_case("sum_dims_0_2", "sum", [randn(2, 3, 4)], dim=[0, 2]))
    add(make_case("sum_dims_0_2_keepdim", "sum", [randn(2, 3, 4)], dim=[0, 2], keepdim=True))
    add(make_case("sum_dim_empty_list_sums_all", "sum", [randn(2, 3)], dim=[]))
    add(make_case("sum_i64_gives_i64", "sum", [ints(3, 4)], dim=1))
    add(make_case("sum_bool_gives_i64", "sum", [bools(2, 5)]))
    add(make_case("sum_f32_dtype_f64", "sum", [randn(2, 3, dtype=F32)], dim=1, dtype=F64))
    add(make_case("sum_i64_dtype_f32", "sum", [ints(2, 3)], dtype=F32))
    add(make_case("sum_transposed", "sum", [transposed(randn(3, 4))], dim=1))
    add(make_case("sum_expanded", "sum", [expanded(randn(3, 1), [3, 5])], dim=[0]))
    add(make_case("sum_0dim", "sum", [randn()]))
    add(make_case("sum_empty_dim0", "sum", [randn(0, 3)], dim=0))
    add(make_case("sum_empty_all", "sum", [randn(0, 3)]))

    add(make_case("mean_all_f32", "mean", [randn(3, 4, dtype=F32)]))
    add(make_case("mean_dim_f64", "mean", [randn(3, 4)], dim=1))
    add(make_case("mean_dims_keepdim", "mean", [randn(2, 3, 4)], dim=[0, -1], keepdim=True))
    add(make_case("mean_f32_dtype_f64", "mean", [randn(2, 3, dtype=F32)], dim=0, dtype=F64))
    add(make_case("mean_transposed", "mean", [transposed(randn(3, 4))], dim=0))

    # ---- matmul, mm, bmm ----
    add(make_case("matmul_1d_1d", "matmul", [randn(3), randn(3)]))
    add(make_case("matmul_2d_1d", "matmul", [randn(2, 3), randn(3)]))
    add(make_case("matmul_1d_2d", "matmul", [randn(3), randn(3, 4)]))
    add(make_case("matmul_2d_2d", "matmul", [randn(2, 3), randn(3, 4)]))
    add(make_case("matmul_2d_2d_f32", "matmul", [randn(2, 3, dtype=F32), randn(3, 4, dtype=F32)]))
    add(make_case("matmul_2d_2d_i64", "matmul", [ints(2, 3), ints(3, 2)]))
    add(make_case("matmul_3d_2d", "matmul", [randn(2, 3, 4), randn(4, 5)]))
    add(make_case("matmul_3d_1d", "matmul", [randn(2, 3, 4), randn(4)]))
    add(make_case("matmul_1d_3d", "matmul", [randn(4), randn(2, 4, 3)]))
    add(make_case("matmul_2d_3d", "matmul", [randn(3, 4), randn(2, 4, 5)]))
    add(make_case("matmul_3d_3d", "matmul", [randn(2, 3, 4), randn(2, 4, 2)]))
    add(make_case("matmul_4d_3d_broadcast", "matmul", [randn(2, 1, 3, 4), randn(3, 4, 2)]))
    add(make_case("matmul_transposed_lhs", "matmul", [transposed(randn(2, 3)), randn(3, 4)]))
    add(make_case("matmul_3d_2d_transposed_rhs", "matmul", [randn(2, 3, 4), transposed(randn(4, 5))]))
    add(make_case("matmul_3d_permuted_lhs_2d", "matmul", [transposed(randn(4, 3, 2), 0, 2), randn(2, 3)]))
    add(make_case("matmul_expanded_batch", "matmul", [expanded(randn(1, 2, 3), [4, 2, 3]), randn(4, 3, 2)]))
    add(make_case("matmul_empty_k", "matmul", [randn(2, 0), randn(0, 3)]))
    add(make_case("matmul_3d_2d_empty_k", "matmul", [randn(2, 3, 0), randn(0, 4)]))

    add(make_case("mm_f64", "mm", [randn(3, 2), randn(2, 4)]))
    add(make_case("mm_f32", "mm", [randn(2, 5, dtype=F32), randn(5, 3, dtype=F32)]))
    add(make_case("mm_i64", "mm", [ints(2, 3), ints(3, 3)]))
    add(make_case("mm_transposed_both", "mm", [transposed(randn(4, 2)), transposed(randn(2, 3))]))
    add(make_case("mm_empty_rows", "mm", [randn(0, 3), randn(3, 2)]))

    add(make_case("bmm_f64", "bmm", [randn(2, 3, 4), randn(2, 4, 5)]))
    add(make_case("bmm_f32", "bmm", [randn(3, 2, 2, dtype=F32), randn(3, 2, 3, dtype=F32)]))
    add(make_case("bmm_i64", "bmm", [ints(2, 2, 3), ints(2, 3, 2)]))
    add(make_case("bmm_transposed_rhs", "bmm", [randn(2, 3, 4), transposed(randn(2, 4, 5), 1, 2)]))

    # ---- views, copies, conversions ----
    add(make_case("view_f64", "view", [randn(2, 3, 4)], size=[6, 4]))
    add(make_case("view_infer", "view", [randn(2, 3, 4)], size=[-1, 3]))
    add(make_case("view_0dim_to_1", "view", [randn()], size=[1]))
    add(make_case("view_1_to_0dim", "view", [randn(1)], size=[]))
    add(make_case("view_i64", "view", [ints(2, 3)], size=[3, 2]))
    add(make_case("reshape_contiguous", "reshape", [randn(2, 6)], shape=[3, -1]))
    add(make_case("reshape_transposed_copies", "reshape", [transposed(randn(3, 4))], shape=[12]))
    add(make_case("transpose_f64", "transpose", [randn(2, 3, 4)], dim0=0, dim1=2))
    add(make_case("transpose_negative_dims", "transpose", [randn(2, 3, 4)], dim0=-1, dim1=-2))
    add(make_case("t_2d", "t", [randn(2, 3)]))
    add(make_case("t_1d", "t", [randn(3)]))
    add(make_case("permute_f64", "permute", [randn(2, 3, 4)], dims=[2, 0, 1]))
    add(make_case("permute_negative_dims", "permute", [randn(2, 3, 4)], dims=[-1, 0, -2]))
    add(make_case("expand_dim1", "expand", [randn(3, 1)], size=[3, 4]))
    add(make_case("expand_new_leading", "expand", [randn(3)], size=[2, 3]))
    add(make_case("expand_keep_minus1", "expand", [randn(2, 1)], size=[2, 2, -1]))
    add(make_case("expand_0dim", "expand", [randn()], size=[2, 2]))
    add(make_case("unsqueeze_0", "unsqueeze", [randn(2, 3)], dim=0))
    add(make_case("unsqueeze_middle", "unsqueeze", [randn(2, 3)], dim=1))
    add(make_case("unsqueeze_neg1", "unsqueeze", [randn(2, 3)], dim=-1))
    add(make_case("squeeze_size1", "squeeze", [randn(2, 1, 3)], dim=1))
    add(make_case("squeeze_not_size1_is_noop", "squeeze", [randn(2, 3)], dim=0))
    add(make_case("squeeze_negative", "squeeze", [randn(2, 1)], dim=-1))
    add(make_case("clone_f32", "clone", [randn(2, 3, dtype=F32)]))
    add(make_case("clone_transposed", "clone", [transposed(randn(2, 3))]))
    add(make_case("clone_i64", "clone", [ints(4)]))
    add(make_case("contiguous_transposed_copies", "contiguous", [transposed(randn(2, 3))]))
    add(make_case("contiguous_already", "contiguous", [randn(2, 3)]))
    add(make_case("internal_to_copy_f32_to_f64", "_to_copy", [randn(2, 2, dtype=F32)], dtype=F64))
    add(make_case("internal_to_copy_f64_to_i64", "_to_copy", [randn(3).mul(4)], dtype=I64))
    add(make_case("to_f32_to_f64", "to", [randn(2, 3, dtype=F32)], dtype=F64))
    add(make_case("to_f64_to_f32", "to", [randn(2, 3)], dtype=F32))
    add(make_case("to_f32_to_i64_truncates", "to", [randn(5, dtype=F32).mul(3)], dtype=I64))
    add(make_case("to_i64_to_f32", "to", [ints(4)], dtype=F32))
    add(make_case("to_bool_to_f32", "to", [bools(4)], dtype=F32))
    add(make_case("to_f32_to_bool", "to", [torch.tensor([0.0, 1.5, -2.0, 0.0])], dtype=BOOL))
    add(make_case("to_same_dtype_copy", "to", [randn(3)], dtype=F64, copy=True))
    add(make_case("to_device_cpu", "to", [randn(3)], device="cpu"))

    # ---- unary ops: float32 and float64, a non-contiguous input, integers promoting to float32 ----
    domains = {
        "log": positive, "log2": positive, "log10": positive, "sqrt": positive, "rsqrt": positive,
        "log1p": positive, "acosh": lambda *s, dtype=F64: positive(*s, dtype=dtype).add(1),
        "asin": unit, "acos": unit, "atanh": unit, "erfinv": unit, "reciprocal": nonzero,
    }
    float_ops = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin", "cos", "tan",
                 "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "sigmoid", "erf",
                 "erfc", "erfinv", "reciprocal", "frac"]
    for op in float_ops:
        make = domains.get(op, randn)
        add(make_case(f"{op}_f32", op, [make(2, 3, dtype=F32)]))
        add(make_case(f"{op}_f64_transposed", op, [transposed(make(3, 2))]))
        if op != "frac":
            lo, hi = (-2, 3) if make is randn else (0, 1) if make is unit else (1, 4)
            add(make_case(f"{op}_i64_gives_f32", op, [ints(4, lo=lo, hi=hi)]))
    for op in ["abs", "sign", "floor", "ceil", "round", "trunc", "relu"]:
        add(make_case(f"{op}_f64", op, [randn(2, 5).mul(3)]))
        add(make_case(f"{op}_f32_transposed", op, [transposed(randn(3, 2, dtype=F32).mul(3))]))
        add(make_case(f"{op}_i64", op, [ints(6)]))
    add(make_case("round_half_to_even", "round", [torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], dtype=F64)]))
    add(make_case("sign_bool", "sign", [bools(4)]))
    add(make_case("bitwise_not_i64", "bitwise_not", [ints(5)]))
    add(make_case("bitwise_not_bool", "bitwise_not", [bools(5)]))
    add(make_case("logical_not_f64", "logical_not", [torch.tensor([0.0, 1.5, -2.0])]))
    add(make_case("isfinite_f32", "isfinite", [randn(4, dtype=F32)]))

    # ---- binary ops beyond the arithmetic four ----
    a, b = randn(3, 4), randn(3, 4)
    b[0, :2] = a[0, :2]  # ties: maximum/minimum split the gradient
    add(make_case("maximum_f64_ties", "maximum", [a, b]))
    add(make_case("minimum_f64_ties", "minimum", [a.clone(), b.clone()]))
    add(make_case("maximum_broadcast_f32", "maximum", [randn(2, 1, 3, dtype=F32), randn(4, 1, dtype=F32)]))
    add(make_case("minimum_i64", "minimum", [ints(5), ints(5)]))
    add(make_case("clamp_both", "clamp", [randn(3, 4).mul(2)], min=-0.5, max=0.75))
    add(make_case("clamp_min_only", "clamp", [randn(5)], min=0.1))
    add(make_case("clamp_max_only_i64", "clamp", [ints(6)], max=2))
    add(make_case("clamp_transposed", "clamp", [transposed(randn(2, 3))], min=-1, max=1))
    add(make_case("pow_tensor_tensor", "pow", [positive(2, 3), randn(2, 3)]))
    add(make_case("pow_scalar_exponent", "pow", [randn(4)], exponent=3))
    add(make_case("pow_float_exponent", "pow", [positive(4, dtype=F32)], exponent=0.5))
    add(make_case("pow_broadcast", "pow", [positive(3, 1), randn(1, 2)]))
    add(make_case("pow_i64", "pow", [ints(5, lo=-3, hi=4), ints(5, lo=0, hi=4)]))
    add(make_case("pow_i64_negative_exponent_tensor", "pow", [torch.tensor([2, -1, 1, 3]), torch.tensor([-1, -3, -2, 2])]))
    add(make_case("fmod_f64", "fmod", [randn(2, 3).mul(5), nonzero(2, 3)]))
    add(make_case("fmod_i64", "fmod", [ints(6), ints(6, lo=1, hi=4)]))
    add(make_case("fmod_scalar", "fmod", [randn(4).mul(5)], other=1.5))
    add(make_case("remainder_f64", "remainder", [randn(2, 3).mul(5), nonzero(2, 3)]))
    add(make_case("remainder_i64_signs", "remainder", [torch.tensor([-7, 7, -7, 7]), torch.tensor([2, 2, -2, -2])]))
    add(make_case("remainder_scalar_f32", "remainder", [randn(4, dtype=F32).mul(5)], other=-1.5))
    add(make_case("floor_divide_f64", "floor_divide", [randn(6).mul(5), nonzero(6)], nograd=True))
    add(make_case("floor_divide_i64_signs", "floor_divide", [torch.tensor([-7, 7, -7, 7]), torch.tensor([2, 2, -2, -2])]))
    add(make_case("atan2_f64", "atan2", [randn(2, 3), randn(2, 3)]))
    add(make_case("atan2_i64_gives_f32", "atan2", [ints(4), ints(4, lo=1, hi=5)]))
    add(make_case("bitwise_and_i64", "bitwise_and", [ints(5, lo=0, hi=16), ints(5, lo=0, hi=16)]))
    add(make_case("bitwise_or_bool", "bitwise_or", [bools(5), bools(5)]))
    add(make_case("bitwise_xor_i64_broadcast", "bitwise_xor", [ints(2, 1, lo=0, hi=8), ints(3, lo=0, hi=8)]))
    add(make_case("add_scalar_int_keeps_f32", "add", [randn(3, dtype=F32)], other=2))
    add(make_case("mul_i64_by_float_scalar_gives_f32", "mul", [ints(3)], other=2.5))
    add(make_case("sub_i64_scalar_keeps_i64", "sub", [ints(3)], other=4))

    # ---- comparisons, logic, where ----
    x, y = randn(3, 4), randn(3, 4)
    y[1, :] = x[1, :]
    for op in ["eq", "ne", "lt", "le", "gt", "ge"]:
        add(make_case(f"{op}_f64", op, [x, y]))
    add(make_case("lt_broadcast_i64_f32", "lt", [ints(2, 1), randn(3, dtype=F32)]))
    add(make_case("gt_scalar", "gt", [randn(5)], other=0.25))
    add(make_case("eq_i64_scalar_float", "eq", [torch.tensor([1, 2, 3])], other=2.0))
    add(make_case("logical_and_mixed", "logical_and", [randn(4), ints(4, lo=0, hi=2)]))
    add(make_case("logical_or_bool", "logical_or", [bools(5), bools(5)]))
    add(make_case("logical_xor_f32", "logical_xor", [torch.tensor([0.0, 1.0, 0.0, 2.0]), torch.tensor([0.0, 0.0, 3.0, 1.0])]))
    add(make_case("where_f64", "where", [bools(3, 4), randn(3, 4), randn(3, 4)]))
    add(make_case("where_broadcast_promotes", "where", [bools(3, 1), randn(1, 4, dtype=F32), randn(3, 4)]))
    add(make_case("where_i64", "where", [bools(5), ints(5), ints(5)]))
    add(make_case("where_transposed", "where", [bools(2, 3), transposed(randn(2, 3)), randn(2, 3)]))

    # ---- the rest of the matrix-product family ----
    add(make_case("dot_f64", "dot", [randn(5), randn(5)]))
    add(make_case("dot_i64", "dot", [ints(4), ints(4)]))
    add(make_case("mv_f32", "mv", [randn(3, 4, dtype=F32), randn(4, dtype=F32)]))
    add(make_case("mv_transposed", "mv", [transposed(randn(3, 4)), randn(4)]))
    add(make_case("outer_f64", "outer", [randn(3), randn(4)]))
    add(make_case("addmm_f64", "addmm", [randn(2, 4), randn(2, 3), randn(3, 4)]))
    add(make_case("addmm_broadcast_self_beta_alpha", "addmm", [randn(4), randn(2, 3), randn(3, 4)], beta=0.5, alpha=-2))
    add(make_case("addmm_beta0_f32", "addmm", [randn(2, 2, dtype=F32), randn(2, 3, dtype=F32), randn(3, 2, dtype=F32)], beta=0))
    add(make_case("baddbmm_f64", "baddbmm", [randn(2, 3, 2), randn(2, 3, 4), randn(2, 4, 2)], beta=2, alpha=0.5))
    add(make_case("tensordot_two_dims", "tensordot", [randn(2, 3, 4), randn(4, 3, 5)], dims_self=[1, 2], dims_other=[1, 0]))
    add(make_case("tensordot_one_dim_f32", "tensordot", [randn(3, 4, dtype=F32), randn(4, 2, dtype=F32)], dims_self=[1], dims_other=[0]))
    add(make_case("tensordot_no_dims_is_outer", "tensordot", [randn(2), randn(3)], dims_self=[], dims_other=[]))

    # ---- the fused LSTM cell (core/ops/rnn.cpp): batch 3, hidden 2 ----
    add(make_case("fused_lstm_cell_f64", "_thnn_fused_lstm_cell", [randn(3, 8), randn(3, 8), randn(3, 2)]))
    add(make_case("fused_lstm_cell_biases_f32", "_thnn_fused_lstm_cell",
                  [randn(3, 8, dtype=F32), randn(3, 8, dtype=F32), randn(3, 2, dtype=F32), randn(8, dtype=F32),
                   randn(8, dtype=F32)]))
    add(make_case("fused_lstm_cell_transposed_gates", "_thnn_fused_lstm_cell",
                  [transposed(randn(3, 8)), randn(3, 8), randn(3, 2), randn(8)]))

    # ---- a whole LSTM layer (core/ops/rnn_layer.cpp): 4 steps, batch 3, hidden 2; the outputs carry the gradient ----
    add(make_case("lstm_layer_f64", "_lstm_layer", [randn(4, 3, 8), randn(3, 2), randn(3, 2), randn(8, 2)]))
    add(make_case("lstm_layer_reverse_f32", "_lstm_layer",
                  [randn(4, 3, 8, dtype=F32), randn(3, 2, dtype=F32), randn(3, 2, dtype=F32), randn(8, 2, dtype=F32)],
                  reverse=True))

    # ---- the fused GRU cell (core/ops/rnn.cpp): batch 3, hidden 2 ----
    add(make_case("fused_gru_cell_f64", "_thnn_fused_gru_cell", [randn(3, 6), randn(3, 6), randn(3, 2)]))
    add(make_case("fused_gru_cell_biases_f32", "_thnn_fused_gru_cell",
                  [randn(3, 6, dtype=F32), randn(3, 6, dtype=F32), randn(3, 2, dtype=F32), randn(6, dtype=F32),
                   randn(6, dtype=F32)]))
    add(make_case("fused_gru_cell_transposed_gates", "_thnn_fused_gru_cell",
                  [transposed(randn(3, 6)), randn(3, 6), randn(3, 2), randn(6)]))

    # ---- a whole GRU layer (core/ops/rnn_layer.cpp): 4 steps, batch 3, hidden 2; the outputs carry the gradient ----
    add(make_case("gru_layer_bias_f64", "_gru_layer", [randn(4, 3, 6), randn(3, 2), randn(6, 2), randn(6)]))
    add(make_case("gru_layer_reverse_no_bias_f32", "_gru_layer",
                  [randn(4, 3, 6, dtype=F32), randn(3, 2, dtype=F32), randn(6, 2, dtype=F32)], reverse=True))

    # ---- an LSTM layer with weight_hr (proj_size 2 of hidden 3): 4 steps, batch 3 ----
    add(make_case("lstm_layer_projected_f64", "_lstm_layer",
                  [randn(4, 3, 12), randn(3, 2), randn(3, 3), randn(12, 2), randn(2, 3)]))
    return c


def write_fixture(path, generator, seed, make_cases):
    """Seeds PyTorch, builds the cases and writes them as one fixture file (shared by every generator)."""
    torch.manual_seed(seed)
    data = {"generator": generator, "torch_version": torch.__version__, "cases": make_cases()}
    names = [case["name"] for case in data["cases"]]
    assert len(names) == len(set(names)), "duplicate case names"
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"), allow_nan=False)  # JSON has no NaN: keep inputs in domain
        f.write("\n")
    print(f"wrote {len(names)} cases, {os.path.getsize(path)} bytes to {path}")
    if DROPPED_JVPS:
        print(f"  no forward-mode case where PyTorch disagrees with a central difference: {', '.join(DROPPED_JVPS)}")
        DROPPED_JVPS.clear()


def main():
    write_fixture(OUT, "tests/golden/generate.py", 20240531, cases)


if __name__ == "__main__":
    main()
