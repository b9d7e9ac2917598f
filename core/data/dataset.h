// td::data: torch.utils.data's datasets. A sample is a list of tensors (PyTorch's tuple: image and label);
// a dataset maps an index in [0, size()) to one.
//
//   auto ds = std::make_shared<td::data::TensorDataset>(std::vector<td::Tensor>{x, y});
//   auto [train, val] = td::data::random_split(ds, {0.8, 0.2}) ...
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/random/generator.h"
#include "core/tensor.h"

namespace td::data {

/// One item of a dataset, or one batch of a loader: the fields in order (image, label, ...).
using Sample = std::vector<Tensor>;

/// A map-style dataset (torch.utils.data.Dataset): size() and get(i).
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// The number of samples (len(dataset)).
  virtual int64_t size() const = 0;
  /// The sample at index in [0, size()) (dataset[index]).
  virtual Sample get(int64_t index) const = 0;
  /// The samples at these indices, collated into a batch; by default get() on each then default_collate.
  /// Datasets whose fields are already tensors override it with one gather per field.
  virtual Sample get_batch(const std::vector<int64_t>& indices) const;
};

/// Stacks each field of the samples along a new first dim (default_collate for tensors; numbers are 0-dim
/// tensors and become a 1-d tensor). All samples must have the same fields and shapes.
Sample default_collate(const std::vector<Sample>& samples);

/// Samples are the i-th rows of each tensor (torch.utils.data.TensorDataset); all must share size(0).
class TensorDataset : public Dataset {
 public:
  explicit TensorDataset(std::vector<Tensor> tensors);
  int64_t size() const override;
  Sample get(int64_t index) const override;
  Sample get_batch(const std::vector<int64_t>& indices) const override;
  const std::vector<Tensor>& tensors() const { return tensors_; }

 private:
  std::vector<Tensor> tensors_;
};

/// The samples of `dataset` at `indices`, in that order (torch.utils.data.Subset).
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Sample get(int64_t index) const override;
  Sample get_batch(const std::vector<int64_t>& indices) const override;
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> dataset_;
  std::vector<int64_t> indices_;
};

/// The datasets one after the other (torch.utils.data.ConcatDataset).
class ConcatDataset : public Dataset {
 public:
  explicit ConcatDataset(std::vector<std::shared_ptr<const Dataset>> datasets);
  int64_t size() const override { return cumulative_.empty() ? 0 : cumulative_.back(); }
  Sample get(int64_t index) const override;

 private:
  std::vector<std::shared_ptr<const Dataset>> datasets_;
  std::vector<int64_t> cumulative_;
};

/// Splits a dataset into non-overlapping random subsets of the given lengths, which must sum to its size
/// (torch.utils.data.random_split); the permutation draws from `generator` (the current one by default).
std::vector<std::shared_ptr<Subset>> random_split(const std::shared_ptr<const Dataset>& dataset,
                                                  const std::vector<int64_t>& lengths,
                                                  random::Generator* generator = nullptr);
/// random_split with fractions summing to 1: floor(n * f) each, the remainder handed out one by one from the
/// first subset on, as PyTorch 1.13 does.
std::vector<std::shared_ptr<Subset>> random_split(const std::shared_ptr<const Dataset>& dataset,
                                                  const std::vector<double>& fractions,
                                                  random::Generator* generator = nullptr);

/// A Python-style index (negative counts from the end) checked against n; `what` names the dataset.
int64_t wrap_sample_index(const char* what, int64_t index, int64_t n);

}  // namespace td::data
