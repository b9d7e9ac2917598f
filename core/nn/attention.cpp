// Attention and the transformer encoder, following torch/nn/functional.py's multi_head_attention_forward
// (PyTorch 1.13) step by step: in-projection, masks merged into one additive [N * H, L, S] mask, softmax of
// the scaled scores, dropout, out-projection.
#include "core/nn/attention.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/nn/init.h"
#include "core/nn/normalization.h"
#include "core/nn/repr.h"

namespace td::nn {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// y = x W^T + b over the last dim.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  if (x.dim() == 2 && b.defined()) return b.addmm(x, w.t());
  Tensor y = x.matmul(w.t());
  return b.defined() ? y.add(b) : y;
}

std::string dims_str(const Tensor& t) {
  return shape_str(t.sizes());
}

}  // namespace


// ---- scaled_dot_product_attention ----

Tensor functional::scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                                const Tensor& attn_mask, double dropout_p, bool is_causal) {
  constexpr const char* kOp = "[scaled_dot_product_attention]";
  TD_CHECK_ARG(query.dim() >= 2 && key.dim() >= 2 && value.dim() >= 2, kOp,
               " query, key and value must have at least 2 dims, got ", dims_str(query), ", ", dims_str(key),
               " and ", dims_str(value));
  TD_CHECK_ARG(query.size(-1) == key.size(-1), kOp, " query and key must have the same last dim, got ",
               dims_str(query), " and ", dims_str(key));
  TD_CHECK_ARG(key.size(-2) == value.size(-2), kOp, " key and value must have the same sequence length, got ",
               dims_str(key), " and ", dims_str(value));
  TD_CHECK_ARG(dropout_p >= 0 && dropout_p <= 1, kOp, " dropout_p must be in [0, 1], got ", dropout_p);
  TD_CHECK_ARG(!(is_causal && attn_mask.defined()), kOp, " is_causal=True excludes an explicit attn_mask");
  const int64_t L = query.size(-2), S = key.size(-2);
  Tensor scores =
      query.matmul(key.transpose(-2, -1)).mul(1.0 / std::sqrt(static_cast<double>(query.size(-1))));
  if (is_causal) {
    // Position i sees keys j <= i (the upper-left-aligned triangle, as PyTorch 2.0).
    const Tensor future = ones({L, S}, {.dtype = DType::kBool, .device = query.device()}).triu(1);
    scores = scores.masked_fill(future, kNegInf);
  } else if (attn_mask.defined()) {
    if (attn_mask.dtype() == DType::kBool) {
      scores = scores.masked_fill(attn_mask.logical_not(), kNegInf);
    } else {
      TD_CHECK_ARG(is_floating(attn_mask.dtype()), kOp, " attn_mask must be bool or floating, got ",
                   dtype_name(attn_mask.dtype()));
      scores = scores.add(attn_mask);
    }
  }
  Tensor weights = scores.softmax(-1);
  if (dropout_p > 0) weights = functional::dropout(weights, dropout_p, true);
  return weights.matmul(value);
}

// ---- MultiheadAttention ----

