#!/usr/bin/python3
"""Writes tests/golden/complex.json: PyTorch 1.13's results for complex64 and complex128 tensors: arithmetic,
elementwise math (every unary op PyTorch 1.13 runs on complex tensors, on several shapes, a transposed and an
expanded input), pow with tensor and number exponents (PyTorch's exact shortcuts for 0, 1, 2, 3, -2, ±1/2, -1),
matrix products, promotion with the real dtypes and with numbers, real/imag/view_as_real/view_as_complex/
complex/polar/angle/conj, equality, isclose/allclose, sums, means and products over dims, scans, index and
shape ops (gather, scatter, scatter_add, scatter_reduce, index_select, index_add, index_put, index_fill,
masked_fill, masked_select, take, where, cat, stack, flip, roll, repeat, tril/triu, diag/diagonal, nonzero,
contiguous) and casts both ways.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_complex.py

Complex values are written as [re, im] pairs (generate.encode_tensor). Every case is forward-only ("nograd")
until tensord's autograd handles complex tensors; the gradient cases will use a complex weight w and the real
loss (out * w).sum().real, whose gradient PyTorch defines by its conjugate Wirtinger convention.
"""

import os

import torch

from generate import BOOL, F32, F64, I64, bools, expanded, ints, make_case, randn, transposed, write_fixture
from generate_shape import shape_case

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "complex.json")
C64, C128 = torch.complex64, torch.complex128


def crandn(*shape, dtype=C128):
    """Complex values whose parts are randn's two-decimal numbers (exact to read in both precisions' inputs)."""
    return torch.complex(randn(*shape), randn(*shape)).to(dtype)


def cnonzero(*shape, dtype=C128):
    """Complex values of modulus 0.5 or more, safe as divisors."""
    z = crandn(*shape)
    return (z + 0.5 * z.sgn() + (z == 0).to(C128) * 0.5).to(dtype)


def case(name, op, inputs, **kwargs):
    return make_case(name, op, inputs, nograd=True, **kwargs)


