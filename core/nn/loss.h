// The loss layers of torch.nn (MSELoss ... GaussianNLLLoss, CTCLoss) over the registry ops of
// core/ops/loss.cpp, with PyTorch's names, argument order (less the deprecated size_average and reduce) and
// defaults. A loss is called with its tensors, `loss(input, target)` or `loss(anchor, positive, negative)`,
// through Module::call, so module hooks see it as in PyTorch. Class weights are buffers named "weight" (and
// "pos_weight"), as PyTorch registers them: they follow to() and appear in the state_dict when given.
#pragma once

#include <cstdint>
#include <string>

#include "core/nn/module.h"

namespace td::nn {

/// Base of the loss layers (torch.nn.modules.loss._Loss): the reduction ("none", "mean" or "sum", checked
/// when called) and the calls with two or three tensors.
class Loss : public Module {
 public:
  /// Module.__call__(input, target).
  Tensor operator()(const Tensor& input, const Tensor& target);
  /// Module.__call__ with three tensors (CosineEmbeddingLoss, MarginRankingLoss, TripletMarginLoss,
  /// GaussianNLLLoss).
  Tensor operator()(const Tensor& a, const Tensor& b, const Tensor& c);
  /// Checks the number of inputs and computes the loss.
  TensorList forward_list(const TensorList& inputs) override;

  std::string reduction;

 protected:
  /// `arity`: how many tensors forward takes; `names` lists them for the error message ("input, target").
  Loss(std::string type_name, std::string reduction, size_t arity, std::string names);
  /// The loss of exactly `arity` tensors.
  virtual Tensor compute(const TensorList& inputs) = 0;

 private:
  size_t arity_;
  std::string names_;
};

/// Mean squared error (nn.MSELoss).
class MSELoss : public Loss {
 public:
  explicit MSELoss(std::string reduction = "mean");

 protected:
  Tensor compute(const TensorList& in) override;
};

/// Mean absolute error (nn.L1Loss).
class L1Loss : public Loss {
 public:
  explicit L1Loss(std::string reduction = "mean");

 protected:
  Tensor compute(const TensorList& in) override;
};

/// Squared error below beta, absolute error above, joined smoothly (nn.SmoothL1Loss).
class SmoothL1Loss : public Loss {
 public:
  explicit SmoothL1Loss(std::string reduction = "mean", double beta = 1.0);
  double beta;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// SmoothL1Loss scaled by delta: 0.5 d^2 below delta, delta (|d| - 0.5 delta) above (nn.HuberLoss).
class HuberLoss : public Loss {
 public:
  explicit HuberLoss(std::string reduction = "mean", double delta = 1.0);
  double delta;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// Negative log-likelihood of class indices given log-probabilities [N, C, ...] (nn.NLLLoss).
class NLLLoss : public Loss {
 public:
  explicit NLLLoss(Tensor weight = {}, int64_t ignore_index = -100, std::string reduction = "mean");
  Tensor weight;  // [C] or undefined; the buffer "weight"
  int64_t ignore_index;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// log_softmax + NLLLoss; targets are class indices or class probabilities of the input's shape
/// (nn.CrossEntropyLoss).
class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(Tensor weight = {}, int64_t ignore_index = -100, std::string reduction = "mean",
                            double label_smoothing = 0.0);
  Tensor weight;
  int64_t ignore_index;
  double label_smoothing;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// Binary cross entropy of probabilities (nn.BCELoss).
class BCELoss : public Loss {
 public:
  explicit BCELoss(Tensor weight = {}, std::string reduction = "mean");
  Tensor weight;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// Sigmoid + BCELoss, computed stably from logits; pos_weight weighs the positive class
/// (nn.BCEWithLogitsLoss).
class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(Tensor weight = {}, std::string reduction = "mean", Tensor pos_weight = {});
  Tensor weight, pos_weight;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// Kullback-Leibler divergence of log-probabilities from a target; reduction may be "batchmean"
/// (nn.KLDivLoss).
class KLDivLoss : public Loss {
 public:
  explicit KLDivLoss(std::string reduction = "mean", bool log_target = false);
  bool log_target;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// 1 - cos for similar pairs (target 1), max(0, cos - margin) for dissimilar ones (-1)
/// (nn.CosineEmbeddingLoss).
class CosineEmbeddingLoss : public Loss {
 public:
  explicit CosineEmbeddingLoss(double margin = 0.0, std::string reduction = "mean");
  double margin;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// max(0, -target (x1 - x2) + margin) (nn.MarginRankingLoss).
class MarginRankingLoss : public Loss {
 public:
  explicit MarginRankingLoss(double margin = 0.0, std::string reduction = "mean");
  double margin;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// max(0, margin + d(a, p) - d(a, n)) with the pairwise p-distance d (nn.TripletMarginLoss).
class TripletMarginLoss : public Loss {
 public:
  explicit TripletMarginLoss(double margin = 1.0, double p = 2.0, double eps = 1e-6, bool swap = false,
                             std::string reduction = "mean");
  double margin, p, eps;
  bool swap;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// log(1 + exp(-target * input)) (nn.SoftMarginLoss).
class SoftMarginLoss : public Loss {
 public:
  explicit SoftMarginLoss(std::string reduction = "mean");

 protected:
  Tensor compute(const TensorList& in) override;
};

/// input where target is 1, max(0, margin - input) where it is -1 (nn.HingeEmbeddingLoss).
class HingeEmbeddingLoss : public Loss {
 public:
  explicit HingeEmbeddingLoss(double margin = 1.0, std::string reduction = "mean");
  double margin;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// Negative log-likelihood of a Poisson target (nn.PoissonNLLLoss).
class PoissonNLLLoss : public Loss {
 public:
  explicit PoissonNLLLoss(bool log_input = true, bool full = false, double eps = 1e-8,
                          std::string reduction = "mean");
  bool log_input, full;
  double eps;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// Negative log-likelihood of a Gaussian target with predicted mean and variance, called as
/// loss(input, target, var) (nn.GaussianNLLLoss).
class GaussianNLLLoss : public Loss {
 public:
  explicit GaussianNLLLoss(bool full = false, double eps = 1e-6, std::string reduction = "mean");
  bool full;
  double eps;

 protected:
  Tensor compute(const TensorList& in) override;
};

/// Connectionist temporal classification, called as loss(log_probs, targets, input_lengths, target_lengths)
/// with the lengths as integer tensors (nn.CTCLoss).
class CTCLoss : public Loss {
 public:
  explicit CTCLoss(int64_t blank = 0, std::string reduction = "mean", bool zero_infinity = false);
  /// Module.__call__ with the four tensors.
  Tensor operator()(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                    const Tensor& target_lengths);
  using Loss::operator();
  int64_t blank;
  bool zero_infinity;

 protected:
  Tensor compute(const TensorList& in) override;
};

}  // namespace td::nn