NonDynamicallyQuantizableLinear::NonDynamicallyQuantizableLinear(int64_t in, int64_t out, bool with_bias,
                                                                 TensorOptions options)
    : Module("NonDynamicallyQuantizableLinear"), in_features(in), out_features(out) {
  options.requires_grad = false;
  weight = register_parameter("weight", empty({out, in}, options));
  bias = register_parameter("bias", with_bias ? empty({out}, options) : Tensor());
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = in > 0 ? 1 / std::sqrt(static_cast<double>(in)) : 0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor NonDynamicallyQuantizableLinear::forward(const Tensor& input) {
  return linear(input, weight, bias);
}

std::string NonDynamicallyQuantizableLinear::extra_repr() const {
  return str("in_features=", in_features, ", out_features=", out_features,
             ", bias=", detail::py_bool(bias.defined()));
}

MultiheadAttention::MultiheadAttention(int64_t embed_dim_, int64_t num_heads_, MultiheadAttentionOptions o)
    : Module("MultiheadAttention"),
      embed_dim(embed_dim_),
      num_heads(num_heads_),
      head_dim(0),
      kdim(o.kdim > 0 ? o.kdim : embed_dim_),
      vdim(o.vdim > 0 ? o.vdim : embed_dim_),
      dropout(o.dropout),
      batch_first(o.batch_first),
      add_zero_attn(o.add_zero_attn) {
  TD_CHECK_ARG(embed_dim > 0 && num_heads > 0,
               "[MultiheadAttention] embed_dim and num_heads must be greater than "
               "0, got embed_dim=",
               embed_dim, " and num_heads=", num_heads, " instead");
  head_dim = embed_dim / num_heads;
  TD_CHECK_ARG(head_dim * num_heads == embed_dim,
               "[MultiheadAttention] embed_dim must be divisible by num_heads, "
               "got embed_dim=",
               embed_dim, " and num_heads=", num_heads);
  TD_CHECK_ARG(dropout >= 0 && dropout <= 1, "[MultiheadAttention] dropout must be in [0, 1], got ", dropout);
  TensorOptions t = o.options;
  t.requires_grad = false;
  if (kdim == embed_dim && vdim == embed_dim) {
    in_proj_weight = register_parameter("in_proj_weight", empty({3 * embed_dim, embed_dim}, t));
  } else {
    q_proj_weight = register_parameter("q_proj_weight", empty({embed_dim, embed_dim}, t));
    k_proj_weight = register_parameter("k_proj_weight", empty({embed_dim, kdim}, t));
    v_proj_weight = register_parameter("v_proj_weight", empty({embed_dim, vdim}, t));
  }
  in_proj_bias = register_parameter("in_proj_bias", o.bias ? empty({3 * embed_dim}, t) : Tensor());
  out_proj = register_module(
      "out_proj", std::make_shared<NonDynamicallyQuantizableLinear>(embed_dim, embed_dim, o.bias, t));
  if (o.add_bias_kv) {
    bias_k = register_parameter("bias_k", empty({1, 1, embed_dim}, t));
    bias_v = register_parameter("bias_v", empty({1, 1, embed_dim}, t));
  }
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  if (in_proj_weight.defined()) {
    init::xavier_uniform_(in_proj_weight);
  } else {
    init::xavier_uniform_(q_proj_weight);
    init::xavier_uniform_(k_proj_weight);
    init::xavier_uniform_(v_proj_weight);
  }
  if (in_proj_bias.defined()) {
    init::constant_(in_proj_bias, 0);
    init::constant_(out_proj->bias, 0);
  }
  if (bias_k.defined()) {
    init::xavier_normal_(bias_k);
    init::xavier_normal_(bias_v);
  }
}

std::pair<Tensor, Tensor> MultiheadAttention::operator()(const Tensor& query, const Tensor& key,
                                                         const Tensor& value, const Tensor& key_padding_mask,
                                                         bool need_weights, const Tensor& attn_mask,
                                                         bool average_attn_weights) {
  need_weights_ = need_weights;
  average_attn_weights_ = average_attn_weights;
  TensorList out;
  try {
    out = call({query, key, value, key_padding_mask, attn_mask});
  } catch (...) {
    need_weights_ = average_attn_weights_ = true;
    throw;
  }
  need_weights_ = average_attn_weights_ = true;
  return {out[0], out[1]};
}

TensorList MultiheadAttention::forward_list(const TensorList& inputs) {
  constexpr const char* kOp = "[MultiheadAttention]";
  TD_CHECK_ARG(inputs.size() >= 3 && inputs.size() <= 5, kOp,
               " forward() takes 3 to 5 inputs (query, key, value, "
               "key_padding_mask, attn_mask) but ",
               inputs.size(), " were given");
  Tensor query = inputs[0], key = inputs[1], value = inputs[2];
  Tensor kpm = inputs.size() > 3 ? inputs[3] : Tensor();
  Tensor mask = inputs.size() > 4 ? inputs[4] : Tensor();
  TD_CHECK_ARG(query.defined() && key.defined() && value.defined(), kOp,
               " query, key and value must be defined");
  const bool self_attention = query.is_same(key) && key.is_same(value);

  // _mha_shape_check: batched 3-D or unbatched 2-D inputs, masks to match.
  const bool batched = query.dim() == 3;
  TD_CHECK_ARG(query.dim() == 3 || query.dim() == 2, kOp,
               " query should be unbatched 2D or batched 3D tensor but received ", query.dim(),
               "-D query tensor");
  TD_CHECK_ARG(key.dim() == query.dim() && value.dim() == query.dim(), kOp, " For ",
               batched ? "batched (3-D)" : "unbatched (2-D)", " `query`, expected `key` and `value` to be ",
               batched ? "3-D" : "2-D", " but found ", key.dim(), "-D and ", value.dim(),
               "-D tensors respectively");
  if (kpm.defined()) {
    TD_CHECK_ARG(kpm.dim() == query.dim() - 1, kOp, " For ", batched ? "batched (3-D)" : "unbatched (2-D)",
                 " `query`, expected `key_padding_mask` to be `None` or ", batched ? 2 : 1, "-D but found ",
                 kpm.dim(), "-D tensor instead");
    TD_CHECK_ARG(kpm.dtype() == DType::kBool || is_floating(kpm.dtype()), kOp,
                 " only bool and floating types of key_padding_mask are supported");
  }
  if (mask.defined()) {
    TD_CHECK_ARG(mask.dtype() == DType::kBool || is_floating(mask.dtype()), kOp,
                 " Only float and bool types are supported for attn_mask, not ", dtype_name(mask.dtype()));
  }
  if (batch_first && batched) {
    query = query.transpose(0, 1);
    key = key.transpose(0, 1);
    value = value.transpose(0, 1);
  }
  if (!batched) {
    query = query.unsqueeze(1);
    key = key.unsqueeze(1);
    value = value.unsqueeze(1);
    if (kpm.defined()) kpm = kpm.unsqueeze(0);
  }
  const int64_t tgt_len = query.size(0), bsz = query.size(1);
  int64_t src_len = key.size(0);
  TD_CHECK_ARG(query.size(2) == embed_dim, kOp, " was expecting embedding dimension of ", embed_dim,
               ", but got ", query.size(2));
  TD_CHECK_ARG(key.size(0) == value.size(0) && key.size(1) == value.size(1) && key.size(1) == bsz, kOp,
               " key's sequence and batch dims ", dims_str(key), " do not match value's ", dims_str(value),
               " or query's batch size ", bsz);
  TD_CHECK_ARG(key.size(2) == kdim && value.size(2) == vdim, kOp, " expected key and value features of ",
               kdim, " and ", vdim, ", got ", key.size(2), " and ", value.size(2));

  // In-projection: one GEMM for self-attention, else one per input on the weight's row blocks (chunk: one
  // node whose backward joins the blocks' gradients).
  Tensor q, k, v;
  if (in_proj_weight.defined() && self_attention) {
    std::vector<Tensor> qkv = linear(query, in_proj_weight, in_proj_bias).chunk(3, -1);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    const std::vector<Tensor> w = in_proj_weight.defined()
                                      ? in_proj_weight.chunk(3, 0)
                                      : std::vector<Tensor>{q_proj_weight, k_proj_weight, v_proj_weight};
    const std::vector<Tensor> b = in_proj_bias.defined() ? in_proj_bias.chunk(3, 0) : std::vector<Tensor>(3);
    q = linear(query, w[0], b[0]);
    k = linear(key, w[1], b[1]);
    v = linear(value, w[2], b[2]);
  }

  if (mask.defined()) {
    if (mask.dim() == 2) {
      TD_CHECK_ARG(mask.size(0) == tgt_len && mask.size(1) == src_len, kOp,
                   " The shape of the 2D attn_mask is ", dims_str(mask), ", but should be ",
                   detail::py_tuple({tgt_len, src_len}), ".");
      mask = mask.unsqueeze(0);
    } else if (mask.dim() == 3) {
      TD_CHECK_ARG(mask.size(0) == bsz * num_heads && mask.size(1) == tgt_len && mask.size(2) == src_len, kOp,
                   " The shape of the 3D attn_mask is ", dims_str(mask), ", but should be ",
                   detail::py_tuple({bsz * num_heads, tgt_len, src_len}), ".");
    } else {
      TD_CHECK_ARG(false, kOp, " attn_mask's dimension ", mask.dim(), " is not supported");
    }
  }
  // One more source position (bias_kv, zero_attn): the masks grow by a column that masks nothing.
  auto grow = [](const Tensor& m) {
    if (!m.defined()) return m;
    std::vector<int64_t> shape = m.shape();
    shape.back() = 1;
    return Tensor::cat({m, zeros(shape, {.dtype = m.dtype(), .device = m.device()})}, -1);
  };
  if (bias_k.defined()) {
    k = Tensor::cat({k, bias_k.repeat({1, bsz, 1})}, 0);
    v = Tensor::cat({v, bias_v.repeat({1, bsz, 1})}, 0);
    mask = grow(mask);
    kpm = grow(kpm);
  }
  // [L, N, E] -> [N * H, L, head_dim].
  auto heads = [&](const Tensor& t) {
    return t.reshape({t.size(0), bsz * num_heads, head_dim}).transpose(0, 1);
  };
  q = heads(q);
  k = heads(k);
  v = heads(v);
  if (add_zero_attn) {
    const std::vector<int64_t> zero_shape{bsz * num_heads, 1, head_dim};
    k = Tensor::cat({k, zeros(zero_shape, {.dtype = k.dtype(), .device = k.device()})}, 1);
    v = Tensor::cat({v, zeros(zero_shape, {.dtype = v.dtype(), .device = v.device()})}, 1);
    mask = grow(mask);
    kpm = grow(kpm);
  }
  src_len = k.size(1);

  if (kpm.defined()) {
    TD_CHECK_ARG(kpm.size(0) == bsz && kpm.size(1) == src_len, kOp, " expecting key_padding_mask shape of ",
                 detail::py_tuple({bsz, src_len}), ", but got ", dims_str(kpm));
    kpm =
        kpm.view({bsz, 1, 1, src_len}).expand({-1, num_heads, -1, -1}).reshape({bsz * num_heads, 1, src_len});
    if (!mask.defined()) {
      mask = kpm;
    } else if (kpm.dtype() != DType::kBool) {
      // A float padding mask adds (PyTorch 1.13 would fail in masked_fill here).
      mask = (mask.dtype() == DType::kBool
                  ? zeros(mask.shape(), {.dtype = q.dtype(), .device = q.device()}).masked_fill(mask, kNegInf)
                  : mask)
                 .add(kpm);
    } else if (mask.dtype() == DType::kBool) {
      mask = mask.logical_or(kpm);
    } else {
      mask = mask.masked_fill(kpm, kNegInf);
    }
  }
  if (mask.defined() && mask.dtype() == DType::kBool) {
    mask = zeros(mask.shape(), {.dtype = q.dtype(), .device = q.device()}).masked_fill(mask, kNegInf);
  }

  const Tensor q_scaled = q.div(std::sqrt(static_cast<double>(head_dim)));
  const Tensor k_t = k.transpose(1, 2);
  Tensor weights = (mask.defined() ? mask.baddbmm(q_scaled, k_t) : q_scaled.bmm(k_t)).softmax(-1);
  if (dropout > 0 && is_training()) weights = functional::dropout(weights, dropout, true);
  Tensor out = weights.bmm(v).transpose(0, 1).reshape({tgt_len * bsz, embed_dim});
  out = linear(out, out_proj->weight, out_proj->bias).view({tgt_len, bsz, embed_dim});

  Tensor avg;
  if (need_weights_) {
    avg = weights.view({bsz, num_heads, tgt_len, src_len});
    if (average_attn_weights_) avg = avg.sum(std::vector<int64_t>{1}).div(static_cast<double>(num_heads));
    if (!batched) avg = avg.squeeze(0);
  }
  if (!batched) out = out.squeeze(1);
  if (batch_first && batched) out = out.transpose(0, 1);
  return {out, avg};
}

// ---- TransformerEncoderLayer ----

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model_, int64_t nhead_,
                                                 TransformerEncoderLayerOptions o)
    : Module("TransformerEncoderLayer"), d_model(d_model_), nhead(nhead_), options(std::move(o)) {
  TD_CHECK_ARG(options.activation == "relu" || options.activation == "gelu",
               "[TransformerEncoderLayer] activation should be relu/gelu, not ", options.activation);
  const TensorOptions& t = options.options;
  self_attn = register_module(
      "self_attn", std::make_shared<MultiheadAttention>(
                       d_model, nhead,
                       MultiheadAttentionOptions{
                           .dropout = options.dropout, .batch_first = options.batch_first, .options = t}));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, options.dim_feedforward, true, t));
  dropout = register_module("dropout", std::make_shared<Dropout>(options.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(options.dim_feedforward, d_model, true, t));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(std::vector<int64_t>{d_model}, options.layer_norm_eps, true, t));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(std::vector<int64_t>{d_model}, options.layer_norm_eps, true, t));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(options.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(options.dropout));
}

