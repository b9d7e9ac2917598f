// Samplers: the permutations and draws come from td::random, so a seeded generator gives the same epochs.
#include "core/data/sampler.h"

#include "core/error.h"

namespace td::data {

namespace {
std::vector<int64_t> to_indices(const Tensor& t) {
  const Tensor c = t.to(DType::kInt64).contiguous();
  const int64_t* p = c.data<int64_t>();
  return std::vector<int64_t>(p, p + c.numel());
}

Tensor permutation(int64_t n, random::Generator* gen) {
  return gen ? random::randperm(n, *gen) : random::randperm(n);
}
}  // namespace

SequentialSampler::SequentialSampler(int64_t n) : n_(n) {
  TD_CHECK_ARG(n >= 0, "[SequentialSampler] size must be non-negative, got ", n);
}

std::vector<int64_t> SequentialSampler::epoch() {
  std::vector<int64_t> v(static_cast<size_t>(n_));
  for (int64_t i = 0; i < n_; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

RandomSampler::RandomSampler(int64_t n, bool replacement, std::optional<int64_t> num_samples,
                             random::Generator* generator)
    : n_(n), num_samples_(num_samples.value_or(n)), replacement_(replacement), generator_(generator) {
  TD_CHECK_ARG(n >= 0, "[RandomSampler] dataset size must be non-negative, got ", n);
  TD_CHECK_ARG(num_samples_ > 0 || !num_samples, "[RandomSampler] num_samples should be a positive integer value, "
               "but got num_samples=", num_samples_);
  TD_CHECK_ARG(replacement || !num_samples || *num_samples == n, "[RandomSampler] num_samples (", num_samples_,
               ") differs from the dataset size (", n, "): that needs replacement=True");
}

std::vector<int64_t> RandomSampler::epoch() {
  if (replacement_) {
    TD_CHECK_ARG(n_ > 0, "[RandomSampler] cannot draw from an empty dataset");
    Tensor draws = generator_ ? random::randint(0, n_, {num_samples_}, *generator_)
                              : random::randint(0, n_, {num_samples_});
    return to_indices(draws);
  }
  return to_indices(permutation(n_, generator_));
}

SubsetRandomSampler::SubsetRandomSampler(std::vector<int64_t> indices, random::Generator* generator)
    : indices_(std::move(indices)), generator_(generator) {}

std::vector<int64_t> SubsetRandomSampler::epoch() {
  std::vector<int64_t> order = to_indices(permutation(size(), generator_));
  for (int64_t& i : order) i = indices_[static_cast<size_t>(i)];
  return order;
}

WeightedRandomSampler::WeightedRandomSampler(std::vector<double> weights, int64_t num_samples, bool replacement,
                                             random::Generator* generator)
    : num_samples_(num_samples), replacement_(replacement), generator_(generator) {
  TD_CHECK_ARG(num_samples > 0, "[WeightedRandomSampler] num_samples should be a positive integer value, but got "
               "num_samples=", num_samples);
  TD_CHECK_ARG(!weights.empty(), "[WeightedRandomSampler] weights must not be empty");
  weights_ = tensor(weights, {static_cast<int64_t>(weights.size())});
}

std::vector<int64_t> WeightedRandomSampler::epoch() {
  Tensor draws = generator_ ? random::multinomial(weights_, num_samples_, replacement_, *generator_)
                            : random::multinomial(weights_, num_samples_, replacement_);
  return to_indices(draws);
}

BatchSampler::BatchSampler(std::shared_ptr<Sampler> sampler, int64_t batch_size, bool drop_last)
    : sampler_(std::move(sampler)), batch_size_(batch_size), drop_last_(drop_last) {
  TD_CHECK_ARG(sampler_ != nullptr, "[BatchSampler] sampler is null");
  TD_CHECK_ARG(batch_size > 0, "[BatchSampler] batch_size should be a positive integer value, but got batch_size=",
               batch_size);
}

std::vector<std::vector<int64_t>> BatchSampler::epoch() {
  std::vector<int64_t> order = sampler_->epoch();
  std::vector<std::vector<int64_t>> batches;
  const auto b = static_cast<size_t>(batch_size_);
  for (size_t start = 0; start < order.size(); start += b) {
    const size_t end = std::min(order.size(), start + b);
    if (end - start < b && drop_last_) break;
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                         order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return batches;
}

int64_t BatchSampler::size() const {
  const int64_t n = sampler_->size();
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

}  // namespace td::data
