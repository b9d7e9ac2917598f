#!/usr/bin/python3
"""Writes tests/golden/modules/layers.json: PyTorch 1.13's outputs and gradients of nn layers (convolutions
with every padding mode, "same"/"valid", transposed with output_size; the pooling layers), called as modules
with their parameters given. tests/core/layers_test.cpp builds the same layer in tensord from "module" and
"kwargs", loads "state", and compares the output, the input's gradient and every parameter's gradient for the
upstream gradient "grad_output".

The normalization, embedding and bilinear layers add module-level behaviour: "state" is the state_dict before
the calls (running statistics drawn at random where "random_buffers"); "train" false runs the module in eval
mode; "steps" are inputs of forward calls made (and not differentiated) before the checked one, so running
statistics move through several updates (momentum None included: the cumulative average); "state_after" is the
state_dict after every call (updated running statistics, num_batches_tracked, Embedding's max_norm
renormalisation); "extra_inputs" are further tensors of the call (Bilinear's input2, EmbeddingBag's offsets and
per_sample_weights) with their gradients in "grad_extra_inputs".

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_layers.py
"""

import os

import torch

from generate import F64, encode_tensor, randn, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "modules", "layers.json")
nn = torch.nn


def layer_case(name, module_name, kwargs, input_shape, forward_kwargs=None, positive=False, input_tensor=None,
               extra_inputs=(), train=True, steps=(), random_buffers=False):
    module = getattr(nn, module_name)(**kwargs).double()
    # Parameters drawn afresh (not PyTorch's init stream, which tensord does not share).
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(randn(*p.shape))
        if random_buffers:
            for key, b in module.named_buffers():
                if b.is_floating_point():
                    b.copy_(randn(*b.shape).abs().add(0.5) if key.endswith("var") else randn(*b.shape))
    module.train(train)
    state = {k: encode_tensor(v) for k, v in module.state_dict().items()}
    if input_tensor is not None:
        x = input_tensor.clone()
    else:
        x = randn(*input_shape)
        x = x.abs() + 0.1 if positive else x
    if x.is_floating_point():
        x.requires_grad_()
    extra = [t.clone().requires_grad_(t.is_floating_point()) for t in extra_inputs]
    with torch.no_grad():
        for step in steps:
            module(step)
    out = module(x, *extra, **(forward_kwargs or {}))
    value = out[0] if isinstance(out, tuple) else out
    grad_output = randn(*value.shape)
    value.backward(grad_output)
    case = {
        "name": name,
        "module": module_name,
        "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
        "forward_kwargs": forward_kwargs or {},
        "input": encode_tensor(x),
        "state": state,
        "output": encode_tensor(value),
        "grad_output": encode_tensor(grad_output),
        "grad_input": encode_tensor(x.grad) if x.grad is not None else None,
        "grad_params": {k: encode_tensor(p.grad) for k, p in module.named_parameters() if p.grad is not None},
    }
    if isinstance(out, tuple):
        case["indices"] = encode_tensor(out[1])
    if not train:
        case["train"] = False
    if steps:
        case["steps"] = [encode_tensor(t) for t in steps]
    if extra:
        case["extra_inputs"] = [encode_tensor(t) for t in extra]
        case["grad_extra_inputs"] = [encode_tensor(t.grad) if t.grad is not None else None for t in extra]
    if steps or random_buffers or list(module.buffers()) or module_name.startswith("Embedding"):
        case["state_after"] = {k: encode_tensor(v) for k, v in module.state_dict().items()}
    return case


