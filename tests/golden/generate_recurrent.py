#!/usr/bin/python3
"""Writes tests/golden/modules/recurrent.json: PyTorch 1.13's outputs and gradients of the recurrent and
attention layers (RNN, LSTM, GRU and their cells, MultiheadAttention, TransformerEncoderLayer,
TransformerEncoder, TransformerDecoderLayer, TransformerDecoder, Transformer) and of scaled-dot-product attention, in float64 and evaluation mode (no dropout).

Each case holds the module's class, positional and keyword arguments, its repr, its state_dict (parameters
drawn afresh from a seeded randn), the inputs in the order of tensord's forward_list (null where PyTorch gets
None), every output, and the gradients of sum(out_i * grad_outputs[i]) with respect to each floating input and
every parameter. tests/core/rnn_test.cpp builds the same module in tensord, loads "state" and compares.
scaled_dot_product_attention is PyTorch 2.0's API, absent from 1.13: its cases are golden against the explicit
formula softmax(Q K^T / sqrt(E) + mask) V computed here.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_recurrent.py
"""

import math
import os

import torch

from generate import encode_tensor, randn, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "modules", "recurrent.json")
nn = torch.nn


def encode(t):
    return None if t is None else encode_tensor(t)


def flatten(out):
    """A module's outputs as a flat list: (out, (h, c)) -> [out, h, c]."""
    if isinstance(out, torch.Tensor) or out is None:
        return [out]
    flat = []
    for o in out:
        flat += flatten(o)
    return flat


def record(name, module_name, args, kwargs, module, inputs, call, forward_kwargs=None, extra=None):
    """Runs call(module, *inputs), draws the upstream gradients and records the case."""
    module = module.double().eval()
    with torch.no_grad():
        for p in module.parameters():
            # Halved so tanh and softmax do not saturate and the gradients stay informative.
            p.copy_(randn(*p.shape) * 0.5)
    leaves = [x.requires_grad_() if x is not None and x.is_floating_point() and x.dim() > 0 and not getattr(x, "_mask", False)
              else x for x in inputs]
    outputs = flatten(call(module, *leaves))
    grad_outputs = [None if o is None else randn(*o.shape) for o in outputs]
    loss = sum((o * g).sum() for o, g in zip(outputs, grad_outputs) if o is not None)
    loss.backward()
    case = {
        "name": name,
        "module": module_name,
        "args": list(args),
        "kwargs": kwargs,
        "forward_kwargs": forward_kwargs or {},
        "repr": repr(module),
        "state": {k: encode_tensor(v) for k, v in module.state_dict().items()},
        "state_order": list(module.state_dict().keys()),  # JSON objects come back sorted by key
        "inputs": [encode(x) for x in leaves],
        "outputs": [encode(o) for o in outputs],
        "grad_outputs": [encode(g) for g in grad_outputs],
        "grad_inputs": [encode(x.grad) if x is not None and x.requires_grad else None for x in leaves],
        "grad_params": {k: encode_tensor(p.grad) for k, p in module.named_parameters()},
    }
    case.update(extra or {})
    return case


def mask(t):
    """Marks a float tensor as a mask: recorded as an input, not differentiated."""
    t._mask = True
    return t


def seq_case(name, cls, args, kwargs, x, h0=None, c0=None):
    module = getattr(nn, cls)(*args, **kwargs)
    if cls in ("LSTM", "LSTMCell"):
        def call(m, x, h, c):
            return m(x, (h, c)) if h is not None else m(x)
        inputs = [x, h0, c0]
    else:
        def call(m, x, h):
            return m(x, h)
        inputs = [x, h0]
    return record(name, cls, args, kwargs, module, inputs, call)


def mha_case(name, args, kwargs, q, k=None, v=None, key_padding_mask=None, attn_mask=None, need_weights=True,
             average_attn_weights=True):
    module = nn.MultiheadAttention(*args, **kwargs)
    self_attention = k is None

    def call(m, q, k, v, kpm, am):
        if self_attention:
            k = v = q
        return m(q, k, v, key_padding_mask=kpm, need_weights=need_weights, attn_mask=am,
                 average_attn_weights=average_attn_weights)
    return record(name, "MultiheadAttention", args, kwargs, module, [q, k, v, key_padding_mask, attn_mask], call,
                  forward_kwargs=dict(need_weights=need_weights, average_attn_weights=average_attn_weights),
                  extra=dict(self_attention=self_attention))


def encoder_layer_case(name, args, kwargs, src, src_mask=None, key_padding_mask=None):
    module = nn.TransformerEncoderLayer(*args, **kwargs)

    def call(m, src, sm, kpm):
        return m(src, src_mask=sm, src_key_padding_mask=kpm)
    return record(name, "TransformerEncoderLayer", args, kwargs, module, [src, src_mask, key_padding_mask], call)


