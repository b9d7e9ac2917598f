// DataLoader. Batch k of an epoch is fetched by worker k mod num_workers, so each worker's random draws (from
// its own generator, seeded per epoch) and hence the epoch's batches are the same from run to run. The
// consumer takes batches strictly in order; a worker runs at most prefetch_factor batches ahead of it.
#include "core/data/dataloader.h"

#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "core/autograd/grad_mode.h"
#include "core/cuda.h"
#include "core/error.h"
#include "core/threads.h"

namespace td::data {

namespace {
const Dataset& checked(const std::shared_ptr<const Dataset>& dataset) {
  TD_CHECK_ARG(dataset != nullptr, "[DataLoader] dataset is null");
  return *dataset;
}

std::shared_ptr<Sampler> make_sampler(const Dataset& dataset, const DataLoaderOptions& o) {
  TD_CHECK_ARG(!(o.shuffle && o.sampler), "[DataLoader] sampler option is mutually exclusive with shuffle");
  TD_CHECK_ARG(o.num_workers >= 0, "[DataLoader] num_workers option should be non-negative; use num_workers=0 to "
               "disable multiprocessing, got ", o.num_workers);
  TD_CHECK_ARG(o.prefetch_factor > 0, "[DataLoader] prefetch_factor must be positive, got ", o.prefetch_factor);
  if (o.sampler) return o.sampler;
  if (o.shuffle) return std::make_shared<RandomSampler>(dataset.size(), false, std::nullopt, o.generator);
  return std::make_shared<SequentialSampler>(dataset.size());
}

Sample pinned(Sample batch, bool pin) {
  if (pin) {
    for (Tensor& t : batch) {
      if (t.defined() && t.device().is_cpu()) t = t.pin_memory();
    }
  }
  return batch;
}

Sample fetch(const Dataset& dataset, const DataLoaderOptions& o, const std::vector<int64_t>& indices) {
  autograd::NoGradGuard no_grad;
  if (!o.collate_fn) return pinned(dataset.get_batch(indices), o.pin_memory);
  std::vector<Sample> samples;
  samples.reserve(indices.size());
  for (int64_t i : indices) samples.push_back(dataset.get(i));
  return pinned(o.collate_fn(samples), o.pin_memory);
}
}  // namespace

// The state of one epoch, shared by the iterator and the worker threads.
struct DataLoader::Epoch {
  std::shared_ptr<const Dataset> dataset;
  DataLoaderOptions options;
  std::vector<std::vector<int64_t>> batches;
  size_t next = 0;  // the batch the consumer takes next

  // With workers:
  std::mutex mutex;
  std::condition_variable ready_cv, room_cv;
  std::map<size_t, Sample> ready;
  std::map<size_t, std::exception_ptr> failed;
  bool stopping = false;
  std::vector<std::thread> workers;

  ~Epoch() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    room_cv.notify_all();
    for (auto& t : workers) t.join();
  }

  void start_workers() {
    const auto n = static_cast<size_t>(options.num_workers);
    // One seed per worker and epoch, drawn from the loader's generator (torch's base_seed + worker_id).
    Tensor seeds = options.generator ? random::randint(0, int64_t{1} << 62, {1}, *options.generator)
                                     : random::randint(0, int64_t{1} << 62, {1});
    const auto base_seed = static_cast<uint64_t>(seeds.data<int64_t>()[0]);
    const size_t ahead = n * static_cast<size_t>(options.prefetch_factor);
    for (size_t w = 0; w < n; ++w) {
      workers.emplace_back([this, w, n, ahead, seed = base_seed + w] {
        sync_num_threads();  // the process's torch.set_num_threads, on this thread too
        random::Generator gen(seed);
        random::GeneratorGuard use(gen);
        for (size_t k = w; k < batches.size(); k += n) {
          {
            std::unique_lock lock(mutex);
            room_cv.wait(lock, [&] { return stopping || k < next + ahead; });
            if (stopping) return;
          }
          Sample batch;
          std::exception_ptr error;
          try {
            batch = fetch(*dataset, options, batches[k]);
          } catch (...) {
            error = std::current_exception();
          }
          {
            std::lock_guard lock(mutex);
            if (error) {
              failed[k] = error;
            } else {
              ready[k] = std::move(batch);
            }
          }
          ready_cv.notify_all();
          if (error) return;
        }
      });
    }
  }

  // The next batch, or false at the end; rethrows a worker's exception for the batch it failed on.
  bool take(Sample& out) {
    if (next >= batches.size()) return false;
    if (workers.empty()) {
      out = fetch(*dataset, options, batches[next++]);
      return true;
    }
    std::unique_lock lock(mutex);
    ready_cv.wait(lock, [&] { return ready.count(next) || failed.count(next); });
    if (auto f = failed.find(next); f != failed.end()) {
      std::exception_ptr error = f->second;
      next = batches.size();
      lock.unlock();
      std::rethrow_exception(error);
    }
    out = std::move(ready[next]);
    ready.erase(next);
    ++next;
    lock.unlock();
    room_cv.notify_all();
    return true;
  }
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)),
      batch_sampler_(make_sampler(checked(dataset_), options_), options_.batch_size, options_.drop_last) {
  if (options_.pin_memory && !cuda::is_available()) options_.pin_memory = false;
}

DataLoader::~DataLoader() = default;

DataLoader::Iterator DataLoader::begin() {
  auto epoch = std::make_shared<Epoch>();
  epoch->dataset = dataset_;
  epoch->options = options_;
  epoch->batches = batch_sampler_.epoch();
  if (options_.num_workers > 0 && !epoch->batches.empty()) epoch->start_workers();
  return Iterator(std::move(epoch));
}

DataLoader::Iterator::Iterator(std::shared_ptr<Epoch> epoch) : epoch_(std::move(epoch)), done_(false) { ++*this; }

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  if (!epoch_ || !epoch_->take(current_)) {
    done_ = true;
    current_.clear();
    epoch_.reset();
  }
  return *this;
}

}  // namespace td::data