def norm_cases():
    c = []
    add = c.append
    for dims, shape in ((1, (4, 3, 5)), (2, (3, 3, 2, 4)), (3, (2, 3, 2, 2, 3))):
        bn = f"BatchNorm{dims}d"
        add(layer_case(f"batch_norm{dims}d_train", bn, dict(num_features=3), shape,
                       steps=[randn(*shape), randn(*shape).mul(2)]))
        add(layer_case(f"batch_norm{dims}d_eval", bn, dict(num_features=3, eps=1e-3), shape, train=False,
                       random_buffers=True))
        inn = f"InstanceNorm{dims}d"
        add(layer_case(f"instance_norm{dims}d", inn, dict(num_features=3), shape))
        add(layer_case(f"instance_norm{dims}d_tracked", inn, dict(num_features=3, affine=True,
                                                                 track_running_stats=True, momentum=0.3), shape,
                       steps=[randn(*shape)]))
    add(layer_case("batch_norm1d_2d_input_cumulative", "BatchNorm1d", dict(num_features=4, momentum=None), (6, 4),
                   steps=[randn(6, 4), randn(6, 4).add(1), randn(6, 4).mul(3)]))
    add(layer_case("batch_norm2d_no_affine_untracked", "BatchNorm2d",
                   dict(num_features=2, affine=False, track_running_stats=False), (3, 2, 2, 2)))
    add(layer_case("batch_norm2d_untracked_eval", "BatchNorm2d", dict(num_features=2, track_running_stats=False),
                   (3, 2, 2, 2), train=False))
    add(layer_case("batch_norm2d_momentum_eval_after_steps", "BatchNorm2d", dict(num_features=2, momentum=0.5),
                   (3, 2, 2, 2), steps=[randn(3, 2, 2, 2)], random_buffers=True))
    add(layer_case("instance_norm2d_tracked_eval", "InstanceNorm2d",
                   dict(num_features=3, track_running_stats=True), (2, 3, 3, 3), train=False, random_buffers=True))
    add(layer_case("instance_norm1d_unbatched", "InstanceNorm1d", dict(num_features=3, affine=True), (3, 6)))
    add(layer_case("layer_norm", "LayerNorm", dict(normalized_shape=[3, 4]), (2, 3, 4)))
    add(layer_case("layer_norm_no_affine", "LayerNorm", dict(normalized_shape=5, elementwise_affine=False,
                                                            eps=1e-3), (2, 5)))
    add(layer_case("group_norm", "GroupNorm", dict(num_groups=2, num_channels=4), (3, 4, 5)))
    add(layer_case("group_norm_no_affine", "GroupNorm", dict(num_groups=3, num_channels=6, affine=False),
                   (2, 6, 2, 2)))
    add(layer_case("local_response_norm", "LocalResponseNorm", dict(size=3, alpha=0.01, beta=0.6, k=1.5),
                   (2, 5, 3, 2)))
    idx = torch.tensor([[1, 3, 3, 0], [4, 1, 2, 3]])
    add(layer_case("embedding", "Embedding", dict(num_embeddings=5, embedding_dim=3), None, input_tensor=idx))
    add(layer_case("embedding_padding_idx_negative", "Embedding", dict(num_embeddings=5, embedding_dim=3,
                                                                     padding_idx=-2), None, input_tensor=idx))
    add(layer_case("embedding_max_norm", "Embedding", dict(num_embeddings=5, embedding_dim=3, max_norm=1.2), None,
                   input_tensor=idx))
    add(layer_case("embedding_max_norm_p1_freq", "Embedding", dict(num_embeddings=5, embedding_dim=3, max_norm=2.0,
                                                                 norm_type=1.0, scale_grad_by_freq=True), None,
                   input_tensor=idx))
    flat = torch.tensor([1, 3, 3, 0, 4, 1, 2])
    add(layer_case("embedding_bag_sum_weights", "EmbeddingBag", dict(num_embeddings=5, embedding_dim=3, mode="sum"),
                   None, input_tensor=flat, extra_inputs=[torch.tensor([0, 3, 3]), randn(7)]))
    add(layer_case("embedding_bag_mean_padding", "EmbeddingBag", dict(num_embeddings=5, embedding_dim=3,
                                                                    padding_idx=3), None, input_tensor=flat,
                   extra_inputs=[torch.tensor([0, 3, 3])]))
    add(layer_case("embedding_bag_max_2d_max_norm", "EmbeddingBag", dict(num_embeddings=5, embedding_dim=3,
                                                                       mode="max", max_norm=1.0), None,
                   input_tensor=idx))
    add(layer_case("embedding_bag_last_offset", "EmbeddingBag", dict(num_embeddings=5, embedding_dim=3, mode="sum",
                                                                   include_last_offset=True), None,
                   input_tensor=flat, extra_inputs=[torch.tensor([0, 2, 7])]))
    add(layer_case("bilinear", "Bilinear", dict(in1_features=3, in2_features=2, out_features=4), (5, 3),
                   extra_inputs=[randn(5, 2)]))
    add(layer_case("bilinear_no_bias_3d", "Bilinear", dict(in1_features=2, in2_features=3, out_features=2,
                                                           bias=False), (2, 2, 2), extra_inputs=[randn(2, 2, 3)]))
    return c


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
    return c + norm_cases()


def main():
    write_fixture(OUT, "tests/golden/generate_layers.py", 20261127, cases)


if __name__ == "__main__":
    main()