Tensor TransformerEncoderLayer::operator()(const Tensor& src, const Tensor& src_mask,
                                           const Tensor& src_key_padding_mask) {
  return call({src, src_mask, src_key_padding_mask})[0];
}

TensorList TransformerEncoderLayer::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(!inputs.empty() && inputs.size() <= 3,
               "[TransformerEncoderLayer] forward() takes 1 to 3 inputs "
               "(src, src_mask, src_key_padding_mask) but ",
               inputs.size(), " were given");
  const Tensor mask = inputs.size() > 1 ? inputs[1] : Tensor();
  const Tensor kpm = inputs.size() > 2 ? inputs[2] : Tensor();
  auto sa_block = [&](const Tensor& x) {
    return (*dropout1)((*self_attn)(x, x, x, kpm, /*need_weights=*/false, mask).first);
  };
  auto ff_block = [&](const Tensor& x) {
    Tensor h = (*linear1)(x);
    h = options.activation == "gelu" ? functional::gelu(h) : h.relu();
    return (*dropout2)((*linear2)((*dropout)(h)));
  };
  Tensor x = inputs[0];
  if (options.norm_first) {
    x = x.add(sa_block((*norm1)(x)));
    x = x.add(ff_block((*norm2)(x)));
  } else {
    x = (*norm1)(x.add(sa_block(x)));
    x = (*norm2)(x.add(ff_block(x)));
  }
  return {x};
}

