#!/usr/bin/python3
"""Writes tests/golden/norm.json: PyTorch 1.13's values and gradients for the normalization ops of
core/ops/norm.cpp (batch_norm, native_batch_norm, _batch_norm_composite, instance_norm, layer_norm, group_norm,
local_response_norm, normalize), the
embeddings of core/ops/embedding.cpp (embedding, embedding_bag) and bilinear, each computed by its
torch.nn.functional form (aten's torch.embedding for embedding) with the keyword arguments named as in
tensord's signature.

The tensors fill the op's Tensor arguments in signature order (batch_norm: input, weight, bias, running_mean,
running_var). Running statistics and integer inputs do not require grad ("requires_grad": false); the inputs are
stored as they were before the call, since batch_norm and instance_norm update the running statistics in place
(golden_test.cpp compares the output and gradients; tests/golden/generate_layers.py checks the updated
statistics).

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_norm.py
"""

import os

import torch

from generate import F32, F64, I64, encode_kwargs, encode_tensor, randn, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "norm.json")
F = torch.nn.functional


def norm_case(name, op, inputs, torch_fn, frozen=(), **kwargs):
    """torch_fn(*inputs, **kwargs) is PyTorch's form; frozen: positions of floating inputs that do not require
    grad (running statistics)."""
    leaves = [x.clone().requires_grad_(x.is_floating_point() and i not in frozen) for i, x in enumerate(inputs)]
    encoded = [dict(encode_tensor(leaf), layout=None) for leaf in leaves]
    for i in frozen:
        encoded[i]["requires_grad"] = False
    out = torch_fn(*leaves, **kwargs)
    extra = []
    if isinstance(out, tuple):  # native_batch_norm: the output, save_mean and save_invstd
        out, extra = out[0], list(out[1:])
    case = {
        "name": name,
        "op": op,
        "inputs": encoded,
        "kwargs": encode_kwargs(kwargs),
        "expected": encode_tensor(out),
        "grad_weight": None,
        "grads": [None] * len(leaves),
    }
    if extra:
        case["extra_outputs"] = [encode_tensor(t) for t in extra]
    if out.requires_grad:
        w = randn(*out.shape, dtype=out.dtype)
        (out * w).sum().backward()
        case["grad_weight"] = encode_tensor(w)
        case["grads"] = [encode_tensor(leaf.grad) if leaf.grad is not None else None for leaf in leaves]
    return case


def batch_norm(x, w=None, b=None, rm=None, rv=None, **k):
    return F.batch_norm(x, rm, rv, w, b, **k)


def native_batch_norm(x, w=None, b=None, rm=None, rv=None, training=False, momentum=0.1, eps=1e-5):
    return torch.ops.aten.native_batch_norm(x, w, b, rm, rv, training, momentum, eps)


def instance_norm(x, w=None, b=None, rm=None, rv=None, **k):
    return F.instance_norm(x, rm, rv, w, b, **k)


def layer_norm(x, w=None, b=None, normalized_shape=None, **k):
    return F.layer_norm(x, normalized_shape, w, b, **k)


def group_norm(x, w=None, b=None, num_groups=None, **k):
    return F.group_norm(x, num_groups, w, b, **k)


def embedding_bag(w, i, o=None, psw=None, **k):
    return F.embedding_bag(i, w, o, per_sample_weights=psw, **k)


def positive(*shape, dtype=F64):
    return randn(*shape, dtype=F64).abs().add(0.5).to(dtype)


