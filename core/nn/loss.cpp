// The loss layers: thin callers of the registry ops (core/ops/loss.cpp) through td::nn::functional.
#include "core/nn/loss.h"

#include "core/error.h"
#include "core/nn/functional.h"

namespace td::nn {

namespace F = functional;

Loss::Loss(std::string type_name, std::string reduction_, size_t arity, std::string names)
    : Module(std::move(type_name)),
      reduction(std::move(reduction_)),
      arity_(arity),
      names_(std::move(names)) {}

Tensor Loss::operator()(const Tensor& input, const Tensor& target) {
  return call({input, target}).at(0);
}

Tensor Loss::operator()(const Tensor& a, const Tensor& b, const Tensor& c) {
  return call({a, b, c}).at(0);
}

TensorList Loss::forward_list(const TensorList& inputs) {
  TD_CHECK_ARG(inputs.size() == arity_, "[", type_name(), "] forward() takes ", arity_, " tensors (", names_,
               ") but ", inputs.size(), " were given");
  return {compute(inputs)};
}

namespace {
// A weight buffer, registered only when given (PyTorch's register_buffer of None adds no state).
Tensor weight_buffer(Module& m, const std::string& name, const Tensor& w) {
  return w.defined() ? m.register_buffer(name, w) : Tensor();
}
constexpr const char* kInputTarget = "input, target";
}  // namespace

MSELoss::MSELoss(std::string r) : Loss("MSELoss", std::move(r), 2, kInputTarget) {}
Tensor MSELoss::compute(const TensorList& in) {
  return F::mse_loss(in[0], in[1], reduction);
}

L1Loss::L1Loss(std::string r) : Loss("L1Loss", std::move(r), 2, kInputTarget) {}
Tensor L1Loss::compute(const TensorList& in) {
  return F::l1_loss(in[0], in[1], reduction);
}

SmoothL1Loss::SmoothL1Loss(std::string r, double beta_)
    : Loss("SmoothL1Loss", std::move(r), 2, kInputTarget), beta(beta_) {}
Tensor SmoothL1Loss::compute(const TensorList& in) {
  return F::smooth_l1_loss(in[0], in[1], reduction, beta);
}

HuberLoss::HuberLoss(std::string r, double delta_)
    : Loss("HuberLoss", std::move(r), 2, kInputTarget), delta(delta_) {}
Tensor HuberLoss::compute(const TensorList& in) {
  return F::huber_loss(in[0], in[1], reduction, delta);
}

NLLLoss::NLLLoss(Tensor w, int64_t ignore, std::string r)
    : Loss("NLLLoss", std::move(r), 2, kInputTarget), ignore_index(ignore) {
  weight = weight_buffer(*this, "weight", w);
}
Tensor NLLLoss::compute(const TensorList& in) {
  return F::nll_loss(in[0], in[1], weight, ignore_index, reduction);
}

CrossEntropyLoss::CrossEntropyLoss(Tensor w, int64_t ignore, std::string r, double smoothing)
    : Loss("CrossEntropyLoss", std::move(r), 2, kInputTarget),
      ignore_index(ignore),
      label_smoothing(smoothing) {
  weight = weight_buffer(*this, "weight", w);
}
Tensor CrossEntropyLoss::compute(const TensorList& in) {
  return F::cross_entropy(in[0], in[1], weight, ignore_index, reduction, label_smoothing);
}

BCELoss::BCELoss(Tensor w, std::string r) : Loss("BCELoss", std::move(r), 2, kInputTarget) {
  weight = weight_buffer(*this, "weight", w);
}
Tensor BCELoss::compute(const TensorList& in) {
  return F::binary_cross_entropy(in[0], in[1], weight, reduction);
}

BCEWithLogitsLoss::BCEWithLogitsLoss(Tensor w, std::string r, Tensor pw)
    : Loss("BCEWithLogitsLoss", std::move(r), 2, kInputTarget) {
  weight = weight_buffer(*this, "weight", w);
  pos_weight = weight_buffer(*this, "pos_weight", pw);
}
Tensor BCEWithLogitsLoss::compute(const TensorList& in) {
  return F::binary_cross_entropy_with_logits(in[0], in[1], weight, reduction, pos_weight);
}

KLDivLoss::KLDivLoss(std::string r, bool log_target_)
    : Loss("KLDivLoss", std::move(r), 2, kInputTarget), log_target(log_target_) {}
Tensor KLDivLoss::compute(const TensorList& in) {
  return F::kl_div(in[0], in[1], reduction, log_target);
}

CosineEmbeddingLoss::CosineEmbeddingLoss(double m, std::string r)
    : Loss("CosineEmbeddingLoss", std::move(r), 3, "input1, input2, target"), margin(m) {}
Tensor CosineEmbeddingLoss::compute(const TensorList& in) {
  return F::cosine_embedding_loss(in[0], in[1], in[2], margin, reduction);
}

MarginRankingLoss::MarginRankingLoss(double m, std::string r)
    : Loss("MarginRankingLoss", std::move(r), 3, "input1, input2, target"), margin(m) {}
Tensor MarginRankingLoss::compute(const TensorList& in) {
  return F::margin_ranking_loss(in[0], in[1], in[2], margin, reduction);
}

TripletMarginLoss::TripletMarginLoss(double m, double p_, double eps_, bool swap_, std::string r)
    : Loss("TripletMarginLoss", std::move(r), 3, "anchor, positive, negative"),
      margin(m),
      p(p_),
      eps(eps_),
      swap(swap_) {}
Tensor TripletMarginLoss::compute(const TensorList& in) {
  return F::triplet_margin_loss(in[0], in[1], in[2], margin, p, eps, swap, reduction);
}

SoftMarginLoss::SoftMarginLoss(std::string r) : Loss("SoftMarginLoss", std::move(r), 2, kInputTarget) {}
Tensor SoftMarginLoss::compute(const TensorList& in) {
  return F::soft_margin_loss(in[0], in[1], reduction);
}

HingeEmbeddingLoss::HingeEmbeddingLoss(double m, std::string r)
    : Loss("HingeEmbeddingLoss", std::move(r), 2, kInputTarget), margin(m) {}
Tensor HingeEmbeddingLoss::compute(const TensorList& in) {
  return F::hinge_embedding_loss(in[0], in[1], margin, reduction);
}

PoissonNLLLoss::PoissonNLLLoss(bool log_input_, bool full_, double eps_, std::string r)
    : Loss("PoissonNLLLoss", std::move(r), 2, kInputTarget), log_input(log_input_), full(full_), eps(eps_) {}
Tensor PoissonNLLLoss::compute(const TensorList& in) {
  return F::poisson_nll_loss(in[0], in[1], log_input, full, eps, reduction);
}

GaussianNLLLoss::GaussianNLLLoss(bool full_, double eps_, std::string r)
    : Loss("GaussianNLLLoss", std::move(r), 3, "input, target, var"), full(full_), eps(eps_) {}
Tensor GaussianNLLLoss::compute(const TensorList& in) {
  return F::gaussian_nll_loss(in[0], in[1], in[2], full, eps, reduction);
}

CTCLoss::CTCLoss(int64_t blank_, std::string r, bool zero_infinity_)
    : Loss("CTCLoss", std::move(r), 4, "log_probs, targets, input_lengths, target_lengths"),
      blank(blank_),
      zero_infinity(zero_infinity_) {}
Tensor CTCLoss::operator()(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                           const Tensor& target_lengths) {
  return call({log_probs, targets, input_lengths, target_lengths}).at(0);
}
Tensor CTCLoss::compute(const TensorList& in) {
  return F::ctc_loss(in[0], in[1], in[2], in[3], blank, reduction, zero_infinity);
}

}  // namespace td::nn