std::shared_ptr<TransformerEncoderLayer> TransformerEncoderLayer::clone() const {
  TransformerEncoderLayerOptions o = options;
  const Tensor& w = linear1->weight;
  o.options.dtype = w.dtype();
  o.options.device = w.device();
  auto copy = std::make_shared<TransformerEncoderLayer>(d_model, nhead, o);
  copy->load_state_dict(state_dict());
  copy->train(is_training());
  return copy;
}

// ---- TransformerEncoder ----

TransformerEncoder::TransformerEncoder(const std::shared_ptr<TransformerEncoderLayer>& encoder_layer,
                                       int64_t num_layers_, std::shared_ptr<Module> norm_)
    : Module("TransformerEncoder"), num_layers(num_layers_) {
  TD_CHECK_ARG(encoder_layer != nullptr, "[TransformerEncoder] encoder_layer is null");
  TD_CHECK_ARG(num_layers >= 0, "[TransformerEncoder] num_layers must be non-negative, got ", num_layers);
  TD_CHECK(num_layers <= kMaxStackedLayers, ErrorCode::kResourceExhausted, "[TransformerEncoder] num_layers=",
           num_layers, " is more than the ", kMaxStackedLayers, " layers a stacked module may have");
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < num_layers; ++i) layers->push_back(encoder_layer->clone());
  if (norm_) norm = register_module("norm", std::move(norm_));
}