def cases():
    c = []
    add = c.append
    for dtype, tag in ((F64, "f64"), (F32, "f32")):
        x4 = randn(3, 4, 3, 2, dtype=dtype)
        w4, b4 = randn(4, dtype=dtype), randn(4, dtype=dtype)
        rm, rv = randn(4, dtype=dtype), positive(4, dtype=dtype)
        add(norm_case(f"batch_norm_train_{tag}", "batch_norm", [x4], batch_norm, training=True))
        add(norm_case(f"batch_norm_train_affine_{tag}", "batch_norm", [x4, w4, b4], batch_norm, training=True,
                      eps=1e-3))
        add(norm_case(f"batch_norm_train_running_{tag}", "batch_norm", [x4, w4, b4, rm, rv], batch_norm,
                      frozen=(3, 4), training=True, momentum=0.3))
        add(norm_case(f"batch_norm_eval_{tag}", "batch_norm", [x4, w4, b4, rm, rv], batch_norm, frozen=(3, 4)))
        add(norm_case(f"batch_norm_2d_input_{tag}", "batch_norm", [randn(5, 3, dtype=dtype)], batch_norm,
                      training=True))
        add(norm_case(f"native_batch_norm_train_{tag}", "native_batch_norm", [x4, w4, b4, rm, rv],
                      native_batch_norm, frozen=(3, 4), training=True, momentum=0.2, eps=1e-4))
        add(norm_case(f"native_batch_norm_eval_{tag}", "native_batch_norm", [x4, w4, b4, rm, rv], native_batch_norm,
                      frozen=(3, 4), training=False, momentum=0.1, eps=1e-5))
        add(norm_case(f"batch_norm_composite_train_{tag}", "_batch_norm_composite", [x4, w4, b4], batch_norm,
                      training=True))
        add(norm_case(f"batch_norm_composite_eval_{tag}", "_batch_norm_composite", [x4, w4, b4, rm, rv], batch_norm,
                      frozen=(3, 4)))
        x3 = randn(2, 6, 5, dtype=dtype)
        w6, b6 = randn(6, dtype=dtype), randn(6, dtype=dtype)
        add(norm_case(f"instance_norm_{tag}", "instance_norm", [x3], instance_norm))
        add(norm_case(f"instance_norm_affine_running_{tag}", "instance_norm",
                      [x3, w6, b6, randn(6, dtype=dtype), positive(6, dtype=dtype)], instance_norm, frozen=(3, 4),
                      momentum=0.2))
        add(norm_case(f"instance_norm_running_stats_{tag}", "instance_norm",
                      [x3, w6, b6, randn(6, dtype=dtype), positive(6, dtype=dtype)], instance_norm, frozen=(3, 4),
                      use_input_stats=False))
        add(norm_case(f"layer_norm_{tag}", "layer_norm", [randn(3, 4, 5, dtype=dtype)], layer_norm,
                      normalized_shape=[5]))
        add(norm_case(f"layer_norm_affine_2dims_{tag}", "layer_norm",
                      [randn(3, 4, 5, dtype=dtype), randn(4, 5, dtype=dtype), randn(4, 5, dtype=dtype)], layer_norm,
                      normalized_shape=[4, 5], eps=1e-2))
        add(norm_case(f"group_norm_{tag}", "group_norm", [x3], group_norm, num_groups=3))
        add(norm_case(f"group_norm_affine_{tag}", "group_norm", [randn(2, 6, 2, 3, dtype=dtype), w6, b6], group_norm,
                      num_groups=2, eps=1e-3))
        add(norm_case(f"local_response_norm_3d_{tag}", "local_response_norm", [randn(2, 5, 4, dtype=dtype)],
                      F.local_response_norm, size=3))
        add(norm_case(f"local_response_norm_4d_{tag}", "local_response_norm", [randn(2, 6, 3, 2, dtype=dtype)],
                      F.local_response_norm, size=2, alpha=0.1, beta=0.5, k=2.0))
        add(norm_case(f"normalize_{tag}", "normalize", [randn(3, 4, dtype=dtype)], F.normalize))
        add(norm_case(f"normalize_p1_dim0_{tag}", "normalize", [randn(3, 4, dtype=dtype)], F.normalize, p=1.0, dim=0))
        add(norm_case(f"bilinear_{tag}", "bilinear",
                      [randn(4, 3, dtype=dtype), randn(4, 2, dtype=dtype), randn(5, 3, 2, dtype=dtype),
                       randn(5, dtype=dtype)], F.bilinear))
        table = randn(7, 3, dtype=dtype)
        add(norm_case(f"embedding_{tag}", "embedding", [table, torch.tensor([[1, 4, 4], [6, 0, 1]])],
                      torch.embedding))
        add(norm_case(f"embedding_bag_mean_{tag}", "embedding_bag",
                      [table, torch.tensor([1, 4, 4, 6, 0, 2, 5]), torch.tensor([0, 2, 2, 5])], embedding_bag))

    # ---- options, float64 ----
    add(norm_case("layer_norm_unbatched_1d", "layer_norm", [randn(6)], layer_norm, normalized_shape=[6]))
    add(norm_case("group_norm_one_group", "group_norm", [randn(2, 4, 3)], group_norm, num_groups=1))
    add(norm_case("group_norm_groups_of_one", "group_norm", [randn(2, 4, 3), randn(4), randn(4)], group_norm,
                  num_groups=4))
    add(norm_case("batch_norm_5d", "batch_norm", [randn(2, 3, 2, 2, 2), randn(3), randn(3)], batch_norm,
                  training=True))
    add(norm_case("normalize_p3_dim_last_eps", "normalize", [randn(2, 3, 4)], F.normalize, p=3.0, dim=-1, eps=0.5))
    add(norm_case("bilinear_batched_3d_no_bias", "bilinear", [randn(2, 3, 4), randn(2, 3, 2), randn(3, 4, 2)],
                  F.bilinear))
    table = randn(6, 4)
    add(norm_case("embedding_padding_idx", "embedding", [table, torch.tensor([[2, 0, 2], [5, 2, 1]])],
                  torch.embedding, padding_idx=2))
    add(norm_case("embedding_scale_grad_by_freq", "embedding", [table, torch.tensor([3, 1, 3, 3, 0, 1])],
                  torch.embedding, scale_grad_by_freq=True))
    add(norm_case("embedding_padding_and_freq", "embedding", [table, torch.tensor([3, 1, 3, 3, 0, 1])],
                  torch.embedding, padding_idx=1, scale_grad_by_freq=True))
    add(norm_case("embedding_int32_indices", "embedding", [table, torch.tensor([5, 0], dtype=torch.int32)],
                  torch.embedding))
    idx = torch.tensor([1, 4, 4, 5, 0, 2, 5, 3])
    offsets = torch.tensor([0, 3, 3, 6])
    # Distinct values in every column, so that max mode has no ties (PyTorch sends a tied maximum's gradient to
    # one row, tensord shares it).
    table = table + torch.arange(24, dtype=F64).reshape(6, 4).mul(1e-3)
    for mode in ("sum", "mean", "max"):
        add(norm_case(f"embedding_bag_{mode}", "embedding_bag", [table, idx, offsets], embedding_bag, mode=mode))
        add(norm_case(f"embedding_bag_2d_{mode}", "embedding_bag", [table, idx.reshape(2, 4)], embedding_bag,
                      mode=mode))
        add(norm_case(f"embedding_bag_padding_{mode}", "embedding_bag", [table, idx, offsets], embedding_bag,
                      mode=mode, padding_idx=5))
        add(norm_case(f"embedding_bag_last_offset_{mode}", "embedding_bag", [table, idx, torch.tensor([0, 2, 5, 8])],
                      embedding_bag, mode=mode, include_last_offset=True))
    add(norm_case("embedding_bag_per_sample_weights", "embedding_bag",
                  [table, idx, offsets, randn(8)], embedding_bag, mode="sum"))
    add(norm_case("embedding_bag_scale_grad_by_freq", "embedding_bag", [table, idx, offsets], embedding_bag,
                  mode="sum", scale_grad_by_freq=True))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_norm.py", 20261210, cases)


if __name__ == "__main__":
    main()
