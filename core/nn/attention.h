// Attention layers: F.scaled_dot_product_attention (PyTorch 2.0's API; 1.13 has no public function of that
// name), nn.MultiheadAttention with F.multi_head_attention_forward's semantics, nn.TransformerEncoderLayer
// and nn.TransformerEncoder, with PyTorch 1.13's parameter names, order, initialisation, masks and reprs. All
// of it is written in public ops (matmul/bmm/baddbmm, softmax, masked_fill), so autograd and double backward
// come from the ops' own formulas.
//
//   auto mha = std::make_shared<td::nn::MultiheadAttention>(16, 4,
//   td::nn::MultiheadAttentionOptions{.batch_first = true}); auto [out, weights] = (*mha)(x, x, x);  // x [N,
//   L, 16] -> out [N, L, 16], weights [N, L, L] (head average)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "core/nn/activation.h"
#include "core/nn/module.h"
#include "core/nn/modules.h"

namespace td::nn {

namespace functional {
/// softmax(Q K^T / sqrt(E) + mask) V over the last two dims, batch dims broadcast (PyTorch 2.0's
/// F.scaled_dot_product_attention, math path). query [..., L, E], key [..., S, E], value [..., S, Ev]. A bool
/// attn_mask keeps where true (SDPA's convention, the opposite of MultiheadAttention's); a float one is
/// added. is_causal masks j > i and excludes attn_mask. dropout_p applies to the weights (always, as PyTorch:
/// pass 0 in evaluation).
Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask = {}, double dropout_p = 0.0,
                                    bool is_causal = false);
}  // namespace functional

/// MultiheadAttention's out_proj: a Linear under PyTorch's class name for it, so reprs match.
class NonDynamicallyQuantizableLinear : public Module {
 public:
  NonDynamicallyQuantizableLinear(int64_t in_features, int64_t out_features, bool bias,
                                  TensorOptions options);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  int64_t in_features, out_features;
  Tensor weight, bias;
};

/// Settings of MultiheadAttention, with PyTorch's defaults.
struct MultiheadAttentionOptions {
  /// Dropout on the attention weights, in training mode only.
  double dropout = 0.0;
  bool bias = true;
  /// Learned bias_k and bias_v [1, 1, E] appended to the keys and values as one more source position.
  bool add_bias_kv = false;
  /// A zero key and value appended per head as one more source position.
  bool add_zero_attn = false;
  /// Feature sizes of key and value (0: embed_dim). Either differing gives separate q/k/v_proj_weight.
  int64_t kdim = 0, vdim = 0;
  /// Inputs and output as [N, L, E] instead of [L, N, E].
  bool batch_first = false;
  TensorOptions options = {};
};

/// Multi-head attention (nn.MultiheadAttention): in_proj_weight [3E, E] (or q_proj_weight [E, E],
/// k_proj_weight [E, kdim], v_proj_weight [E, vdim]) drawn by xavier_uniform_, in_proj_bias [3E] and
/// out_proj.bias zero, out_proj.weight as Linear's.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options = {});
  /// Module.__call__(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights):
  /// (attn_output, attn_weights), the weights averaged over heads when average_attn_weights ([N, L, S]), else
  /// per head ([N, H, L, S]), undefined when need_weights is false. key_padding_mask [N, S]: true (or -inf)
  /// ignores a key; attn_mask [L, S] or [N * H, L, S]: true forbids a position, a float one is added.
  std::pair<Tensor, Tensor> operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                                       const Tensor& key_padding_mask = {}, bool need_weights = true,
                                       const Tensor& attn_mask = {}, bool average_attn_weights = true);
  /// forward_list({query, key, value[, key_padding_mask[, attn_mask]]}) -> {attn_output, attn_weights}, with
  /// need_weights and average_attn_weights as the last operator() call set them (default true, true).
  TensorList forward_list(const TensorList& inputs) override;
  void reset_parameters();

  int64_t embed_dim, num_heads, head_dim, kdim, vdim;
  double dropout;
  bool batch_first;
  Tensor in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias;
  Tensor bias_k, bias_v;  // with add_bias_kv
  bool add_zero_attn;
  std::shared_ptr<NonDynamicallyQuantizableLinear> out_proj;

 private:
  bool need_weights_ = true, average_attn_weights_ = true;
};

/// Settings of TransformerEncoderLayer, with PyTorch's defaults.
struct TransformerEncoderLayerOptions {
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  /// "relu" or "gelu".
  std::string activation = "relu";
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  /// Pre-norm (x + sa(norm1(x))) instead of post-norm (norm1(x + sa(x))).
  bool norm_first = false;
  TensorOptions options = {};
};