Tensor TransformerEncoder::operator()(const Tensor& src, const Tensor& mask,
                                      const Tensor& src_key_padding_mask) {
  return call({src, mask, src_key_padding_mask})[0];
}

TensorList TransformerEncoder::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(!inputs.empty() && inputs.size() <= 3,
               "[TransformerEncoder] forward() takes 1 to 3 inputs "
               "(src, mask, src_key_padding_mask) but ",
               inputs.size(), " were given");
  const Tensor mask = inputs.size() > 1 ? inputs[1] : Tensor();
  const Tensor kpm = inputs.size() > 2 ? inputs[2] : Tensor();
  Tensor x = inputs[0];
  for (const auto& [name, layer] : layers->named_children()) x = layer->call({x, mask, kpm})[0];
  if (norm) x = (*norm)(x);
  return {x};
}

// ---- TransformerDecoderLayer, TransformerDecoder, Transformer ----

namespace {
// The optional tensor at `i` of a forward_list.
Tensor at_or_none(const TensorList& inputs, size_t i) { return i < inputs.size() ? inputs[i] : Tensor(); }

std::shared_ptr<Module> layer_norm(int64_t d_model, const TransformerEncoderLayerOptions& o) {
  return std::make_shared<LayerNorm>(std::vector<int64_t>{d_model}, o.layer_norm_eps, true, o.options);
}
}  // namespace

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d_model_, int64_t nhead_, TransformerEncoderLayerOptions o)
    : Module("TransformerDecoderLayer"), d_model(d_model_), nhead(nhead_), options(std::move(o)) {
  TD_CHECK_ARG(options.activation == "relu" || options.activation == "gelu",
               "[TransformerDecoderLayer] activation should be relu/gelu, not ", options.activation);
  const TensorOptions& t = options.options;
  const MultiheadAttentionOptions attention{.dropout = options.dropout, .batch_first = options.batch_first, .options = t};
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(d_model, nhead, attention));
  multihead_attn = register_module("multihead_attn", std::make_shared<MultiheadAttention>(d_model, nhead, attention));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, options.dim_feedforward, true, t));
  dropout = register_module("dropout", std::make_shared<Dropout>(options.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(options.dim_feedforward, d_model, true, t));
  norm1 = register_module("norm1", layer_norm(d_model, options));
  norm2 = register_module("norm2", layer_norm(d_model, options));
  norm3 = register_module("norm3", layer_norm(d_model, options));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(options.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(options.dropout));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(options.dropout));
}