def cases():
    c = []
    add = c.append
    short = {C64: "c64", C128: "c128"}

    for dt in (C64, C128):
        s = short[dt]
        # ---- arithmetic ----
        add(case(f"complex_add_{s}", "add", [crandn(2, 3, dtype=dt), crandn(2, 3, dtype=dt)]))
        add(case(f"complex_add_alpha_{s}", "add", [crandn(2, 3, dtype=dt), crandn(2, 3, dtype=dt)], alpha=2.5))
        add(case(f"complex_sub_broadcast_{s}", "sub", [crandn(3, 1, dtype=dt), crandn(4, dtype=dt)]))
        add(case(f"complex_mul_transposed_{s}", "mul", [transposed(crandn(3, 4, dtype=dt)), crandn(3, 4, dtype=dt)]))
        add(case(f"complex_div_{s}", "div", [crandn(2, 3, dtype=dt), cnonzero(2, 3, dtype=dt)]))
        add(case(f"complex_pow_{s}", "pow", [cnonzero(2, 3, dtype=dt), crandn(2, 3, dtype=dt).mul(0.5)]))
        add(case(f"complex_neg_{s}", "neg", [crandn(5, dtype=dt)]))
        # ---- elementwise math (abs gives the real modulus) ----
        for op, make in [("exp", crandn), ("log", cnonzero), ("sqrt", crandn), ("sin", crandn), ("cos", crandn),
                         ("tanh", crandn), ("sigmoid", crandn), ("reciprocal", cnonzero), ("abs", crandn)]:
            add(case(f"complex_{op}_2x3_{s}", op, [make(2, 3, dtype=dt)]))
        add(case(f"complex_exp_transposed_{s}", "exp", [transposed(crandn(3, 4, dtype=dt))]))
        # ---- matrix products (cgemm/zgemm) ----
        add(case(f"complex_mm_{s}", "mm", [crandn(3, 5, dtype=dt), crandn(5, 4, dtype=dt)]))
        add(case(f"complex_matmul_transposed_{s}", "matmul", [transposed(crandn(3, 4, dtype=dt)), crandn(4, 2, dtype=dt)]))
        add(case(f"complex_bmm_{s}", "bmm", [crandn(2, 3, 4, dtype=dt), crandn(2, 4, 2, dtype=dt)]))
        # ---- equality (complex numbers have no order) ----
        x, y = crandn(3, 4, dtype=dt), crandn(3, 4, dtype=dt)
        y[1, :] = x[1, :]
        y[2, 0] = torch.complex(x[2, 0].real, -x[2, 0].imag)  # same real part, other imaginary part
        add(case(f"complex_eq_{s}", "eq", [x, y]))
        add(case(f"complex_ne_{s}", "ne", [x, y]))
        # ---- reductions ----
        add(case(f"complex_sum_{s}", "sum", [crandn(3, 4, dtype=dt)]))
        add(case(f"complex_sum_dim_keepdim_{s}", "sum", [crandn(3, 4, dtype=dt)], dim=[0], keepdim=True))
        add(case(f"complex_sum_dims_{s}", "sum", [crandn(2, 3, 4, dtype=dt)], dim=[0, 2]))
        add(case(f"complex_mean_dim_{s}", "mean", [crandn(3, 4, dtype=dt)], dim=[1]))
        add(case(f"complex_prod_{s}", "prod", [crandn(5, dtype=dt)]))
        add(case(f"complex_prod_dim_{s}", "prod.dim", [crandn(3, 4, dtype=dt)], dim=1))
        # ---- copy-like ops ----
        add(case(f"complex_where_{s}", "where", [bools(3, 4), crandn(3, 4, dtype=dt), crandn(4, dtype=dt)]))
        add(case(f"complex_gather_{s}", "gather", [crandn(3, 4, dtype=dt), torch.randint(0, 4, (3, 2))], dim=1))
        add(case(f"complex_index_select_{s}", "index_select", [crandn(4, 3, dtype=dt), torch.tensor([3, 0, 0])], dim=0))
        add(case(f"complex_flip_{s}", "flip", [crandn(3, 4, dtype=dt)], dims=[0, 1]))
        add(case(f"complex_contiguous_transposed_{s}", "contiguous", [transposed(crandn(17, 33, dtype=dt))]))

    # ---- the rest of PyTorch 1.13's complex unary ops: several shapes, a transposed and an expanded input ----
    unary = [("log2", cnonzero), ("log10", cnonzero), ("rsqrt", cnonzero), ("tan", crandn), ("sinh", crandn),
             ("cosh", crandn), ("asin", crandn), ("acos", crandn), ("atan", cnonzero), ("asinh", crandn),
             ("acosh", crandn), ("atanh", cnonzero), ("neg", crandn), ("sgn", crandn), ("square", crandn)]
    for dt in (C64, C128):
        s = short[dt]
        for op, make in unary:
            add(case(f"complex_{op}_2x3_{s}", op, [make(2, 3, dtype=dt)]))
            add(case(f"complex_{op}_3d_{s}", op, [make(2, 1, 4, dtype=dt)]))
            add(case(f"complex_{op}_transposed_{s}", op, [transposed(make(3, 4, dtype=dt))]))
            add(case(f"complex_{op}_expanded_{s}", op, [expanded(make(3, 1, dtype=dt), [3, 4])]))
        add(case(f"complex_log2_0dim_{s}", "log2", [cnonzero(dtype=dt)]))
        # On the axes, both sides of the branch cuts (a signed zero imaginary part picks the side).
        axis = torch.tensor([complex(-2, 0.0), complex(-2, -0.0), complex(2, 0.0), complex(2, -0.0),
                             complex(0.0, 2), complex(0.0, -2), complex(-0.5, 0.0), complex(0.5, -0.0)], dtype=dt)
        # Not atan: PyTorch 1.13 computes it as i/2 log((i+z)/(i-z)), which puts both sides of its cut on the
        # imaginary axis at -pi/2 (atan(+0+2j) is -pi/2+0.549j); tensord follows std::atan (+pi/2 there).
        for op in ("sqrt", "log", "asin", "acos", "asinh", "acosh", "atanh", "rsqrt", "log10"):
            add(case(f"complex_{op}_axes_{s}", op, [axis]))
        add(case(f"complex_sgn_zero_{s}", "sgn", [torch.tensor([0j, complex(-0.0, 0.0), 3 - 4j], dtype=dt)]))
        # ---- pow: tensor exponents (broadcast, transposed) and number exponents ----
        add(case(f"complex_pow_broadcast_{s}", "pow", [cnonzero(3, 1, dtype=dt), crandn(4, dtype=dt).mul(0.5)]))
        add(case(f"complex_pow_transposed_{s}", "pow", [transposed(cnonzero(3, 4, dtype=dt)), crandn(3, 4, dtype=dt)]))
        for e, tag in ((2, "2"), (3, "3"), (-2, "m2"), (0.5, "half"), (-0.5, "mhalf"), (-1, "m1"), (0, "0"),
                       (1, "1"), (2.5, "2_5"), (1 - 0.5j, "complex")):
            add(case(f"complex_pow_scalar_{tag}_{s}", "pow", [cnonzero(2, 3, dtype=dt)], exponent=e))
        add(case(f"complex_pow_real_base_{s}", "pow", [randn(3, dtype=F32 if dt == C64 else F64).abs(),
                                                        crandn(3, dtype=dt)]))
        # ---- comparisons and closeness ----
        x, y = crandn(3, 4, dtype=dt), crandn(3, 4, dtype=dt)
        y[0, :] = x[0, :] + 1e-9
        y[1, 1] = x[1, 1]
        add(case(f"complex_isclose_{s}", "isclose", [x, y]))
        add(case(f"complex_isclose_tol_{s}", "isclose", [x, x + 0.05], rtol=0.0, atol=0.1))
        add(shape_case(f"complex_allclose_{s}", "allclose", [x, x + 1e-9],
                       torch_call=lambda args: torch.tensor(torch.allclose(*args))))
        add(shape_case(f"complex_allclose_false_{s}", "allclose", [x, y],
                       torch_call=lambda args: torch.tensor(torch.allclose(*args))))
        add(case(f"complex_eq_broadcast_{s}", "eq", [x, x[1:2, :]]))
        add(case(f"complex_ne_transposed_{s}", "ne", [transposed(crandn(3, 4, dtype=dt)), crandn(3, 4, dtype=dt)]))
        # ---- reductions and scans ----
        add(case(f"complex_mean_{s}", "mean", [crandn(2, 3, 4, dtype=dt)], dim=[0, 2]))
        add(case(f"complex_mean_transposed_{s}", "mean", [transposed(crandn(3, 5, dtype=dt))], dim=[1]))
        add(case(f"complex_sum_transposed_{s}", "sum", [transposed(crandn(4, 6, dtype=dt))], dim=[0]))
        add(case(f"complex_prod_dim0_{s}", "prod.dim", [crandn(4, 3, dtype=dt)], dim=0, keepdim=True))
        add(case(f"complex_cumsum_{s}", "cumsum", [crandn(3, 4, dtype=dt)], dim=1))
        add(case(f"complex_cumprod_transposed_{s}", "cumprod", [transposed(crandn(3, 4, dtype=dt))], dim=0))
        # ---- index ops ----
        add(case(f"complex_scatter_{s}", "scatter", [crandn(3, 4, dtype=dt), torch.tensor([[2, 0], [1, 3]]),
                                                     crandn(2, 2, dtype=dt)], dim=1))
        add(case(f"complex_scatter_add_{s}", "scatter_add", [crandn(3, 4, dtype=dt), torch.tensor([[0, 0, 2, 0]]),
                                                             crandn(1, 4, dtype=dt)], dim=0))
        add(case(f"complex_scatter_add_transposed_{s}", "scatter_add",
                 [transposed(crandn(4, 3, dtype=dt)), torch.tensor([[1, 1], [0, 1], [2, 2]]), crandn(3, 2, dtype=dt)],
                 dim=1))
        for reduce in ("sum", "prod", "mean"):
            add(case(f"complex_scatter_reduce_{reduce}_{s}", "scatter_reduce",
                     [crandn(5, dtype=dt), torch.tensor([0, 2, 2, 4, 0, 2]), crandn(6, dtype=dt)], dim=0,
                     reduce=reduce, include_self=reduce != "mean"))
        add(case(f"complex_index_select_transposed_{s}", "index_select",
                 [transposed(crandn(3, 4, dtype=dt)), torch.tensor([2, 0])], dim=1))
        add(case(f"complex_index_add_{s}", "index_add",
                 [crandn(4, 2, dtype=dt), torch.tensor([3, 0, 3]), crandn(3, 2, dtype=dt)], dim=0))
        add(case(f"complex_take_{s}", "take", [transposed(crandn(3, 4, dtype=dt)), torch.tensor([[0, 11], [-1, 5]])]))
        mask = torch.tensor([[True, False, True, False], [False, False, True, True], [True, True, True, False]])
        add(case(f"complex_masked_fill_{s}", "masked_fill", [crandn(3, 4, dtype=dt), mask], value=1.5 - 2j))
        add(case(f"complex_masked_fill_broadcast_{s}", "masked_fill", [crandn(3, 4, dtype=dt), mask[0]], value=2.0))
        add(case(f"complex_masked_select_{s}", "masked_select", [transposed(crandn(3, 4, dtype=dt)), mask]))
        add(case(f"complex_masked_select_broadcast_{s}", "masked_select", [crandn(3, 1, dtype=dt), mask]))
        add(shape_case(f"complex_index_fill_{s}", "index_fill", [crandn(2, 4, dtype=dt), torch.tensor([3, 0])],
                       dim=1, value=-1.5, torch_call=lambda args: args[0].index_fill(1, args[1], -1.5)))
        add(shape_case(f"complex_index_put_{s}", "index_put",
                       [crandn(4, 3, dtype=dt), torch.tensor([2, 0]), crandn(2, 3, dtype=dt)], accumulate=False,
                       torch_call=lambda args: args[0].index_put((args[1],), args[2])))
        add(shape_case(f"complex_index_put_accumulate_{s}", "index_put",
                       [crandn(5, dtype=dt), torch.tensor([1, 1, 3]), crandn(3, dtype=dt)], accumulate=True,
                       torch_call=lambda args: args[0].index_put((args[1],), args[2], accumulate=True)))
        add(case(f"complex_where_broadcast_{s}", "where", [bools(3, 1), transposed(crandn(3, 4, dtype=dt)),
                                                           crandn(dtype=dt)]))
        add(case(f"complex_nonzero_{s}", "nonzero",
                 [torch.tensor([[0j, 1j, 0j], [2 + 0j, complex(-0.0, 0.0), 1 - 1j]], dtype=dt)]))
        # ---- shape ops ----
        add(shape_case(f"complex_cat_{s}", "cat", [crandn(2, 3, dtype=dt), transposed(crandn(4, 3, dtype=dt))],
                       dim=0, torch_call=lambda args: torch.cat(args, 0)))
        add(shape_case(f"complex_stack_{s}", "stack", [crandn(2, 3, dtype=dt), crandn(2, 3, dtype=dt)], dim=1,
                       torch_call=lambda args: torch.stack(args, 1)))
        add(case(f"complex_flip_transposed_{s}", "flip", [transposed(crandn(3, 4, dtype=dt))], dims=[1]))
        add(case(f"complex_roll_{s}", "roll", [crandn(3, 4, dtype=dt)], shifts=[1, -1], dims=[0, 1]))
        add(case(f"complex_repeat_{s}", "repeat", [crandn(2, 3, dtype=dt)], repeats=[2, 1, 2]))
        add(case(f"complex_tril_{s}", "tril", [crandn(3, 4, dtype=dt)], diagonal=-1))
        add(case(f"complex_triu_transposed_{s}", "triu", [transposed(crandn(4, 3, dtype=dt))], diagonal=1))
        add(case(f"complex_diag_vector_{s}", "diag", [crandn(3, dtype=dt)], diagonal=1))
        add(case(f"complex_diag_matrix_{s}", "diag", [crandn(3, 4, dtype=dt)]))
        add(case(f"complex_diagonal_{s}", "diagonal", [crandn(2, 3, 4, dtype=dt)], offset=1, dim1=1, dim2=2))
        add(case(f"complex_clone_expanded_{s}", "clone", [expanded(crandn(3, 1, dtype=dt), [3, 4])]))

    # ---- parts, views and constructors ----
    for dt in (C64, C128):
        s = short[dt]
        add(case(f"complex_view_as_real_{s}", "view_as_real", [crandn(2, 3, dtype=dt)]))
        add(case(f"complex_real_{s}", "real", [crandn(2, 3, dtype=dt)]))
        add(case(f"complex_imag_transposed_{s}", "imag", [transposed(crandn(3, 4, dtype=dt))]))
        add(case(f"complex_angle_{s}", "angle", [crandn(2, 3, dtype=dt)]))
        add(case(f"complex_conj_{s}", "conj", [crandn(2, 3, dtype=dt)]))
        add(case(f"complex_conj_physical_{s}", "conj_physical", [crandn(2, 3, dtype=dt)]))
    for ft, s in ((F32, "f32"), (F64, "f64")):
        add(case(f"complex_view_as_complex_{s}", "view_as_complex", [randn(3, 2, dtype=ft)]))
        add(case(f"complex_complex_broadcast_{s}", "complex", [randn(2, 1, dtype=ft), randn(3, dtype=ft)]))
        add(case(f"complex_polar_{s}", "polar", [randn(2, 3, dtype=ft).abs(), randn(2, 3, dtype=ft)]))
        add(case(f"complex_angle_real_{s}", "angle", [torch.tensor([1.0, -2.0, 0.0, -0.0, 3.5], dtype=ft)]))
        add(case(f"complex_real_of_real_{s}", "real", [randn(4, dtype=ft)]))
        add(case(f"complex_conj_of_real_{s}", "conj", [randn(4, dtype=ft)]))

    # ---- casts, both directions ----
    add(case("complex_to_c64_from_f64", "to", [randn(2, 3)], dtype=C64))
    add(case("complex_to_c128_from_i64", "to", [ints(5)], dtype=C128))
    add(case("complex_to_c64_from_bool", "to", [bools(4)], dtype=C64))
    add(case("complex_to_c64_from_c128", "to", [crandn(2, 3)], dtype=C64))
    add(case("complex_to_c128_from_c64", "to", [crandn(2, 3, dtype=C64)], dtype=C128))
    # complex -> real keeps the real part (PyTorch warns that the imaginary part is discarded); to bool too.
    add(case("complex_to_f32_from_c64", "to", [crandn(2, 3, dtype=C64)], dtype=F32))
    add(case("complex_to_i64_from_c128", "to", [crandn(6).mul(5)], dtype=I64))
    add(case("complex_to_bool_from_c64", "to",
             [torch.tensor([0j, 1j, 1 + 0j, 0.5 - 2j, -0.0 + 0j], dtype=C64)], dtype=BOOL))

    # ---- promotion with the real dtypes, 0-dim tensors and numbers ----
    add(case("complex_promote_c64_f64_gives_c128", "add", [crandn(3, dtype=C64), randn(3)]))
    add(case("complex_promote_c64_f32_gives_c64", "mul", [crandn(3, dtype=C64), randn(3, dtype=F32)]))
    add(case("complex_promote_i64_c64_gives_c64", "sub", [ints(3), crandn(3, dtype=C64)]))
    add(case("complex_promote_bool_c128_gives_c128", "mul", [bools(4), crandn(4)]))
    add(case("complex_promote_f32_0dim_c128_gives_c64", "add", [randn(3, dtype=F32), crandn(dtype=C128)]))
    add(case("complex_promote_f64_0dim_c64_gives_c128", "add", [randn(3), crandn(dtype=C64)]))
    add(case("complex_promote_c64_0dim_f64_gives_c64", "mul", [crandn(3, dtype=C64), randn(dtype=F64)]))
    add(case("complex_promote_c64_div_i64", "div", [ints(4), cnonzero(4, dtype=C64)]))
    add(case("complex_eq_c64_f32", "eq", [torch.tensor([1 + 0j, 1 + 2j, -3 + 0j], dtype=C64),
                                          torch.tensor([1.0, 1.0, -3.0])]))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_complex.py", 20261204, cases)


if __name__ == "__main__":
    main()