def encoder_case(name, layer_args, layer_kwargs, num_layers, with_norm, src, src_mask=None, key_padding_mask=None):
    d_model = layer_args[0]
    layer = nn.TransformerEncoderLayer(*layer_args, **layer_kwargs)
    module = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model) if with_norm else None)

    def call(m, src, sm, kpm):
        return m(src, mask=sm, src_key_padding_mask=kpm)
    return record(name, "TransformerEncoder", layer_args, layer_kwargs, module, [src, src_mask, key_padding_mask],
                  call, extra=dict(num_layers=num_layers, norm=with_norm))


def decoder_layer_case(name, args, kwargs, tgt, memory, tgt_mask=None, memory_mask=None, tgt_kpm=None, memory_kpm=None):
    module = nn.TransformerDecoderLayer(*args, **kwargs)

    def call(m, tgt, mem, tm, mm, tk, mk):
        return m(tgt, mem, tgt_mask=tm, memory_mask=mm, tgt_key_padding_mask=tk, memory_key_padding_mask=mk)
    return record(name, "TransformerDecoderLayer", args, kwargs, module,
                  [tgt, memory, tgt_mask, memory_mask, tgt_kpm, memory_kpm], call)


def decoder_case(name, layer_args, layer_kwargs, num_layers, with_norm, tgt, memory, tgt_mask=None):
    layer = nn.TransformerDecoderLayer(*layer_args, **layer_kwargs)
    module = nn.TransformerDecoder(layer, num_layers, norm=nn.LayerNorm(layer_args[0]) if with_norm else None)

    def call(m, tgt, mem, tm):
        return m(tgt, mem, tgt_mask=tm)
    return record(name, "TransformerDecoder", layer_args, layer_kwargs, module, [tgt, memory, tgt_mask], call,
                  extra=dict(num_layers=num_layers, norm=with_norm))


def transformer_case(name, kwargs, src, tgt, tgt_mask=None, src_kpm=None):
    module = nn.Transformer(**kwargs)

    def call(m, src, tgt, sm, tm, mm, sk):
        return m(src, tgt, src_mask=sm, tgt_mask=tm, memory_mask=mm, src_key_padding_mask=sk)
    return record(name, "Transformer", [], kwargs, module, [src, tgt, None, tgt_mask, None, src_kpm], call)


def packed_case(name, cls, args, kwargs, x, lengths, enforce_sorted, h0=None, c0=None):
    """pack_padded_sequence -> the layer -> pad_packed_sequence: the padded output and the final states."""
    module = getattr(nn, cls)(*args, **kwargs)
    batch_first = kwargs.get("batch_first", False)
    lstm = cls == "LSTM"

    def call(m, x, h, c=None):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
        if lstm:
            out, (hn, cn) = m(packed, (h, c)) if h is not None else m(packed)
        else:
            out, hn = m(packed, h) if h is not None else m(packed)
        padded, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first)
        return [padded, hn, cn] if lstm else [padded, hn]
    inputs = [x, h0, c0] if lstm else [x, h0]
    return record(name, cls, args, kwargs, module, inputs, call,
                  extra=dict(lengths=lengths, enforce_sorted=enforce_sorted))


def sdpa_case(name, q, k, v, attn_mask=None, is_causal=False):
    """The explicit formula of PyTorch 2.0's scaled_dot_product_attention (math path), dropout_p = 0."""
    leaves = [x.requires_grad_() for x in (q, k, v)]
    q, k, v = leaves
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    L, S = q.size(-2), k.size(-2)
    if is_causal:
        scores = scores.masked_fill(torch.ones(L, S, dtype=torch.bool).tril().logical_not(), float("-inf"))
    elif attn_mask is not None and attn_mask.dtype == torch.bool:
        scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
    elif attn_mask is not None:
        scores = scores + attn_mask
    out = torch.softmax(scores, dim=-1) @ v
    grad_output = randn(*out.shape)
    out.backward(grad_output)
    return {
        "name": name,
        "module": "scaled_dot_product_attention",
        "args": [],
        "kwargs": {"is_causal": is_causal},
        "forward_kwargs": {},
        "inputs": [encode(q), encode(k), encode(v), encode(attn_mask)],
        "outputs": [encode(out)],
        "grad_outputs": [encode(grad_output)],
        "grad_inputs": [encode(q.grad), encode(k.grad), encode(v.grad), None],
        "grad_params": {},
    }