Tensor TransformerDecoderLayer::operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                           const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                           const Tensor& memory_key_padding_mask) {
  return call({tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask})[0];
}

TensorList TransformerDecoderLayer::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(inputs.size() >= 2 && inputs.size() <= 6,
               "[TransformerDecoderLayer] forward() takes 2 to 6 inputs (tgt, memory, tgt_mask, memory_mask, "
               "tgt_key_padding_mask, memory_key_padding_mask) but ", inputs.size(), " were given");
  const Tensor& memory = inputs[1];
  const Tensor tgt_mask = at_or_none(inputs, 2), memory_mask = at_or_none(inputs, 3);
  const Tensor tgt_kpm = at_or_none(inputs, 4), memory_kpm = at_or_none(inputs, 5);
  auto sa_block = [&](const Tensor& x) {
    return (*dropout1)((*self_attn)(x, x, x, tgt_kpm, /*need_weights=*/false, tgt_mask).first);
  };
  auto mha_block = [&](const Tensor& x) {
    return (*dropout2)((*multihead_attn)(x, memory, memory, memory_kpm, /*need_weights=*/false, memory_mask).first);
  };
  auto ff_block = [&](const Tensor& x) {
    Tensor h = (*linear1)(x);
    h = options.activation == "gelu" ? functional::gelu(h) : h.relu();
    return (*dropout3)((*linear2)((*dropout)(h)));
  };
  Tensor x = inputs[0];
  if (options.norm_first) {
    x = x.add(sa_block((*norm1)(x)));
    x = x.add(mha_block((*norm2)(x)));
    x = x.add(ff_block((*norm3)(x)));
  } else {
    x = (*norm1)(x.add(sa_block(x)));
    x = (*norm2)(x.add(mha_block(x)));
    x = (*norm3)(x.add(ff_block(x)));
  }
  return {x};
}

std::shared_ptr<TransformerDecoderLayer> TransformerDecoderLayer::clone() const {
  TransformerEncoderLayerOptions o = options;
  o.options.dtype = linear1->weight.dtype();
  o.options.device = linear1->weight.device();
  auto copy = std::make_shared<TransformerDecoderLayer>(d_model, nhead, o);
  copy->load_state_dict(state_dict());
  copy->train(is_training());
  return copy;
}

