// The embedding layers: PyTorch's argument checks and initialisation, and calls of nn::functional.
#include "core/nn/sparse.h"

#include "core/autograd/grad_mode.h"
#include "core/error.h"
#include "core/nn/functional.h"
#include "core/nn/init.h"
#include "core/nn/repr.h"

namespace td::nn {

namespace F = functional;

namespace {
// nn.Embedding's assertion, and the wrap of a negative padding_idx.
std::optional<int64_t> checked_padding_idx(std::string_view type, std::optional<int64_t> padding_idx,
                                           int64_t rows) {
  if (!padding_idx) return std::nullopt;
  const int64_t p = *padding_idx;
  TD_CHECK_ARG(p < rows && p >= -rows, "[", type, "] Padding_idx must be within num_embeddings (got ", p,
               " for ", rows, " embeddings)");
  return p < 0 ? p + rows : p;
}

// The parts of the reprs both layers share, in PyTorch's order.
std::string table_repr(int64_t rows, int64_t dim, std::optional<double> max_norm, double norm_type,
                       bool scale_grad_by_freq) {
  std::string s = str(rows, ", ", dim);
  if (max_norm) s += ", max_norm=" + detail::py_float(*max_norm);
  if (norm_type != 2) s += ", norm_type=" + detail::py_float(norm_type);
  if (scale_grad_by_freq) s += ", scale_grad_by_freq=True";
  return s;
}

void zero_row(const Tensor& weight, std::optional<int64_t> row) {
  if (!row) return;
  autograd::NoGradGuard no_grad;
  weight.select(0, *row).fill_(0);
}
}  // namespace

Embedding::Embedding(int64_t num_embeddings_, int64_t embedding_dim_, std::optional<int64_t> padding_idx_,
                     std::optional<double> max_norm_, double norm_type_, bool scale_grad_by_freq_,
                     bool sparse_, TensorOptions options)
    : Module("Embedding"),
      num_embeddings(num_embeddings_),
      embedding_dim(embedding_dim_),
      padding_idx(checked_padding_idx("Embedding", padding_idx_, num_embeddings_)),
      max_norm(max_norm_),
      norm_type(norm_type_),
      scale_grad_by_freq(scale_grad_by_freq_),
      sparse(sparse_) {
  TD_CHECK_ARG(num_embeddings >= 0 && embedding_dim >= 0,
               "[Embedding] num_embeddings and embedding_dim must be "
               ">= 0, got ",
               num_embeddings, " and ", embedding_dim);
  options.requires_grad = false;
  weight = register_parameter("weight", empty({num_embeddings, embedding_dim}, options));
  reset_parameters();
}

void Embedding::reset_parameters() {
  init::normal_(weight);
  zero_row(weight, padding_idx);
}

std::shared_ptr<Embedding> Embedding::from_pretrained(const Tensor& embeddings, bool freeze,
                                                      std::optional<int64_t> padding_idx,
                                                      std::optional<double> max_norm, double norm_type,
                                                      bool scale_grad_by_freq, bool sparse) {
  TD_CHECK_ARG(embeddings.dim() == 2,
               "[Embedding] Embeddings parameter is expected to be 2-dimensional, got ",
               shape_str(embeddings.sizes()));
  auto e = std::make_shared<Embedding>(embeddings.size(0), embeddings.size(1), padding_idx, max_norm,
                                       norm_type, scale_grad_by_freq, sparse,
                                       TensorOptions{embeddings.dtype(), embeddings.device()});
  {
    autograd::NoGradGuard no_grad;
    e->weight.copy_(embeddings);  // PyTorch keeps the given rows, padding row included
  }
  e->weight.requires_grad_(!freeze);
  return e;
}

Tensor Embedding::forward(const Tensor& input) {
  return F::embedding(input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse);
}

std::string Embedding::extra_repr() const {
  std::string s = str(num_embeddings, ", ", embedding_dim);
  if (padding_idx) s += str(", padding_idx=", *padding_idx);
  if (max_norm) s += ", max_norm=" + detail::py_float(*max_norm);
  if (norm_type != 2) s += ", norm_type=" + detail::py_float(norm_type);
  if (scale_grad_by_freq) s += ", scale_grad_by_freq=True";
  if (sparse) s += ", sparse=True";
  return s;
}

EmbeddingBag::EmbeddingBag(int64_t num_embeddings_, int64_t embedding_dim_, std::optional<double> max_norm_,
                           double norm_type_, bool scale_grad_by_freq_, std::string mode_, bool sparse_,
                           bool include_last_offset_, std::optional<int64_t> padding_idx_,
                           TensorOptions options)
    : Module("EmbeddingBag"),
      num_embeddings(num_embeddings_),
      embedding_dim(embedding_dim_),
      max_norm(max_norm_),
      norm_type(norm_type_),
      scale_grad_by_freq(scale_grad_by_freq_),
      mode(std::move(mode_)),
      sparse(sparse_),
      include_last_offset(include_last_offset_),
      padding_idx(checked_padding_idx("EmbeddingBag", padding_idx_, num_embeddings_)) {
  TD_CHECK_ARG(mode == "sum" || mode == "mean" || mode == "max",
               "[EmbeddingBag] mode has to be one of sum, mean "
               "or max, got '",
               mode, "'");
  options.requires_grad = false;
  weight = register_parameter("weight", empty({num_embeddings, embedding_dim}, options));
  reset_parameters();
}

void EmbeddingBag::reset_parameters() {
  init::normal_(weight);
  zero_row(weight, padding_idx);
}

std::shared_ptr<EmbeddingBag> EmbeddingBag::from_pretrained(const Tensor& embeddings, bool freeze,
                                                            std::optional<double> max_norm, double norm_type,
                                                            bool scale_grad_by_freq, std::string mode,
                                                            bool sparse, bool include_last_offset,
                                                            std::optional<int64_t> padding_idx) {
  TD_CHECK_ARG(embeddings.dim() == 2,
               "[EmbeddingBag] Embeddings parameter is expected to be 2-dimensional, got ",
               shape_str(embeddings.sizes()));
  auto e = std::make_shared<EmbeddingBag>(
      embeddings.size(0), embeddings.size(1), max_norm, norm_type, scale_grad_by_freq, std::move(mode),
      sparse, include_last_offset, padding_idx, TensorOptions{embeddings.dtype(), embeddings.device()});
  {
    autograd::NoGradGuard no_grad;
    e->weight.copy_(embeddings);
  }
  e->weight.requires_grad_(!freeze);
  return e;
}

Tensor EmbeddingBag::forward(const Tensor& input, const Tensor& offsets, const Tensor& per_sample_weights) {
  return F::embedding_bag(input, weight, offsets, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                          per_sample_weights, include_last_offset, padding_idx);
}

TensorList EmbeddingBag::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(!inputs.empty() && inputs.size() <= 3,
               "[EmbeddingBag] forward takes input, offsets and "
               "per_sample_weights (1 to 3 tensors), got ",
               inputs.size());
  return {
      forward(inputs[0], inputs.size() > 1 ? inputs[1] : Tensor(), inputs.size() > 2 ? inputs[2] : Tensor())};
}

std::string EmbeddingBag::extra_repr() const {
  std::string s = table_repr(num_embeddings, embedding_dim, max_norm, norm_type, scale_grad_by_freq);
  s += ", mode=" + mode;
  if (padding_idx) s += str(", padding_idx=", *padding_idx);
  return s;
}

}  // namespace td::nn