def cases():
    c = []
    add = c.append
    # Recurrent layers.
    add(seq_case("rnn_tanh_2l_bi_batch_first", "RNN", [5, 4],
                 dict(num_layers=2, bidirectional=True, batch_first=True), randn(3, 6, 5), randn(4, 3, 4)))
    add(seq_case("rnn_relu_2l_bi", "RNN", [5, 4], dict(nonlinearity="relu", num_layers=2, bidirectional=True),
                 randn(6, 3, 5)))
    add(seq_case("rnn_no_bias", "RNN", [4, 3], dict(bias=False), randn(5, 2, 4), randn(1, 2, 3)))
    add(seq_case("rnn_dropout_eval", "RNN", [3, 4], dict(num_layers=2, dropout=0.5), randn(4, 2, 3)))
    add(seq_case("lstm_2l_bi_h0_c0", "LSTM", [5, 4], dict(num_layers=2, bidirectional=True), randn(6, 3, 5),
                 randn(4, 3, 4), randn(4, 3, 4)))
    add(seq_case("lstm_batch_first", "LSTM", [3, 4], dict(batch_first=True), randn(2, 5, 3)))
    add(seq_case("lstm_proj_2l_bi", "LSTM", [5, 6], dict(proj_size=3, num_layers=2, bidirectional=True),
                 randn(4, 2, 5), randn(4, 2, 3), randn(4, 2, 6)))
    add(seq_case("lstm_unbatched_2l", "LSTM", [3, 4], dict(num_layers=2), randn(5, 3), randn(2, 4), randn(2, 4)))
    add(seq_case("gru_2l_bi_h0", "GRU", [5, 4], dict(num_layers=2, bidirectional=True), randn(6, 3, 5),
                 randn(4, 3, 4)))
    add(seq_case("gru_unbatched_batch_first", "GRU", [3, 4], dict(batch_first=True), randn(5, 3)))
    add(seq_case("gru_no_bias_bi", "GRU", [3, 4], dict(bias=False, bidirectional=True), randn(4, 2, 3),
                 randn(2, 2, 4)))
    # Cells.
    add(seq_case("rnn_cell_tanh", "RNNCell", [5, 4], {}, randn(3, 5), randn(3, 4)))
    add(seq_case("rnn_cell_relu_no_bias", "RNNCell", [5, 4], dict(bias=False, nonlinearity="relu"), randn(3, 5)))
    add(seq_case("lstm_cell", "LSTMCell", [5, 4], {}, randn(3, 5), randn(3, 4), randn(3, 4)))
    add(seq_case("lstm_cell_unbatched", "LSTMCell", [5, 4], {}, randn(5)))
    add(seq_case("gru_cell", "GRUCell", [5, 4], {}, randn(3, 5), randn(3, 4)))
    add(seq_case("gru_cell_unbatched_no_bias", "GRUCell", [5, 4], dict(bias=False), randn(5), randn(4)))

    # MultiheadAttention. Bool masks: true forbids; no row is fully masked.
    attn_bool = torch.tensor([[False, True, False, False, True, False],
                              [False, False, True, False, False, False],
                              [True, False, False, False, False, True],
                              [False, False, False, True, False, False]])
    kpm = torch.tensor([[False] * 6, [False] * 4 + [True] * 2, [False] * 5 + [True]])
    add(mha_case("mha_self", [8, 2], {}, randn(5, 3, 8)))
    add(mha_case("mha_bool_masks", [8, 2], {}, randn(4, 3, 8), randn(6, 3, 8), randn(6, 3, 8),
                 key_padding_mask=kpm, attn_mask=attn_bool))
    add(mha_case("mha_float_mask_batch_first", [8, 2], dict(batch_first=True), randn(3, 4, 8), randn(3, 6, 8),
                 randn(3, 6, 8), key_padding_mask=kpm, attn_mask=mask(randn(6, 4, 6))))
    add(mha_case("mha_bool_attn_mask_only", [8, 4], {}, randn(4, 2, 8), randn(6, 2, 8), randn(6, 2, 8),
                 attn_mask=attn_bool))
    add(mha_case("mha_kdim_vdim_per_head", [8, 4], dict(kdim=5, vdim=7), randn(4, 2, 8), randn(6, 2, 5),
                 randn(6, 2, 7), average_attn_weights=False))
    add(mha_case("mha_unbatched_no_bias_no_weights", [8, 2], dict(bias=False), randn(4, 8), randn(6, 8),
                 randn(6, 8), key_padding_mask=kpm[1], need_weights=False))

    # Transformer encoder (evaluation mode: dropout off; gradients on, so PyTorch takes its op-by-op path).
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)
    add(encoder_layer_case("encoder_layer_post_norm", [8, 2], dict(dim_feedforward=16), randn(5, 3, 8),
                           src_mask=causal, key_padding_mask=kpm[:, 1:]))
    add(encoder_layer_case("encoder_layer_norm_first_gelu_batch_first", [8, 2],
                           dict(dim_feedforward=12, activation="gelu", norm_first=True, batch_first=True,
                                layer_norm_eps=1e-6), randn(3, 5, 8), key_padding_mask=kpm[:, 1:]))
    add(encoder_case("encoder_2_layers_norm", [8, 2], dict(dim_feedforward=16), 2, True, randn(5, 3, 8),
                     src_mask=mask(randn(5, 5))))
    add(encoder_case("encoder_2_layers_norm_first", [8, 4], dict(dim_feedforward=16, norm_first=True), 2, False,
                     randn(4, 2, 8), key_padding_mask=kpm[:2, 2:]))

    # scaled_dot_product_attention against the explicit formula.
    add(sdpa_case("sdpa_plain", randn(2, 3, 4, 5), randn(2, 3, 6, 5), randn(2, 3, 6, 7)))
    add(sdpa_case("sdpa_bool_mask", randn(2, 3, 4, 5), randn(2, 3, 6, 5), randn(2, 3, 6, 7),
                  attn_mask=attn_bool.logical_not()))
    add(sdpa_case("sdpa_float_mask", randn(2, 3, 4, 5), randn(2, 3, 6, 5), randn(2, 3, 6, 7),
                  attn_mask=randn(2, 1, 4, 6)))
    add(sdpa_case("sdpa_causal", randn(3, 4, 5), randn(3, 6, 5), randn(3, 6, 7), is_causal=True))

    # Transformer decoder and the whole nn.Transformer (appended: the cases above keep their draws).
    causal4 = nn.Transformer.generate_square_subsequent_mask(4).double()
    add(decoder_layer_case("decoder_layer_post_norm_masks", [8, 2], dict(dim_feedforward=16), randn(4, 3, 8),
                           randn(6, 3, 8), tgt_mask=mask(causal4), memory_mask=attn_bool,
                           tgt_kpm=kpm[:, 2:], memory_kpm=kpm))
    add(decoder_layer_case("decoder_layer_norm_first_gelu_batch_first", [8, 4],
                           dict(dim_feedforward=12, activation="gelu", norm_first=True, batch_first=True),
                           randn(3, 4, 8), randn(3, 6, 8), memory_kpm=kpm))
    add(decoder_case("decoder_2_layers_norm", [8, 2], dict(dim_feedforward=16), 2, True, randn(4, 3, 8),
                     randn(5, 3, 8), tgt_mask=mask(causal4)))
    add(transformer_case("transformer_small", dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                                                   dim_feedforward=16), randn(5, 3, 8), randn(4, 3, 8),
                         tgt_mask=mask(causal4), src_kpm=torch.tensor([[False] * 5, [False] * 4 + [True],
                                                                        [False] * 3 + [True] * 2])))

    # Packed sequences (pack_padded_sequence, the layer, pad_packed_sequence).
    add(packed_case("packed_lstm_2l_bi_unsorted_h0", "LSTM", [3, 4], dict(num_layers=2, bidirectional=True),
                    randn(5, 4, 3), [2, 5, 1, 3], False, randn(4, 4, 4), randn(4, 4, 4)))
    add(packed_case("packed_gru_sorted_batch_first", "GRU", [3, 4], dict(batch_first=True), randn(3, 6, 3),
                    [6, 4, 2], True))
    add(packed_case("packed_rnn_bi_unsorted", "RNN", [2, 3], dict(bidirectional=True), randn(4, 3, 2), [3, 4, 1],
                    False, randn(2, 3, 3)))
    add(packed_case("packed_lstm_proj", "LSTM", [3, 5], dict(proj_size=2), randn(4, 3, 3), [4, 4, 2], True))

    # MultiheadAttention's add_bias_kv and add_zero_attn (one more source position each).
    add(mha_case("mha_add_bias_kv_masks", [8, 2], dict(add_bias_kv=True), randn(4, 3, 8), randn(6, 3, 8),
                 randn(6, 3, 8), key_padding_mask=kpm, attn_mask=attn_bool))
    add(mha_case("mha_add_zero_attn_self", [8, 2], dict(add_zero_attn=True), randn(5, 3, 8)))
    add(mha_case("mha_bias_kv_zero_attn_batch_first", [8, 4], dict(add_bias_kv=True, add_zero_attn=True,
                                                                   batch_first=True),
                 randn(3, 4, 8), randn(3, 6, 8), randn(3, 6, 8), key_padding_mask=kpm,
                 attn_mask=mask(randn(12, 4, 6)), average_attn_weights=False))
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_recurrent.py", 20261128, cases)


if __name__ == "__main__":
    main()
