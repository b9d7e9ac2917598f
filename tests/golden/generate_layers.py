#!/usr/bin/python3
"""Writes tests/golden/modules/layers.json: PyTorch 1.13's outputs and gradients of nn layers (convolutions
with every padding mode, "same"/"valid", transposed with output_size; the pooling layers), called as modules
with their parameters given. tests/core/layers_test.cpp builds the same layer in tensord from "module" and
"kwargs", loads "state", and compares the output, the input's gradient and every parameter's gradient for the
upstream gradient "grad_output".

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_layers.py
"""

import os

import torch

from generate import F64, encode_tensor, randn, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "modules", "layers.json")
nn = torch.nn


def layer_case(name, module_name, kwargs, input_shape, forward_kwargs=None, positive=False):
    module = getattr(nn, module_name)(**kwargs).double()
    # Parameters drawn afresh (not PyTorch's init stream, which tensord does not share).
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(randn(*p.shape))
    x = randn(*input_shape)
    x = (x.abs() + 0.1 if positive else x).requires_grad_()
    out = module(x, **(forward_kwargs or {}))
    value = out[0] if isinstance(out, tuple) else out
    grad_output = randn(*value.shape)
    value.backward(grad_output)
    case = {
        "name": name,
        "module": module_name,
        "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
        "forward_kwargs": forward_kwargs or {},
        "input": encode_tensor(x),
        "state": {k: encode_tensor(v) for k, v in module.state_dict().items()},
        "output": encode_tensor(value),
        "grad_output": encode_tensor(grad_output),
        "grad_input": encode_tensor(x.grad),
        "grad_params": {k: encode_tensor(p.grad) for k, p in module.named_parameters()},
    }
    if isinstance(out, tuple):
        case["indices"] = encode_tensor(out[1])
    return case


def cases():
    c = []
    add = c.append
    for mode in ("zeros", "reflect", "replicate", "circular"):
        add(layer_case(f"conv1d_{mode}", "Conv1d", dict(in_channels=2, out_channels=3, kernel_size=3, padding=2,
                                                         padding_mode=mode), (2, 2, 7)))
        add(layer_case(f"conv2d_{mode}", "Conv2d", dict(in_channels=4, out_channels=4, kernel_size=(3, 2),
                                                         stride=(2, 1), padding=(1, 2), groups=2,
                                                         padding_mode=mode), (2, 4, 6, 5)))
        add(layer_case(f"conv2d_same_{mode}", "Conv2d", dict(in_channels=2, out_channels=3, kernel_size=(4, 3),
                                                              padding="same", dilation=(1, 2), padding_mode=mode),
                       (1, 2, 7, 8)))
    add(layer_case("conv3d_circular", "Conv3d", dict(in_channels=2, out_channels=2, kernel_size=2, padding=1,
                                                      padding_mode="circular", bias=False), (1, 2, 3, 4, 3)))
    add(layer_case("conv2d_valid_unbatched", "Conv2d", dict(in_channels=3, out_channels=2, kernel_size=3,
                                                             padding="valid"), (3, 6, 6)))
    add(layer_case("conv_transpose1d", "ConvTranspose1d", dict(in_channels=3, out_channels=2, kernel_size=3,
                                                                stride=2, padding=1, output_padding=1), (2, 3, 5)))
    add(layer_case("conv_transpose2d_groups", "ConvTranspose2d", dict(in_channels=4, out_channels=6, kernel_size=3,
                                                                       stride=2, groups=2, dilation=2), (1, 4, 3, 4)))
    add(layer_case("conv_transpose2d_output_size", "ConvTranspose2d",
                   dict(in_channels=2, out_channels=3, kernel_size=3, stride=3, padding=1), (1, 2, 3, 3),
                   forward_kwargs=dict(output_size=[8, 9])))
    add(layer_case("conv_transpose3d", "ConvTranspose3d", dict(in_channels=2, out_channels=2, kernel_size=2,
                                                                stride=2), (1, 2, 2, 3, 2)))
    add(layer_case("max_pool1d", "MaxPool1d", dict(kernel_size=3, stride=2, padding=1), (2, 3, 9)))
    add(layer_case("max_pool2d_indices", "MaxPool2d", dict(kernel_size=(2, 3), stride=(2, 1), dilation=(1, 2),
                                                            return_indices=True, ceil_mode=True), (2, 2, 7, 8)))
    add(layer_case("max_pool3d", "MaxPool3d", dict(kernel_size=2), (1, 2, 4, 4, 5)))
    add(layer_case("avg_pool1d", "AvgPool1d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
                   (2, 3, 8)))
    add(layer_case("avg_pool2d_divisor", "AvgPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                                            divisor_override=4), (1, 2, 7, 6)))
    add(layer_case("avg_pool3d", "AvgPool3d", dict(kernel_size=(2, 2, 1)), (1, 2, 4, 4, 3)))
    add(layer_case("adaptive_avg_pool1d", "AdaptiveAvgPool1d", dict(output_size=4), (2, 3, 10)))
    add(layer_case("adaptive_avg_pool2d", "AdaptiveAvgPool2d", dict(output_size=(3, 5)), (1, 2, 7, 9)))
    add(layer_case("adaptive_max_pool1d_indices", "AdaptiveMaxPool1d", dict(output_size=3, return_indices=True),
                   (2, 2, 8)))
    add(layer_case("adaptive_max_pool2d", "AdaptiveMaxPool2d", dict(output_size=(2, 3)), (1, 3, 6, 7)))
    add(layer_case("lp_pool1d", "LPPool1d", dict(norm_type=3, kernel_size=3, stride=2), (1, 2, 9), positive=True))  # a window of negative cubes has no real cube root
    add(layer_case("lp_pool2d", "LPPool2d", dict(norm_type=2, kernel_size=2), (1, 2, 6, 6), positive=True))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_layers.py", 20261127, cases)


if __name__ == "__main__":
    main()
