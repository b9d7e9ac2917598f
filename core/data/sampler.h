// torch.utils.data's samplers: each epoch, the order in which a loader visits a dataset's indices.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/random/generator.h"
#include "core/tensor.h"

namespace td::data {

/// Yields dataset indices, one epoch at a time (torch.utils.data.Sampler).
class Sampler {
 public:
  virtual ~Sampler() = default;
  /// The indices of the next epoch, in order; random samplers draw anew on each call.
  virtual std::vector<int64_t> epoch() = 0;
  /// How many indices an epoch yields (len(sampler)).
  virtual int64_t size() const = 0;
};

/// 0, 1, ..., n - 1 (SequentialSampler).
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(int64_t n);
  std::vector<int64_t> epoch() override;
  int64_t size() const override { return n_; }

 private:
  int64_t n_;
};

/// A random permutation of 0..n-1, or with replacement num_samples uniform draws (RandomSampler). Draws from
/// `generator` (which must outlive the sampler) or, when null, the current generator.
class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(int64_t n, bool replacement = false, std::optional<int64_t> num_samples = std::nullopt,
                         random::Generator* generator = nullptr);
  std::vector<int64_t> epoch() override;
  int64_t size() const override { return num_samples_; }

 private:
  int64_t n_, num_samples_;
  bool replacement_;
  random::Generator* generator_;
};

/// A random permutation of the given indices (SubsetRandomSampler).
class SubsetRandomSampler : public Sampler {
 public:
  explicit SubsetRandomSampler(std::vector<int64_t> indices, random::Generator* generator = nullptr);
  std::vector<int64_t> epoch() override;
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }

 private:
  std::vector<int64_t> indices_;
  random::Generator* generator_;
};

/// num_samples indices drawn with probabilities proportional to `weights` (WeightedRandomSampler).
class WeightedRandomSampler : public Sampler {
 public:
  WeightedRandomSampler(std::vector<double> weights, int64_t num_samples, bool replacement = true,
                        random::Generator* generator = nullptr);
  std::vector<int64_t> epoch() override;
  int64_t size() const override { return num_samples_; }

 private:
  Tensor weights_;
  int64_t num_samples_;
  bool replacement_;
  random::Generator* generator_;
};

/// Groups another sampler's indices into batches of batch_size; the last, shorter batch is dropped with
/// drop_last (BatchSampler).
class BatchSampler {
 public:
  BatchSampler(std::shared_ptr<Sampler> sampler, int64_t batch_size, bool drop_last);
  /// The batches of the next epoch.
  std::vector<std::vector<int64_t>> epoch();
  /// How many batches an epoch yields (len(batch_sampler)).
  int64_t size() const;

 private:
  std::shared_ptr<Sampler> sampler_;
  int64_t batch_size_;
  bool drop_last_;
};

}  // namespace td::data