/// Self-attention and a feed-forward block, each with a residual and a layer norm
/// (nn.TransformerEncoderLayer). Children in PyTorch's order: self_attn, linear1, dropout, linear2, norm1,
/// norm2, dropout1, dropout2.
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, TransformerEncoderLayerOptions options = {});
  /// Module.__call__(src, src_mask, src_key_padding_mask); the masks as MultiheadAttention's attn_mask and
  /// key_padding_mask.
  Tensor operator()(const Tensor& src, const Tensor& src_mask = {}, const Tensor& src_key_padding_mask = {});
  /// forward_list({src[, src_mask[, src_key_padding_mask]]}) -> {output}.
  TensorList forward_list(const TensorList& inputs) override;
  /// A deep copy (copy.deepcopy): same settings, parameter values, device, dtype and training mode.
  std::shared_ptr<TransformerEncoderLayer> clone() const;

  int64_t d_model, nhead;
  TransformerEncoderLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  /// Layer norms over the last dim (nn.LayerNorm((d_model,)): weight, bias of [d_model]).
  std::shared_ptr<Module> norm1, norm2;
};

/// num_layers deep copies of encoder_layer run in turn, then `norm` if given (nn.TransformerEncoder; the
/// nested-tensor fast path is not taken, so padded positions get computed outputs as in PyTorch's slow path).
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const std::shared_ptr<TransformerEncoderLayer>& encoder_layer, int64_t num_layers,
                     std::shared_ptr<Module> norm = nullptr);
  /// Module.__call__(src, mask, src_key_padding_mask).
  Tensor operator()(const Tensor& src, const Tensor& mask = {}, const Tensor& src_key_padding_mask = {});
  /// forward_list({src[, mask[, src_key_padding_mask]]}) -> {output}.
  TensorList forward_list(const TensorList& inputs) override;

  int64_t num_layers;
  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<Module> norm;
};

/// Self-attention over the target, attention over the encoder's output (`memory`) and a feed-forward block,
/// each with a residual and a layer norm (nn.TransformerDecoderLayer; the encoder layer's settings). Children
/// in PyTorch's order: self_attn, multihead_attn, linear1, dropout, linear2, norm1, norm2, norm3, dropout1,
/// dropout2, dropout3.
class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, TransformerEncoderLayerOptions options = {});
  /// Module.__call__(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask).
  Tensor operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {}, const Tensor& memory_mask = {},
                    const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {});
  /// forward_list({tgt, memory[, tgt_mask[, memory_mask[, tgt_key_padding_mask[, memory_key_padding_mask]]]]}).
  TensorList forward_list(const TensorList& inputs) override;
  /// A deep copy (copy.deepcopy).
  std::shared_ptr<TransformerDecoderLayer> clone() const;

  int64_t d_model, nhead;
  TransformerEncoderLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  std::shared_ptr<Module> norm1, norm2, norm3;
};

/// num_layers deep copies of decoder_layer run in turn over (tgt, memory), then `norm` if given
/// (nn.TransformerDecoder).
class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const std::shared_ptr<TransformerDecoderLayer>& decoder_layer, int64_t num_layers,
                     std::shared_ptr<Module> norm = nullptr);
  Tensor operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {}, const Tensor& memory_mask = {},
                    const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {});
  /// forward_list as TransformerDecoderLayer's.
  TensorList forward_list(const TensorList& inputs) override;

  int64_t num_layers;
  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<Module> norm;
};

/// nn.Transformer's settings, with its defaults.
struct TransformerOptions {
  int64_t d_model = 512;
  int64_t nhead = 8;
  int64_t num_encoder_layers = 6;
  int64_t num_decoder_layers = 6;
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;
  TensorOptions options = {};
};

/// An encoder and a decoder, each ending in a layer norm (nn.Transformer); parameters of two or more dims
/// start xavier-uniform, as PyTorch's _reset_parameters draws them.
class Transformer : public Module {
 public:
  explicit Transformer(TransformerOptions options = {});
  /// Module.__call__(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask,
  /// memory_key_padding_mask).
  Tensor operator()(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = {}, const Tensor& tgt_mask = {},
                    const Tensor& memory_mask = {}, const Tensor& src_key_padding_mask = {},
                    const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {});
  /// forward_list({src, tgt[, the six masks in operator()'s order]}).
  TensorList forward_list(const TensorList& inputs) override;
  /// The causal mask of sz positions: -inf above the diagonal, 0 elsewhere (float32 unless options say).
  static Tensor generate_square_subsequent_mask(int64_t sz, TensorOptions options = {});

  TransformerOptions options;
  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
};


}  // namespace td::nn
