// Datasets of torch.utils.data.
#include "core/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace td::data {

int64_t wrap_sample_index(const char* what, int64_t index, int64_t n) {
  TD_CHECK(index >= -n && index < n, ErrorCode::kOutOfRange, "[", what, "] index ", index,
           " is out of range for a dataset of ", n, " samples");
  return index < 0 ? index + n : index;
}

Sample Dataset::get_batch(const std::vector<int64_t>& indices) const {
  std::vector<Sample> samples;
  samples.reserve(indices.size());
  for (int64_t i : indices) samples.push_back(get(i));
  return default_collate(samples);
}

Sample default_collate(const std::vector<Sample>& samples) {
  TD_CHECK_ARG(!samples.empty(), "[default_collate] cannot collate an empty batch");
  const size_t fields = samples[0].size();
  Sample batch;
  batch.reserve(fields);
  for (size_t f = 0; f < fields; ++f) {
    std::vector<Tensor> column;
    column.reserve(samples.size());
    for (size_t s = 0; s < samples.size(); ++s) {
      TD_CHECK_ARG(samples[s].size() == fields, "[default_collate] each element in list of batch should be of "
                   "equal size: sample 0 has ", fields, " fields, sample ", s, " has ", samples[s].size());
      TD_CHECK_ARG(samples[s][f].shape() == samples[0][f].shape(), "[default_collate] stack expects each tensor "
                   "to be equal size, but got ", shape_str(samples[0][f].shape()), " at entry 0 and ",
                   shape_str(samples[s][f].shape()), " at entry ", s, " (field ", f, ")");
      column.push_back(samples[s][f]);
    }
    batch.push_back(Tensor::stack(std::move(column), 0));
  }
  return batch;
}

TensorDataset::TensorDataset(std::vector<Tensor> tensors) : tensors_(std::move(tensors)) {
  TD_CHECK_ARG(!tensors_.empty(), "[TensorDataset] needs at least one tensor");
  for (size_t i = 0; i < tensors_.size(); ++i) {
    TD_CHECK_ARG(tensors_[i].dim() >= 1 && tensors_[i].size(0) == tensors_[0].size(0),
                 "[TensorDataset] Size mismatch between tensors: tensor 0 has shape ", shape_str(tensors_[0].shape()),
                 ", tensor ", i, " has shape ", shape_str(tensors_[i].shape()));
  }
}

int64_t TensorDataset::size() const { return tensors_[0].size(0); }

Sample TensorDataset::get(int64_t index) const {
  const int64_t i = wrap_sample_index("TensorDataset", index, size());
  Sample s;
  for (const Tensor& t : tensors_) s.push_back(t.select(0, i));
  return s;
}

Sample TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  TD_CHECK_ARG(!indices.empty(), "[TensorDataset] cannot fetch an empty batch");
  std::vector<int64_t> wrapped(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) wrapped[k] = wrap_sample_index("TensorDataset", indices[k], size());
  Sample s;
  for (const Tensor& t : tensors_) {
    s.push_back(t.index_select(0, tensor(wrapped, {static_cast<int64_t>(wrapped.size())}, t.device())));
  }
  return s;
}

Subset::Subset(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> indices)
    : dataset_(std::move(dataset)), indices_(std::move(indices)) {
  TD_CHECK_ARG(dataset_ != nullptr, "[Subset] dataset is null");
  const int64_t n = dataset_->size();
  for (int64_t& i : indices_) i = wrap_sample_index("Subset", i, n);
}

Sample Subset::get(int64_t index) const {
  return dataset_->get(indices_[wrap_sample_index("Subset", index, size())]);
}

Sample Subset::get_batch(const std::vector<int64_t>& indices) const {
  std::vector<int64_t> inner(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) inner[k] = indices_[wrap_sample_index("Subset", indices[k], size())];
  return dataset_->get_batch(inner);
}

ConcatDataset::ConcatDataset(std::vector<std::shared_ptr<const Dataset>> datasets) : datasets_(std::move(datasets)) {
  TD_CHECK_ARG(!datasets_.empty(), "[ConcatDataset] datasets should not be an empty iterable");
  int64_t total = 0;
  for (const auto& d : datasets_) {
    TD_CHECK_ARG(d != nullptr, "[ConcatDataset] a dataset is null");
    total += d->size();
    cumulative_.push_back(total);
  }
}

Sample ConcatDataset::get(int64_t index) const {
  const int64_t i = wrap_sample_index("ConcatDataset", index, size());
  const auto which = static_cast<size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), i) - cumulative_.begin());
  return datasets_[which]->get(which == 0 ? i : i - cumulative_[which - 1]);
}

std::vector<std::shared_ptr<Subset>> random_split(const std::shared_ptr<const Dataset>& dataset,
                                                  const std::vector<int64_t>& lengths, random::Generator* generator) {
  TD_CHECK_ARG(dataset != nullptr, "[random_split] dataset is null");
  const int64_t total = std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  TD_CHECK_ARG(total == dataset->size(), "[random_split] Sum of input lengths (", total,
               ") does not equal the length of the input dataset (", dataset->size(), ")");
  for (int64_t len : lengths) TD_CHECK_ARG(len >= 0, "[random_split] lengths must be non-negative, got ", len);
  Tensor perm = generator ? random::randperm(total, *generator) : random::randperm(total);
  const int64_t* p = perm.data<int64_t>();
  std::vector<std::shared_ptr<Subset>> out;
  int64_t offset = 0;
  for (int64_t len : lengths) {
    out.push_back(std::make_shared<Subset>(dataset, std::vector<int64_t>(p + offset, p + offset + len)));
    offset += len;
  }
  return out;
}

std::vector<std::shared_ptr<Subset>> random_split(const std::shared_ptr<const Dataset>& dataset,
                                                  const std::vector<double>& fractions, random::Generator* generator) {
  TD_CHECK_ARG(dataset != nullptr, "[random_split] dataset is null");
  const double sum = std::accumulate(fractions.begin(), fractions.end(), 0.0);
  TD_CHECK_ARG(std::abs(sum - 1) <= 1e-9, "[random_split] fractions must sum to 1, got ", sum);
  const int64_t n = dataset->size();
  std::vector<int64_t> lengths;
  for (double f : fractions) {
    TD_CHECK_ARG(f >= 0 && f <= 1, "[random_split] Fraction at index ", lengths.size(), " is not between 0 and 1");
    lengths.push_back(static_cast<int64_t>(std::floor(static_cast<double>(n) * f)));
  }
  int64_t remainder = n - std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  for (size_t i = 0; remainder > 0 && !lengths.empty(); i = (i + 1) % lengths.size(), --remainder) ++lengths[i];
  return random_split(dataset, lengths, generator);
}

}  // namespace td::data
