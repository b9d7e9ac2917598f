// td::data::DataLoader: batches of a dataset in a sampler's order (torch.utils.data.DataLoader), fetched on
// the calling thread or, with num_workers > 0, by worker threads that prefetch up to
// prefetch_factor * num_workers batches ahead.
//
//   td::data::DataLoader loader(train_set, {.batch_size = 64, .shuffle = true});
//   for (const td::data::Sample& batch : loader) { auto& images = batch[0]; auto& labels = batch[1]; ... }
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/data/dataset.h"
#include "core/data/sampler.h"

namespace td::data {

/// DataLoader's arguments, with PyTorch's names and defaults.
struct DataLoaderOptions {
  int64_t batch_size = 1;
  /// A new random order each epoch (a RandomSampler); excludes `sampler`.
  bool shuffle = false;
  /// The order to visit; SequentialSampler when null and shuffle is false.
  std::shared_ptr<Sampler> sampler = nullptr;
  /// Drop the last batch when it is shorter than batch_size.
  bool drop_last = false;
  /// Makes a batch from the samples; default_collate (or the dataset's get_batch) when unset.
  std::function<Sample(const std::vector<Sample>&)> collate_fn = nullptr;
  /// Threads that fetch batches ahead; 0 fetches on the iterating thread.
  int num_workers = 0;
  /// Batches each worker may have fetched ahead of the consumer.
  int prefetch_factor = 2;
  /// Shuffling and the workers' seeds draw from it (it must outlive the loader); the current generator when
  /// null. Each worker draws its random transforms from its own generator, seeded from this one per epoch.
  random::Generator* generator = nullptr;
  /// Each batch's CPU tensors come in pinned memory (Tensor.pin_memory), so that to(device, non_blocking=true)
  /// does not make the host wait. Without a CUDA device it is turned off (options().pin_memory reads false),
  /// where PyTorch warns and goes on unpinned.
  bool pin_memory = false;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// The number of batches an epoch yields (len(loader)).
  int64_t size() const { return batch_sampler_.size(); }
  const Dataset& dataset() const { return *dataset_; }
  const DataLoaderOptions& options() const { return options_; }

  struct Epoch;
  /// One epoch's batches, in order; destroying it (or breaking out of the loop) stops its workers.
  class Iterator {
   public:
    using value_type = Sample;
    using difference_type = std::ptrdiff_t;
    const Sample& operator*() const { return current_; }
    const Sample* operator->() const { return &current_; }
    Iterator& operator++();
    bool operator==(const Iterator& other) const { return done_ == other.done_; }

   private:
    friend class DataLoader;
    Iterator() = default;
    explicit Iterator(std::shared_ptr<Epoch> epoch);
    std::shared_ptr<Epoch> epoch_;
    Sample current_;
    bool done_ = true;
  };
  /// Starts an epoch: draws the order and, with workers, starts them.
  Iterator begin();
  Iterator end() { return Iterator(); }

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  BatchSampler batch_sampler_;
};

}  // namespace td::data
