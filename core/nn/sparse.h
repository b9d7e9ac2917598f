// Embedding layers of torch.nn (Embedding, EmbeddingBag) over the registry ops of core/ops/embedding.cpp,
// with PyTorch 1.13's arguments, defaults (weight drawn from N(0, 1), the padding row zeroed) and reprs.
// Sparse gradients are not supported (sparse=true is refused when called).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/nn/module.h"

namespace td::nn {

/// A lookup table of num_embeddings vectors of embedding_dim (nn.Embedding). padding_idx (negative counts
/// from the end) gets no gradient; with max_norm, looked-up rows above it are rescaled in place at each call.
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt,
            std::optional<double> max_norm = std::nullopt, double norm_type = 2.0,
            bool scale_grad_by_freq = false, bool sparse = false, TensorOptions options = {});
  /// An Embedding holding `embeddings` [num_embeddings, dim] (copied), frozen (no gradient) unless freeze is
  /// false (nn.Embedding.from_pretrained).
  static std::shared_ptr<Embedding> from_pretrained(const Tensor& embeddings, bool freeze = true,
                                                    std::optional<int64_t> padding_idx = std::nullopt,
                                                    std::optional<double> max_norm = std::nullopt,
                                                    double norm_type = 2.0, bool scale_grad_by_freq = false,
                                                    bool sparse = false);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  /// Redraws weight from N(0, 1) and zeroes the padding row.
  void reset_parameters();

  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;  // wrapped to 0..num_embeddings-1, as PyTorch stores it
  std::optional<double> max_norm;
  double norm_type;
  bool scale_grad_by_freq, sparse;
  Tensor weight;
};

/// Sums, means or maxima of bags of embeddings, without building the looked-up rows per bag
/// (nn.EmbeddingBag). Called with the indices, and optionally offsets and per_sample_weights: call({input,
/// offsets, weights}).
class EmbeddingBag : public Module {
 public:
  EmbeddingBag(int64_t num_embeddings, int64_t embedding_dim, std::optional<double> max_norm = std::nullopt,
               double norm_type = 2.0, bool scale_grad_by_freq = false, std::string mode = "mean",
               bool sparse = false, bool include_last_offset = false,
               std::optional<int64_t> padding_idx = std::nullopt, TensorOptions options = {});
  /// An EmbeddingBag holding `embeddings` (nn.EmbeddingBag.from_pretrained).
  static std::shared_ptr<EmbeddingBag> from_pretrained(
      const Tensor& embeddings, bool freeze = true, std::optional<double> max_norm = std::nullopt,
      double norm_type = 2.0, bool scale_grad_by_freq = false, std::string mode = "mean", bool sparse = false,
      bool include_last_offset = false, std::optional<int64_t> padding_idx = std::nullopt);
  /// forward(input, offsets, per_sample_weights); undefined tensors stand for None.
  Tensor forward(const Tensor& input, const Tensor& offsets, const Tensor& per_sample_weights = {});
  TensorList forward_list(const TensorList& inputs) override;
  std::string extra_repr() const override;
  void reset_parameters();

  int64_t num_embeddings, embedding_dim;
  std::optional<double> max_norm;
  double norm_type;
  bool scale_grad_by_freq;
  std::string mode;
  bool sparse, include_last_offset;
  std::optional<int64_t> padding_idx;
  Tensor weight;
};

}  // namespace td::nn
