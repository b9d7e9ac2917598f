#!/usr/bin/python3
"""Writes tests/golden/fft.json: PyTorch 1.13's torch.fft, values and gradients (and forward-mode tangents
where PyTorch's agree with a central difference): fft, ifft, rfft, irfft, hfft, ihfft and their 2-d and n-d
forms, in both precisions, with every normalization, n and s cutting and zero-padding, dims in any order,
negative dims, transposed inputs, integer inputs (promoted to float32) and even and odd lengths (the
Nyquist frequency); the three primitives _fft_c2c, _fft_r2c (onesided or not) and _fft_c2r directly;
fftfreq, rfftfreq, fftshift and ifftshift.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_fft.py

Complex values are [re, im] pairs (generate.encode_tensor); a complex output is weighted by a complex w and
the real loss Re(sum(out * w)) backpropagated, as in generate_complex_grad.py.
"""

import os

import torch

from generate import F32, F64, I64, ints, make_case, randn, transposed, write_fixture
from generate_complex import C64, C128, crandn
from generate_linalg import case as multi_case

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fft.json")


def cases():
    c = []
    add = c.append
    for real, cplx, s in ((F32, C64, "f32"), (F64, C128, "f64")):
        # ---- 1-d: every transform, both input kinds where PyTorch takes them ----
        for op in ("fft", "ifft"):
            add(make_case(f"{op}_complex_{s}", f"fft_{op}", [crandn(3, 8, dtype=cplx)]))
            add(make_case(f"{op}_real_{s}", f"fft_{op}", [randn(3, 7, dtype=real)]))
            add(make_case(f"{op}_dim0_{s}", f"fft_{op}", [crandn(5, 2, dtype=cplx)], dim=0))
            add(make_case(f"{op}_pad_{s}", f"fft_{op}", [crandn(2, 5, dtype=cplx)], n=8))
            add(make_case(f"{op}_cut_{s}", f"fft_{op}", [randn(2, 9, dtype=real)], n=6, dim=-1))
            for norm in ("backward", "forward", "ortho"):
                add(make_case(f"{op}_norm_{norm}_{s}", f"fft_{op}", [crandn(2, 6, dtype=cplx)], norm=norm))
        add(make_case(f"fft_transposed_{s}", "fft_fft", [transposed(crandn(4, 6, dtype=cplx))]))
        add(make_case(f"fft_3d_middle_dim_{s}", "fft_fft", [crandn(2, 5, 3, dtype=cplx)], dim=1))
        add(make_case(f"fft_prime_length_{s}", "fft_fft", [crandn(2, 13, dtype=cplx)]))
        for n, tag in ((8, "even"), (7, "odd")):
            add(make_case(f"rfft_{tag}_{s}", "fft_rfft", [randn(3, n, dtype=real)]))
            add(make_case(f"irfft_{tag}_{s}", "fft_irfft", [crandn(3, n // 2 + 1, dtype=cplx)], n=n))
            add(make_case(f"hfft_{tag}_{s}", "fft_hfft", [crandn(2, n // 2 + 1, dtype=cplx)], n=n))
            add(make_case(f"ihfft_{tag}_{s}", "fft_ihfft", [randn(2, n, dtype=real)]))
        add(make_case(f"rfft_dim0_pad_{s}", "fft_rfft", [randn(5, 3, dtype=real)], n=8, dim=0))
        add(make_case(f"rfft_transposed_{s}", "fft_rfft", [transposed(randn(6, 4, dtype=real))]))
        add(make_case(f"irfft_default_n_{s}", "fft_irfft", [crandn(2, 5, dtype=cplx)]))
        add(make_case(f"irfft_cut_{s}", "fft_irfft", [crandn(2, 6, dtype=cplx)], n=6))
        add(make_case(f"irfft_pad_{s}", "fft_irfft", [crandn(2, 3, dtype=cplx)], n=10))
        add(make_case(f"irfft_real_input_{s}", "fft_irfft", [randn(2, 4, dtype=real)]))
        add(make_case(f"hfft_default_n_{s}", "fft_hfft", [crandn(3, 4, dtype=cplx)], dim=0))
        for norm in ("forward", "ortho"):
            add(make_case(f"rfft_norm_{norm}_{s}", "fft_rfft", [randn(2, 6, dtype=real)], norm=norm))
            add(make_case(f"irfft_norm_{norm}_{s}", "fft_irfft", [crandn(2, 4, dtype=cplx)], norm=norm))
            add(make_case(f"hfft_norm_{norm}_{s}", "fft_hfft", [crandn(2, 4, dtype=cplx)], norm=norm))
            add(make_case(f"ihfft_norm_{norm}_{s}", "fft_ihfft", [randn(2, 6, dtype=real)], norm=norm))
        # ---- 2-d and n-d ----
        for op in ("fft", "ifft"):
            add(make_case(f"{op}2_{s}", f"fft_{op}2", [crandn(2, 4, 5, dtype=cplx)]))
            add(make_case(f"{op}n_all_{s}", f"fft_{op}n", [crandn(3, 4, 2, dtype=cplx)]))
            add(make_case(f"{op}n_real_{s}", f"fft_{op}n", [randn(3, 4, dtype=real)], dim=[0, 1]))
            add(make_case(f"{op}n_s_{s}", f"fft_{op}n", [crandn(3, 4, 5, dtype=cplx)], s=[2, 6]))
            add(make_case(f"{op}n_s_dims_{s}", f"fft_{op}n", [crandn(3, 4, 5, dtype=cplx)], s=[-1, 3], dim=[2, 0],
                          norm="ortho"))
        add(make_case(f"fft2_transposed_{s}", "fft_fft2", [transposed(crandn(4, 6, dtype=cplx))], norm="forward"))
        add(make_case(f"fftn_one_dim_{s}", "fft_fftn", [crandn(3, 4, dtype=cplx)], dim=[0]))
        add(make_case(f"rfft2_{s}", "fft_rfft2", [randn(2, 4, 6, dtype=real)]))
        add(make_case(f"rfft2_odd_{s}", "fft_rfft2", [randn(5, 7, dtype=real)], norm="ortho"))
        add(make_case(f"rfftn_dims_{s}", "fft_rfftn", [randn(4, 3, 6, dtype=real)], dim=[2, 0]))
        add(make_case(f"rfftn_s_{s}", "fft_rfftn", [randn(3, 5, dtype=real)], s=[4, 8]))
        add(make_case(f"irfft2_{s}", "fft_irfft2", [crandn(4, 4, dtype=cplx)]))
        add(make_case(f"irfftn_s_{s}", "fft_irfftn", [crandn(3, 4, dtype=cplx)], s=[4, 7]))
        add(make_case(f"irfftn_s_default_last_{s}", "fft_irfftn", [crandn(3, 4, dtype=cplx)], s=[5, -1]))
        add(make_case(f"irfftn_dims_{s}", "fft_irfftn", [crandn(3, 4, 5, dtype=cplx)], dim=[0, 1], norm="forward"))
        add(make_case(f"hfft2_{s}", "fft_hfft2", [crandn(4, 3, dtype=cplx)]))
        add(make_case(f"hfftn_s_{s}", "fft_hfftn", [crandn(3, 4, dtype=cplx)], s=[3, 5], norm="ortho"))
        add(make_case(f"ihfft2_{s}", "fft_ihfft2", [randn(4, 6, dtype=real)]))
        add(make_case(f"ihfftn_{s}", "fft_ihfftn", [randn(2, 3, 5, dtype=real)], norm="forward"))
        # ---- the primitives ----
        for fwd in (True, False):
            add(make_case(f"_fft_c2c_{'fwd' if fwd else 'inv'}_{s}", "_fft_c2c", [crandn(3, 4, dtype=cplx)],
                          dim=[1, 0], normalization=2 if fwd else 1, forward=fwd))
        for onesided in (True, False):
            for n in (6, 5):
                add(make_case(f"_fft_r2c_{'half' if onesided else 'full'}_{n}_{s}", "_fft_r2c",
                              [randn(3, 4, n, dtype=real)], dim=[0, 2], normalization=0, onesided=onesided))
        add(make_case(f"_fft_r2c_full_three_dims_{s}", "_fft_r2c", [randn(3, 4, 5, dtype=real)], dim=[1, 0, 2],
                      normalization=1, onesided=False))
        add(make_case(f"_fft_c2r_even_{s}", "_fft_c2r", [crandn(3, 4, dtype=cplx)], dim=[1], normalization=2,
                      last_dim_size=6))
        add(make_case(f"_fft_c2r_odd_2d_{s}", "_fft_c2r", [crandn(3, 4, dtype=cplx)], dim=[0, 1], normalization=0,
                      last_dim_size=7))
    # ---- stft and istft (the window is a second input: it gets a gradient too) ----
    for real, cplx, s in ((F32, C64, "f32"), (F64, C128, "f64")):
        hann = torch.hann_window(16, dtype=real)
        add(multi_case(f"stft_hann_{s}", "stft", [randn(2, 40, dtype=real), hann], n_fft=16, hop_length=4,
                       return_complex=True,
                       torch_call=lambda a: torch.stft(a[0], 16, hop_length=4, window=a[1], return_complex=True)))
        add(multi_case(f"stft_plain_full_{s}", "stft", [randn(37, dtype=real)], n_fft=8, center=False, onesided=False,
                       return_complex=True,
                       torch_call=lambda a: torch.stft(a[0], 8, center=False, onesided=False, return_complex=True)))
        add(multi_case(f"stft_short_window_{s}", "stft", [randn(30, dtype=real), torch.hann_window(12, dtype=real)],
                       n_fft=16, hop_length=5, win_length=12, pad_mode="constant", normalized=True,
                       return_complex=True,
                       torch_call=lambda a: torch.stft(a[0], 16, hop_length=5, win_length=12, window=a[1],
                                                       pad_mode="constant", normalized=True, return_complex=True)))
        add(multi_case(f"stft_real_pairs_{s}", "stft", [randn(2, 24, dtype=real)], n_fft=8, hop_length=2,
                       return_complex=False,
                       torch_call=lambda a: torch.stft(a[0], 8, hop_length=2, return_complex=False)))
        add(multi_case(f"stft_complex_{s}", "stft", [crandn(20, dtype=cplx)], n_fft=8, hop_length=4,
                       torch_call=lambda a: torch.stft(a[0], 8, hop_length=4, return_complex=True)))
        spec = torch.stft(randn(2, 40, dtype=real), 16, hop_length=4, window=hann, return_complex=True).detach()
        add(multi_case(f"istft_hann_{s}", "istft", [spec, hann], n_fft=16, hop_length=4,
                       torch_call=lambda a: torch.istft(a[0], 16, hop_length=4, window=a[1])))
        add(multi_case(f"istft_length_{s}", "istft", [spec[0], hann], n_fft=16, hop_length=4, length=30,
                       torch_call=lambda a: torch.istft(a[0], 16, hop_length=4, window=a[1], length=30)))
        spec2 = torch.stft(randn(33, dtype=real), 8, hop_length=2, center=False, normalized=True,
                           return_complex=True).detach()
        add(multi_case(f"istft_no_center_normalized_{s}", "istft", [spec2], n_fft=8, hop_length=2, center=False,
                       normalized=True,
                       torch_call=lambda a: torch.istft(a[0], 8, hop_length=2, center=False, normalized=True)))
    # ---- integer input: promoted to the default float dtype ----
    add(make_case("fft_int_input", "fft_fft", [ints(2, 5)]))
    add(make_case("rfftn_int_input", "fft_rfftn", [ints(3, 4)]))
    # ---- frequencies and shifts ----
    add(make_case("fftfreq_odd", "fft_fftfreq", [], n=5))
    add(make_case("fftfreq_even_d_f64", "fft_fftfreq", [], n=8, d=0.25, dtype=F64))
    add(make_case("rfftfreq_odd_d", "fft_rfftfreq", [], n=7, d=0.5))
    add(make_case("rfftfreq_even", "fft_rfftfreq", [], n=6))
    add(make_case("fftshift_all", "fft_fftshift", [randn(3, 5)]))
    add(make_case("fftshift_dim", "fft_fftshift", [randn(4, 5)], dim=[1]))
    add(make_case("ifftshift_all", "fft_ifftshift", [randn(3, 5)]))
    add(make_case("ifftshift_dims_complex", "fft_ifftshift", [crandn(4, 5, 3)], dim=[0, -1]))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_fft.py", 20261127, cases)


if __name__ == "__main__":
    main()
