#!/usr/bin/python3
"""Writes tests/golden/loss.json: PyTorch 1.13's values and gradients for the losses of core/ops/loss.cpp
(mse_loss, l1_loss, smooth_l1_loss, huber_loss, nll_loss, cross_entropy_loss, binary_cross_entropy,
binary_cross_entropy_with_logits, kl_div, cosine_embedding_loss, margin_ranking_loss, triplet_margin_loss,
soft_margin_loss, hinge_embedding_loss, poisson_nll_loss, gaussian_nll_loss, ctc_loss), each computed by its
torch.nn.functional form with the same keyword arguments (reduction as a string, as tensord's ops take it).

PyTorch refuses to differentiate the class weights of nll_loss and cross_entropy (class-index targets), the
weights of the binary cross entropies and soft_margin_loss's target; those inputs are stored with "requires_grad": false, and golden_test.cpp
leaves them without grad too (tensord would differentiate them). Inputs avoid the points where a piece starts.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_loss.py
"""

import os
import warnings

import torch

from generate import F32, F64, I64, apply, encode_kwargs, encode_tensor, randn, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "loss.json")
F = torch.nn.functional
REDUCTIONS = ("none", "mean", "sum")


def loss_case(name, op, inputs, torch_fn, frozen=(), **kwargs):
    """torch_fn(*args, **kwargs) is PyTorch's loss; kwargs are named as in tensord's signature. An input may be a
    (leaf, layout) pair as generate.py's make_case takes. frozen: positions of floating inputs that do not require
    grad (weights PyTorch does not differentiate)."""
    leaves, layouts = [], []
    for i, x in enumerate(inputs):
        leaf, layout = x if isinstance(x, tuple) else (x, None)
        leaves.append(leaf.clone().requires_grad_(leaf.is_floating_point() and i not in frozen))
        layouts.append(layout)
    args = [apply(lay["op"], [leaf], lay["kwargs"]) if lay else leaf for leaf, lay in zip(leaves, layouts)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's "mean" and the broadcasting losses warn
        out = torch_fn(*args, **kwargs)
    case = {
        "name": name,
        "op": op,
        "inputs": [dict(encode_tensor(leaf), layout=lay) for leaf, lay in zip(leaves, layouts)],
        "kwargs": encode_kwargs(kwargs),
        "expected": encode_tensor(out),
        "grad_weight": None,
        "grads": [None] * len(leaves),
    }
    for i in frozen:
        case["inputs"][i]["requires_grad"] = False
    if out.requires_grad:
        w = randn(*out.shape, dtype=out.dtype)
        (out * w).sum().backward()
        case["grad_weight"] = encode_tensor(w)
        case["grads"] = [encode_tensor(leaf.grad) if leaf.grad is not None else None for leaf in leaves]
    return case


def with_weight(fn):
    """F.nll_loss and friends take the weight by keyword; the fixtures pass it as the third tensor."""
    return lambda x, t, w=None, **k: fn(x, t, weight=w, **k)


def signs(*shape, dtype=F64):
    return torch.randint(0, 2, shape).mul(2).sub(1).to(dtype)


def classes(n, c, *rest):
    return torch.randint(0, c, (n, *rest), dtype=I64)


def cases():
    c = []
    add = c.append
    for dtype, tag in ((F64, "f64"), (F32, "f32")):
        x, t = randn(3, 4, dtype=dtype), randn(3, 4, dtype=dtype)
        for red in REDUCTIONS:
            add(loss_case(f"mse_loss_{red}_{tag}", "mse_loss", [x, t], F.mse_loss, reduction=red))
            add(loss_case(f"l1_loss_{red}_{tag}", "l1_loss", [x, t], F.l1_loss, reduction=red))
            add(loss_case(f"smooth_l1_loss_{red}_{tag}", "smooth_l1_loss", [x, t], F.smooth_l1_loss, reduction=red,
                          beta=0.7))
            add(loss_case(f"huber_loss_{red}_{tag}", "huber_loss", [x, t], F.huber_loss, reduction=red, delta=0.7))
            add(loss_case(f"soft_margin_loss_{red}_{tag}", "soft_margin_loss", [x, signs(3, 4, dtype=dtype)],
                          F.soft_margin_loss, frozen=(1,), reduction=red))
            add(loss_case(f"hinge_embedding_loss_{red}_{tag}", "hinge_embedding_loss", [x, signs(3, 4, dtype=dtype)],
                          F.hinge_embedding_loss, reduction=red, margin=0.5))

        # Class indices: [N, C] log-probabilities, weights, an ignored target, each reduction.
        logp = randn(5, 4, dtype=dtype).log_softmax(1)
        target = torch.tensor([1, 0, 3, -100, 2])
        weight = torch.tensor([0.2, 1.0, 0.5, 2.0], dtype=dtype)
        for red in REDUCTIONS:
            add(loss_case(f"nll_loss_{red}_{tag}", "nll_loss", [logp, target], F.nll_loss, reduction=red))
            add(loss_case(f"nll_loss_weight_{red}_{tag}", "nll_loss", [logp, target, weight], with_weight(F.nll_loss),
                          frozen=(2,), reduction=red))
        logits = randn(5, 4, dtype=dtype).mul(2)
        for red in REDUCTIONS:
            add(loss_case(f"cross_entropy_{red}_{tag}", "cross_entropy_loss", [logits, target], F.cross_entropy,
                          reduction=red))
            add(loss_case(f"cross_entropy_weight_{red}_{tag}", "cross_entropy_loss", [logits, target, weight],
                          with_weight(F.cross_entropy), frozen=(2,), reduction=red))
            add(loss_case(f"cross_entropy_smoothing_{red}_{tag}", "cross_entropy_loss", [logits, target],
                          F.cross_entropy, reduction=red, label_smoothing=0.1))
            add(loss_case(f"cross_entropy_smoothing_weight_{red}_{tag}", "cross_entropy_loss",
                          [logits, target, weight], with_weight(F.cross_entropy), frozen=(2,), reduction=red,
                          label_smoothing=0.25))
            probs = randn(5, 4, dtype=dtype).softmax(1)
            add(loss_case(f"cross_entropy_probabilities_{red}_{tag}", "cross_entropy_loss", [logits, probs],
                          F.cross_entropy, reduction=red))
            # With class probabilities PyTorch's cross entropy is a composite, so its weight has a gradient.
            add(loss_case(f"cross_entropy_probabilities_weight_smoothing_{red}_{tag}", "cross_entropy_loss",
                          [logits, probs, weight], with_weight(F.cross_entropy), reduction=red, label_smoothing=0.2))

        # Probabilities away from 0 and 1; targets in [0, 1] (soft labels).
        p = randn(3, 4, dtype=dtype).sigmoid()
        soft = torch.rand(3, 4, dtype=F64).mul(100).round().div(100).to(dtype)
        w4 = torch.tensor([0.5, 1.0, 2.0, 0.25], dtype=dtype)
        for red in REDUCTIONS:
            add(loss_case(f"binary_cross_entropy_{red}_{tag}", "binary_cross_entropy", [p, soft],
                          F.binary_cross_entropy, reduction=red))
            add(loss_case(f"binary_cross_entropy_weight_{red}_{tag}", "binary_cross_entropy", [p, soft, w4],
                          with_weight(F.binary_cross_entropy), frozen=(2,), reduction=red))
            add(loss_case(f"bce_with_logits_{red}_{tag}", "binary_cross_entropy_with_logits",
                          [logits[:3].clone(), soft], F.binary_cross_entropy_with_logits, reduction=red))
            add(loss_case(f"bce_with_logits_weights_{red}_{tag}", "binary_cross_entropy_with_logits",
                          [logits[:3].clone(), soft, w4, torch.tensor([3.0, 0.5, 1.0, 2.0], dtype=dtype)],
                          lambda x, t, w, pw, **k: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw,
                                                                                      **k),
                          frozen=(2, 3), reduction=red))

        q = randn(3, 4, dtype=dtype).softmax(1)
        for red in REDUCTIONS + ("batchmean",):
            add(loss_case(f"kl_div_{red}_{tag}", "kl_div", [logp[:3].clone(), q], F.kl_div, reduction=red))
            add(loss_case(f"kl_div_log_target_{red}_{tag}", "kl_div", [logp[:3].clone(), q.log()], F.kl_div,
                          reduction=red, log_target=True))

        a, b = randn(4, 5, dtype=dtype), randn(4, 5, dtype=dtype)
        for red in REDUCTIONS:
            add(loss_case(f"cosine_embedding_loss_{red}_{tag}", "cosine_embedding_loss",
                          [a, b, torch.tensor([1, -1, 1, -1])], F.cosine_embedding_loss, reduction=red, margin=-0.2))
            add(loss_case(f"margin_ranking_loss_{red}_{tag}", "margin_ranking_loss",
                          [a[:, 0].clone(), b[:, 0].clone(), signs(4, dtype=dtype)], F.margin_ranking_loss,
                          reduction=red, margin=0.3))
            add(loss_case(f"triplet_margin_loss_{red}_{tag}", "triplet_margin_loss",
                          [a, b, randn(4, 5, dtype=dtype)], F.triplet_margin_loss, reduction=red, margin=2.0))
            add(loss_case(f"poisson_nll_loss_{red}_{tag}", "poisson_nll_loss",
                          [x, torch.tensor([[0.0, 1, 2, 3], [4, 0, 1, 5], [2, 2, 0, 1]], dtype=dtype)],
                          F.poisson_nll_loss, reduction=red))
            add(loss_case(f"gaussian_nll_loss_{red}_{tag}", "gaussian_nll_loss",
                          [x, t, randn(3, 4, dtype=dtype).abs().add(0.1)], F.gaussian_nll_loss, reduction=red))

    # ---- shapes and options, float64 ----
    add(loss_case("mse_loss_broadcast_target", "mse_loss", [randn(3, 4), randn(4)], F.mse_loss))
    add(loss_case("smooth_l1_loss_beta0", "smooth_l1_loss", [randn(3, 4), randn(3, 4)], F.smooth_l1_loss, beta=0.0))
    add(loss_case("smooth_l1_loss_default_beta", "smooth_l1_loss", [randn(3, 4).mul(2), randn(3, 4)],
                  F.smooth_l1_loss))
    add(loss_case("nll_loss_1d_input", "nll_loss", [randn(4).log_softmax(0), torch.tensor(2)], F.nll_loss))
    add(loss_case("nll_loss_1d_input_none", "nll_loss", [randn(4).log_softmax(0), torch.tensor(3)], F.nll_loss,
                  reduction="none"))
    weight3 = torch.tensor([0.3, 1.5, 0.8])
    for red in REDUCTIONS:
        add(loss_case(f"nll_loss_3d_{red}", "nll_loss", [randn(2, 3, 4).log_softmax(1), classes(2, 3, 4)],
                      F.nll_loss, reduction=red))
        add(loss_case(f"nll_loss_4d_weight_ignore_{red}", "nll_loss",
                      [randn(2, 3, 2, 2).log_softmax(1), torch.tensor([[[0, 2], [1, 1]], [[2, 0], [0, 1]]]),
                       weight3.double()], with_weight(F.nll_loss), frozen=(2,), reduction=red, ignore_index=1))
        add(loss_case(f"cross_entropy_4d_smoothing_ignore_{red}", "cross_entropy_loss",
                      [randn(2, 3, 2, 2), torch.tensor([[[0, 2], [-100, 1]], [[2, 0], [0, -100]]]), weight3.double()],
                      with_weight(F.cross_entropy), frozen=(2,), reduction=red, label_smoothing=0.3))
        add(loss_case(f"cross_entropy_3d_probabilities_{red}", "cross_entropy_loss",
                      [randn(2, 3, 4), randn(2, 3, 4).softmax(1)], F.cross_entropy, reduction=red))
        add(loss_case(f"triplet_margin_loss_swap_p1_{red}", "triplet_margin_loss",
                      [randn(4, 5), randn(4, 5), randn(4, 5)], F.triplet_margin_loss, reduction=red, margin=1.5,
                      p=1.0, swap=True))
        add(loss_case(f"poisson_nll_loss_full_linear_{red}", "poisson_nll_loss",
                      [randn(2, 4).abs().add(0.2), torch.tensor([[0.5, 1, 2, 3], [4, 1.5, 1, 7]], dtype=F64)],
                      F.poisson_nll_loss, reduction=red, log_input=False, full=True))
        add(loss_case(f"gaussian_nll_loss_full_clamped_{red}", "gaussian_nll_loss",
                      [randn(3, 2), randn(3, 2), torch.tensor([[0.5, 1e-8], [2.0, 0.3], [0.05, 1.0]], dtype=F64)],
                      F.gaussian_nll_loss, reduction=red, full=True, eps=1e-3))
    add(loss_case("cross_entropy_1d_input", "cross_entropy_loss", [randn(5), torch.tensor(3)], F.cross_entropy))
    add(loss_case("cross_entropy_1d_input_smoothing", "cross_entropy_loss", [randn(5), torch.tensor(1)],
                  F.cross_entropy, label_smoothing=0.4))
    add(loss_case("cross_entropy_1d_probabilities", "cross_entropy_loss", [randn(5), randn(5).softmax(0)],
                  F.cross_entropy))
    add(loss_case("cross_entropy_ignore_index_in_range", "cross_entropy_loss", [randn(4, 3), torch.tensor([0, 2, 1, 2])],
                  F.cross_entropy, ignore_index=2))
    add(loss_case("cross_entropy_large_logits", "cross_entropy_loss",
                  [torch.tensor([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 499.0]], dtype=F64), torch.tensor([0, 2])],
                  F.cross_entropy))
    add(loss_case("bce_with_logits_large", "binary_cross_entropy_with_logits",
                  [torch.tensor([-800.0, -30.0, -1.0, 0.5, 40.0, 800.0], dtype=F64),
                   torch.tensor([0.0, 1.0, 0.3, 1.0, 0.0, 1.0], dtype=F64)], F.binary_cross_entropy_with_logits))
    add(loss_case("bce_with_logits_pos_weight_broadcast", "binary_cross_entropy_with_logits",
                  [randn(2, 3, 4), torch.rand(2, 3, 4, dtype=F64), torch.ones(4, dtype=F64),
                   torch.tensor([1.0, 2.0, 3.0, 0.5], dtype=F64)],
                  lambda x, t, w, pw, **k: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, **k),
                  frozen=(2, 3)))
    add(loss_case("cosine_embedding_loss_unbatched", "cosine_embedding_loss", [randn(5), randn(5), torch.tensor(-1)],
                  F.cosine_embedding_loss, margin=-0.5))
    add(loss_case("triplet_margin_loss_unbatched", "triplet_margin_loss", [randn(5), randn(5), randn(5)],
                  F.triplet_margin_loss, margin=3.0))
    add(loss_case("gaussian_nll_loss_var_per_row", "gaussian_nll_loss", [randn(3, 2), randn(3, 2),
                  randn(3).abs().add(0.2)], F.gaussian_nll_loss))
    add(loss_case("gaussian_nll_loss_var_last_dim_1", "gaussian_nll_loss", [randn(3, 2), randn(3, 2),
                  randn(3, 1).abs().add(0.2)], F.gaussian_nll_loss, reduction="sum"))
    add(loss_case("hinge_embedding_loss_default_margin", "hinge_embedding_loss", [randn(6), signs(6)],
                  F.hinge_embedding_loss))

    # ---- ctc_loss: the leaf is the logits and the op sees log_softmax of them, since PyTorch's CTC gradient with
    # respect to log_probs is the one through log_softmax (exp(log_probs) - posteriors), not the plain derivative.
    def log_softmax_of(logits, dim):
        return (logits, {"op": "log_softmax", "kwargs": {"dim": dim}})

    padded = torch.tensor([[1, 2, 2, 3], [3, 1, 0, 0], [2, 0, 0, 0]])
    for dtype, tag in ((F64, "f64"), (F32, "f32")):
        for red in REDUCTIONS:
            add(loss_case(f"ctc_loss_{red}_{tag}", "ctc_loss", [log_softmax_of(randn(7, 3, 4, dtype=dtype), 2), padded],
                          F.ctc_loss, input_lengths=[7, 5, 6], target_lengths=[4, 2, 1], reduction=red))
    add(loss_case("ctc_loss_concatenated_targets", "ctc_loss",
                  [log_softmax_of(randn(6, 2, 5), 2), torch.tensor([4, 4, 1, 2, 3])], F.ctc_loss,
                  input_lengths=[6, 6], target_lengths=[2, 3], reduction="sum"))
    add(loss_case("ctc_loss_blank_last_empty_target", "ctc_loss",
                  [log_softmax_of(randn(5, 2, 4), 2), torch.tensor([[0, 1, 1], [0, 0, 0]])], F.ctc_loss,
                  input_lengths=[5, 4], target_lengths=[3, 0], blank=3, reduction="none"))
    add(loss_case("ctc_loss_zero_infinity", "ctc_loss",
                  [log_softmax_of(randn(4, 2, 3), 2), torch.tensor([[1, 1, 1], [2, 1, 0]])], F.ctc_loss,
                  input_lengths=[4, 4], target_lengths=[3, 2], zero_infinity=True, reduction="none"))
    add(loss_case("ctc_loss_unbatched", "ctc_loss", [log_softmax_of(randn(6, 4), 1), torch.tensor([1, 3, 3])],
                  F.ctc_loss, input_lengths=[6], target_lengths=[3]))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_loss.py", 20261201, cases)


if __name__ == "__main__":
    main()
