#!/usr/bin/python3
"""Writes tests/golden/upsample.json: PyTorch 1.13's results and gradients for the interpolation ops
(upsample_nearest1d/2d/3d, _upsample_nearest_exact1d/2d/3d, upsample_linear1d, upsample_bilinear2d,
upsample_bicubic2d, upsample_trilinear3d) over up- and downscaling, align_corners, explicit scales (which set
the coordinate ratio apart from the sizes), float32 and float64, uint8 for nearest, and non-contiguous inputs.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_upsample.py
"""

import os

import torch

from generate import F32, F64, make_case, randn, transposed, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "upsample.json")


def nearest_cases(add):
    add(make_case("nearest1d_up", "upsample_nearest1d", [randn(2, 3, 4)], output_size=[7]))
    add(make_case("nearest1d_down_scale", "upsample_nearest1d", [randn(1, 2, 9)], output_size=[4], scales=0.45))
    add(make_case("nearest1d_double", "upsample_nearest1d", [randn(1, 2, 3, dtype=F32)], output_size=[6]))
    add(make_case("nearest2d_up", "upsample_nearest2d", [randn(2, 2, 3, 4)], output_size=[5, 9]))
    add(make_case("nearest2d_down_f32", "upsample_nearest2d", [randn(1, 3, 7, 6, dtype=F32)], output_size=[3, 4]))
    add(make_case("nearest2d_scales", "upsample_nearest2d", [randn(1, 1, 4, 5)], output_size=[6, 8], scales_h=1.7, scales_w=1.6))
    add(make_case("nearest2d_transposed", "upsample_nearest2d", [transposed(randn(1, 2, 3, 5))], output_size=[6, 4]))
    add(make_case("nearest2d_uint8", "upsample_nearest2d", [torch.randint(0, 256, (1, 3, 4, 4), dtype=torch.uint8)], output_size=[7, 5]))
    add(make_case("nearest3d_up", "upsample_nearest3d", [randn(1, 2, 2, 3, 3)], output_size=[3, 5, 4]))
    add(make_case("nearest_exact1d", "_upsample_nearest_exact1d", [randn(1, 2, 5)], output_size=[8]))
    add(make_case("nearest_exact2d_down", "_upsample_nearest_exact2d", [randn(1, 2, 7, 6, dtype=F32)], output_size=[4, 3]))
    add(make_case("nearest_exact3d", "_upsample_nearest_exact3d", [randn(1, 1, 3, 2, 4)], output_size=[4, 4, 3], scales_d=1.4))


def linear_cases(add):
    add(make_case("linear1d_up", "upsample_linear1d", [randn(2, 3, 4)], output_size=[9], align_corners=False))
    add(make_case("linear1d_align", "upsample_linear1d", [randn(2, 2, 5, dtype=F32)], output_size=[8], align_corners=True))
    add(make_case("linear1d_down_scale", "upsample_linear1d", [randn(1, 2, 10)], output_size=[4], align_corners=False, scales=0.4))
    add(make_case("linear1d_to_one_align", "upsample_linear1d", [randn(1, 1, 4)], output_size=[1], align_corners=True))
    add(make_case("bilinear2d_up", "upsample_bilinear2d", [randn(2, 2, 3, 4)], output_size=[5, 7], align_corners=False))
    add(make_case("bilinear2d_up_f32", "upsample_bilinear2d", [randn(1, 3, 4, 4, dtype=F32)], output_size=[8, 8], align_corners=False))
    add(make_case("bilinear2d_align", "upsample_bilinear2d", [randn(1, 2, 3, 5)], output_size=[7, 4], align_corners=True))
    add(make_case("bilinear2d_down", "upsample_bilinear2d", [randn(1, 2, 9, 8, dtype=F32)], output_size=[4, 3], align_corners=False))
    add(make_case("bilinear2d_scales", "upsample_bilinear2d", [randn(1, 1, 4, 6)], output_size=[7, 9], align_corners=False, scales_h=1.8, scales_w=1.5))
    add(make_case("bilinear2d_same_h", "upsample_bilinear2d", [randn(1, 1, 4, 3)], output_size=[4, 6], align_corners=False, scales_h=1.3, scales_w=2.0))
    add(make_case("bilinear2d_transposed", "upsample_bilinear2d", [transposed(randn(2, 1, 4, 3))], output_size=[5, 6], align_corners=False))
    add(make_case("trilinear3d_up", "upsample_trilinear3d", [randn(1, 2, 2, 3, 4)], output_size=[3, 5, 6], align_corners=False))
    add(make_case("trilinear3d_align_f32", "upsample_trilinear3d", [randn(1, 1, 3, 3, 2, dtype=F32)], output_size=[4, 2, 5], align_corners=True))


def bicubic_cases(add):
    add(make_case("bicubic2d_up", "upsample_bicubic2d", [randn(2, 2, 4, 5)], output_size=[7, 9], align_corners=False))
    add(make_case("bicubic2d_up_f32", "upsample_bicubic2d", [randn(1, 3, 4, 4, dtype=F32)], output_size=[8, 6], align_corners=False))
    add(make_case("bicubic2d_align", "upsample_bicubic2d", [randn(1, 2, 4, 3)], output_size=[6, 7], align_corners=True))
    add(make_case("bicubic2d_down", "upsample_bicubic2d", [randn(1, 1, 9, 7)], output_size=[4, 3], align_corners=False))
    add(make_case("bicubic2d_scales", "upsample_bicubic2d", [randn(1, 1, 3, 4)], output_size=[5, 9], align_corners=False, scales_h=1.9, scales_w=2.4))


def grid_cases(add):
    """F.grid_sample's aten op (interpolation 0 bilinear, 1 nearest; padding 0 zeros, 1 border, 2 reflection) on
    grids reaching past [-1, 1], and F.affine_grid's."""
    for mode, mname in ((0, "bilinear"), (1, "nearest")):
        for padding, pname in ((0, "zeros"), (1, "border"), (2, "reflection")):
            for align in (False, True):
                name = f"grid_sample_{mname}_{pname}_{'align' if align else 'noalign'}"
                add(make_case(name, "grid_sampler", [randn(2, 3, 4, 5), randn(2, 3, 6, 2) * 0.8],
                              interpolation_mode=mode, padding_mode=padding, align_corners=align))
    add(make_case("grid_sample_bilinear_f32_far", "grid_sampler", [randn(1, 2, 3, 3, dtype=F32), randn(1, 4, 4, 2, dtype=F32) * 1.5],
                  interpolation_mode=0, padding_mode=2, align_corners=False))
    add(make_case("affine_grid_2d", "affine_grid_generator", [randn(2, 2, 3)], size=[2, 3, 4, 5], align_corners=False))
    add(make_case("affine_grid_2d_align", "affine_grid_generator", [randn(1, 2, 3)], size=[1, 1, 3, 2], align_corners=True))
    add(make_case("affine_grid_3d", "affine_grid_generator", [randn(2, 3, 4)], size=[2, 1, 2, 3, 4], align_corners=False))


def cases():
    c = []
    for part in (nearest_cases, linear_cases, bicubic_cases, grid_cases):
        part(c.append)
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_upsample.py", 20260301, cases)


if __name__ == "__main__":
    main()