TransformerDecoder::TransformerDecoder(const std::shared_ptr<TransformerDecoderLayer>& decoder_layer,
                                       int64_t num_layers_, std::shared_ptr<Module> norm_)
    : Module("TransformerDecoder"), num_layers(num_layers_) {
  TD_CHECK_ARG(decoder_layer != nullptr, "[TransformerDecoder] decoder_layer is null");
  TD_CHECK_ARG(num_layers >= 0, "[TransformerDecoder] num_layers must be non-negative, got ", num_layers);
  TD_CHECK(num_layers <= kMaxStackedLayers, ErrorCode::kResourceExhausted, "[TransformerDecoder] num_layers=",
           num_layers, " is more than the ", kMaxStackedLayers, " layers a stacked module may have");
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < num_layers; ++i) layers->push_back(decoder_layer->clone());
  if (norm_) norm = register_module("norm", std::move(norm_));
}

Tensor TransformerDecoder::operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                      const Tensor& memory_mask, const Tensor& tgt_key_padding_mask,
                                      const Tensor& memory_key_padding_mask) {
  return call({tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask})[0];
}

TensorList TransformerDecoder::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(inputs.size() >= 2 && inputs.size() <= 6,
               "[TransformerDecoder] forward() takes 2 to 6 inputs (tgt, memory, tgt_mask, memory_mask, "
               "tgt_key_padding_mask, memory_key_padding_mask) but ", inputs.size(), " were given");
  TensorList args = inputs;
  args.resize(6);
  for (const auto& [name, layer] : layers->named_children()) {
    args[0] = layer->call(args)[0];
  }
  Tensor x = args[0];
  if (norm) x = (*norm)(x);
  return {x};
}

Transformer::Transformer(TransformerOptions o) : Module("Transformer"), options(std::move(o)) {
  const TransformerEncoderLayerOptions layer{.dim_feedforward = options.dim_feedforward,
                                             .dropout = options.dropout,
                                             .activation = options.activation,
                                             .layer_norm_eps = options.layer_norm_eps,
                                             .batch_first = options.batch_first,
                                             .norm_first = options.norm_first,
                                             .options = options.options};
  encoder = register_module(
      "encoder", std::make_shared<TransformerEncoder>(
                     std::make_shared<TransformerEncoderLayer>(options.d_model, options.nhead, layer),
                     options.num_encoder_layers, layer_norm(options.d_model, layer)));
  decoder = register_module(
      "decoder", std::make_shared<TransformerDecoder>(
                     std::make_shared<TransformerDecoderLayer>(options.d_model, options.nhead, layer),
                     options.num_decoder_layers, layer_norm(options.d_model, layer)));
  for (Tensor& p : parameters()) {
    if (p.dim() > 1) init::xavier_uniform_(p);
  }
}

Tensor Transformer::operator()(const Tensor& src, const Tensor& tgt, const Tensor& src_mask, const Tensor& tgt_mask,
                               const Tensor& memory_mask, const Tensor& src_key_padding_mask,
                               const Tensor& tgt_key_padding_mask, const Tensor& memory_key_padding_mask) {
  return call({src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask,
               memory_key_padding_mask})[0];
}

TensorList Transformer::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(inputs.size() >= 2 && inputs.size() <= 8,
               "[Transformer] forward() takes 2 to 8 inputs (src, tgt, src_mask, tgt_mask, memory_mask, "
               "src_key_padding_mask, tgt_key_padding_mask, memory_key_padding_mask) but ", inputs.size(),
               " were given");
  const Tensor &src = inputs[0], &tgt = inputs[1];
  const bool batched = src.dim() == 3;
  const int64_t batch_dim = options.batch_first ? 0 : 1;
  TD_CHECK_ARG(!batched || tgt.dim() < 3 || src.size(batch_dim) == tgt.size(batch_dim),
               "[Transformer] the batch number of src and tgt must be equal");
  TD_CHECK_ARG(src.size(-1) == options.d_model && tgt.size(-1) == options.d_model,
               "[Transformer] the feature number of src and tgt must be equal to d_model");
  const Tensor memory = (*encoder)(src, at_or_none(inputs, 2), at_or_none(inputs, 5));
  return {(*decoder)(tgt, memory, at_or_none(inputs, 3), at_or_none(inputs, 4), at_or_none(inputs, 6),
                     at_or_none(inputs, 7))};
}

Tensor Transformer::generate_square_subsequent_mask(int64_t sz, TensorOptions options) {
  return full({sz, sz}, -std::numeric_limits<double>::infinity(), options).triu(1);
}

}  // namespace td::nn
