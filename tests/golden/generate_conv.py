#!/usr/bin/python3
"""Writes tests/golden/conv.json: PyTorch 1.13's results for convolution (aten::convolution), conv1d/2d/3d
(numeric and "same"/"valid" padding) and conv_transpose1d/2d/3d, with the gradients of input, weight and
bias: strides, padding, dilation, groups (depthwise too), output_padding, unbatched and empty inputs,
non-contiguous layouts.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_conv.py
"""

import os

import torch
import torch.nn.functional as F

import generate
from generate import F32, expanded, make_case, randn, transposed, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "conv.json")

_apply = generate.apply


def apply(op, args, kwargs):
    """The conv ops are torch.nn.functional's (and aten's convolution), not Tensor methods."""
    if op == "convolution":
        k = kwargs
        bias = args[2] if len(args) > 2 else None
        return torch.ops.aten.convolution(args[0], args[1], bias, k["stride"], k["padding"], k["dilation"],
                                          k["transposed"], k["output_padding"], k["groups"])
    base = op.split(".")[0]
    if base.startswith("conv"):
        return getattr(F, base)(*args, **kwargs)
    return _apply(op, args, kwargs)


generate.apply = apply  # make_case looks apply up in generate's globals


def conv(name, op, inputs, **kwargs):
    return make_case(name, op, inputs, **kwargs)


def convolution_cases(add):
    def c(name, x, w, b, stride, padding, dilation, transposed_, output_padding, groups):
        inputs = [x, w] + ([b] if b is not None else [])
        kw = dict(stride=stride, padding=padding, dilation=dilation, transposed=transposed_,
                  output_padding=output_padding, groups=groups)
        if b is None:
            kw["bias"] = None
        add(make_case(name, "convolution", inputs, **kw))

    c("convolution_2d_basic", randn(2, 3, 5, 5), randn(4, 3, 3, 3), randn(4), [1, 1], [0, 0], [1, 1], False, [0, 0], 1)
    c("convolution_1d_stride_pad_dil", randn(2, 2, 9), randn(3, 2, 3), None, [2], [1], [2], False, [0], 1)
    c("convolution_3d_groups", randn(1, 4, 4, 5, 3), randn(6, 2, 2, 3, 2), randn(6), [1, 2, 1], [1, 0, 1], [1, 1, 2],
      False, [0, 0, 0], 2)
    c("convolution_2d_transposed_output_padding", randn(2, 4, 3, 4), randn(4, 3, 3, 2), randn(3), [2, 3], [1, 0],
      [1, 1], True, [1, 2], 1)
    c("convolution_2d_single_value_lists", randn(1, 2, 5, 4), randn(2, 2, 2, 2), None, [2], [1], [1], False, [0], 1)
    c("convolution_1d_transposed_groups_dilation", randn(2, 4, 5), randn(4, 3, 3), randn(6), [2], [2], [2], True, [1],
      2)


def conv_cases(add):
    # conv1d
    add(conv("conv1d_basic", "conv1d", [randn(2, 3, 7), randn(4, 3, 3), randn(4)]))
    add(conv("conv1d_stride_padding_dilation", "conv1d", [randn(2, 2, 11), randn(3, 2, 3)], stride=2, padding=2,
             dilation=3))
    add(conv("conv1d_unbatched", "conv1d", [randn(3, 6), randn(2, 3, 2), randn(2)], padding=1))
    add(conv("conv1d_groups", "conv1d", [randn(2, 4, 6), randn(6, 2, 3)], groups=2))
    add(conv("conv1d_depthwise_multiplier", "conv1d", [randn(1, 3, 8), randn(6, 1, 3), randn(6)], groups=3, padding=1))
    add(conv("conv1d_1x1_kernel", "conv1d", [randn(2, 3, 5), randn(4, 3, 1)]))
    add(conv("conv1d_f32", "conv1d", [randn(2, 2, 6, dtype=F32), randn(3, 2, 2, dtype=F32), randn(3, dtype=F32)]))
    add(conv("conv1d_transposed_input", "conv1d", [transposed(randn(2, 3, 5), 1, 2), randn(2, 3, 2)], padding=1))
    add(conv("conv1d_expanded_input", "conv1d", [expanded(randn(1, 2, 5), [3, 2, 5]), randn(2, 2, 3)]))
    add(conv("conv1d_same_even_kernel", "conv1d.padding", [randn(2, 2, 6), randn(3, 2, 4), randn(3)], padding="same"))
    add(conv("conv1d_valid", "conv1d.padding", [randn(1, 2, 6), randn(2, 2, 3)], padding="valid"))
    add(conv("conv1d_empty_batch", "conv1d", [randn(0, 2, 5), randn(3, 2, 3), randn(3)]))

    # conv2d
    add(conv("conv2d_basic", "conv2d", [randn(2, 3, 5, 6), randn(4, 3, 3, 3), randn(4)]))
    add(conv("conv2d_reference_cnn_layer", "conv2d", [randn(2, 2, 6, 6), randn(4, 2, 3, 3), randn(4)], padding=1))
    add(conv("conv2d_stride_tuple", "conv2d", [randn(1, 2, 7, 8), randn(3, 2, 3, 2)], stride=[2, 3], padding=[1, 0]))
    add(conv("conv2d_dilation", "conv2d", [randn(2, 2, 7, 7), randn(2, 2, 3, 3), randn(2)], dilation=[2, 1],
             padding=[2, 1]))
    add(conv("conv2d_stride_and_dilation", "conv2d", [randn(1, 2, 9, 8), randn(2, 2, 2, 3)], stride=2, dilation=2,
             padding=1))
    add(conv("conv2d_groups", "conv2d", [randn(2, 4, 5, 5), randn(6, 2, 3, 3), randn(6)], groups=2, padding=1))
    add(conv("conv2d_depthwise", "conv2d", [randn(2, 3, 5, 5), randn(3, 1, 3, 3), randn(3)], groups=3, padding=1))
    add(conv("conv2d_depthwise_strided", "conv2d", [randn(1, 4, 6, 6), randn(4, 1, 2, 2)], groups=4, stride=2))
    add(conv("conv2d_1x1_kernel", "conv2d", [randn(2, 5, 3, 4), randn(3, 5, 1, 1), randn(3)]))
    add(conv("conv2d_1x1_strided", "conv2d", [randn(1, 2, 5, 5), randn(3, 2, 1, 1)], stride=2))
    add(conv("conv2d_unbatched", "conv2d", [randn(2, 4, 4), randn(3, 2, 2, 2), randn(3)], padding=1))
    add(conv("conv2d_f32", "conv2d", [randn(2, 2, 4, 4, dtype=F32), randn(2, 2, 2, 2, dtype=F32),
                                       randn(2, dtype=F32)], padding=1))
    add(conv("conv2d_transposed_input", "conv2d", [transposed(randn(2, 3, 5, 6)), randn(2, 3, 3, 3), randn(2)],
             padding=1))
    add(conv("conv2d_channels_transposed_weight", "conv2d", [randn(1, 3, 4, 4), transposed(randn(2, 3, 3, 3), 0, 1)]))
    add(conv("conv2d_kernel_equals_input", "conv2d", [randn(2, 2, 3, 3), randn(4, 2, 3, 3)]))
    add(conv("conv2d_one_output_column_wide_input", "conv2d", [randn(1, 1, 3, 12), randn(2, 1, 3, 3)], stride=[1, 4]))
    add(conv("conv2d_empty_batch", "conv2d", [randn(0, 2, 5, 5), randn(3, 2, 3, 3), randn(3)], padding=1))
    # No input channels: PyTorch 1.13 returns [N, 0, H', W'] (its empty-input path drops the output channels);
    # tensord returns the bias at every position, the empty sum plus bias (conv_test.cpp, EdgeCases).
    # 64 window positions and more per sample: one GEMM per sample (or a batched one) instead of the folded one.
    add(conv("conv2d_many_positions", "conv2d", [randn(3, 2, 10, 10), randn(3, 2, 3, 3), randn(3)], padding=1))
    add(conv("conv2d_many_positions_groups", "conv2d", [randn(2, 4, 9, 9), randn(4, 2, 2, 2), randn(4)], groups=2))
    add(conv("conv2d_many_positions_strided_input", "conv2d", [transposed(randn(2, 3, 11, 9)), randn(2, 3, 2, 2)]))
    add(conv("conv2d_same_odd", "conv2d.padding", [randn(1, 2, 5, 6), randn(3, 2, 3, 3), randn(3)], padding="same"))
    add(conv("conv2d_same_even_kernel", "conv2d.padding", [randn(2, 2, 5, 5), randn(2, 2, 2, 4)], padding="same"))
    add(conv("conv2d_same_dilation", "conv2d.padding", [randn(1, 2, 6, 6), randn(2, 2, 3, 2)], padding="same",
             dilation=[2, 3]))
    add(conv("conv2d_same_groups_unbatched", "conv2d.padding", [randn(4, 5, 5), randn(4, 2, 3, 3)], padding="same",
             groups=2))
    add(conv("conv2d_valid", "conv2d.padding", [randn(1, 2, 5, 5), randn(2, 2, 3, 3), randn(2)], padding="valid",
             stride=2))

    # conv3d
    add(conv("conv3d_basic", "conv3d", [randn(1, 2, 4, 4, 4), randn(3, 2, 2, 2, 2), randn(3)]))
    add(conv("conv3d_stride_padding_dilation", "conv3d", [randn(2, 2, 5, 6, 5), randn(2, 2, 3, 2, 2)],
             stride=[2, 1, 2], padding=[1, 1, 0], dilation=[1, 2, 2]))
    add(conv("conv3d_groups_unbatched", "conv3d", [randn(4, 3, 4, 3), randn(4, 2, 2, 2, 2), randn(4)], groups=2,
             padding=1))
    add(conv("conv3d_same", "conv3d.padding", [randn(1, 2, 4, 3, 4), randn(2, 2, 2, 3, 2)], padding="same"))


def conv_transpose_cases(add):
    add(conv("conv_transpose1d_basic", "conv_transpose1d", [randn(2, 3, 5), randn(3, 2, 3), randn(2)]))
    add(conv("conv_transpose1d_stride_output_padding", "conv_transpose1d", [randn(2, 2, 4), randn(2, 3, 3)], stride=3,
             padding=1, output_padding=2))
    add(conv("conv_transpose1d_dilation_output_padding", "conv_transpose1d", [randn(1, 2, 4), randn(2, 2, 2)],
             dilation=3, output_padding=2))
    add(conv("conv_transpose1d_unbatched_groups", "conv_transpose1d", [randn(4, 5), randn(4, 1, 3), randn(2)],
             groups=2, stride=2))
    add(conv("conv_transpose2d_basic", "conv_transpose2d", [randn(2, 3, 4, 4), randn(3, 2, 3, 3), randn(2)]))
    add(conv("conv_transpose2d_stride_padding", "conv_transpose2d", [randn(2, 2, 3, 4), randn(2, 3, 3, 2), randn(3)],
             stride=2, padding=1, output_padding=1))
    add(conv("conv_transpose2d_asymmetric", "conv_transpose2d", [randn(1, 2, 3, 3), randn(2, 2, 2, 3)],
             stride=[1, 2], padding=[0, 1], output_padding=[0, 1], dilation=[2, 1]))
    add(conv("conv_transpose2d_groups", "conv_transpose2d", [randn(2, 4, 3, 3), randn(4, 2, 2, 2), randn(4)],
             groups=2, stride=2))
    add(conv("conv_transpose2d_depthwise", "conv_transpose2d", [randn(1, 3, 4, 4), randn(3, 1, 3, 3)], groups=3,
             padding=1))
    add(conv("conv_transpose2d_unbatched", "conv_transpose2d", [randn(2, 3, 3), randn(2, 2, 2, 2), randn(2)]))
    add(conv("conv_transpose2d_f32", "conv_transpose2d", [randn(1, 2, 3, 3, dtype=F32), randn(2, 2, 2, 2, dtype=F32)],
             stride=2))
    add(conv("conv_transpose2d_transposed_input", "conv_transpose2d", [transposed(randn(2, 2, 3, 4)),
                                                                       randn(2, 3, 2, 2)], stride=2))
    add(conv("conv_transpose2d_1x1", "conv_transpose2d", [randn(2, 3, 3, 2), randn(3, 2, 1, 1), randn(2)]))
    add(conv("conv_transpose2d_empty_batch", "conv_transpose2d", [randn(0, 2, 3, 3), randn(2, 3, 2, 2), randn(3)]))
    add(conv("conv_transpose2d_batch_folded", "conv_transpose2d", [randn(3, 2, 2, 2), randn(2, 2, 3, 3), randn(2)],
             stride=2, padding=1))
    add(conv("conv_transpose2d_many_positions", "conv_transpose2d", [randn(2, 3, 8, 9), randn(3, 2, 3, 3), randn(2)],
             stride=2, padding=1, output_padding=1))
    add(conv("conv_transpose2d_many_positions_groups", "conv_transpose2d", [randn(2, 4, 8, 8), randn(4, 3, 2, 2)],
             groups=2))
    add(conv("conv_transpose3d_basic", "conv_transpose3d", [randn(1, 2, 2, 3, 2), randn(2, 2, 2, 2, 2), randn(2)]))
    add(conv("conv_transpose3d_stride_groups", "conv_transpose3d", [randn(2, 2, 2, 2, 3), randn(2, 1, 2, 3, 2)],
             stride=[2, 1, 2], padding=[0, 1, 1], output_padding=[1, 0, 1], groups=2))


def complex_cases(add):
    """Complex convolutions (PyTorch's complex_convolution: three real ones), gradients and tangents."""
    def crandn(*shape, dtype=torch.complex128):
        return torch.complex(randn(*shape), randn(*shape)).to(dtype)

    add(make_case("conv1d_complex128", "conv1d", [crandn(2, 2, 7), crandn(3, 2, 3), crandn(3)], stride=2, padding=1))
    add(make_case("conv2d_complex64_groups", "conv2d", [crandn(1, 4, 5, 4, dtype=torch.complex64),
                                                        crandn(4, 2, 2, 3, dtype=torch.complex64)],
                  padding=[1, 0], dilation=[2, 1], groups=2))
    add(make_case("conv3d_complex128_unbatched", "conv3d", [crandn(2, 3, 3, 4), crandn(2, 2, 2, 2, 2), crandn(2)]))


def cases():
    c = []
    for part in (convolution_cases, conv_cases, conv_transpose_cases, complex_cases):
        part(c.append)
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_conv.py", 20261127, cases)


if __name__ == "__main__":
    main()
