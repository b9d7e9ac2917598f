// td::data (core/data/): datasets, samplers, random_split, collate, and the DataLoader with and without
// worker threads: every epoch visits each index once, in the sampler's order, batches keep their order with
// workers, a seeded generator repeats its epochs, and a worker's exception reaches the consumer. Also the
// loop utilities: the progress bar and the process-wide thread count.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

#include "core/cuda.h"
#include "core/data/dataloader.h"
#include "core/data/dataset.h"
#include "core/data/sampler.h"
#include "core/error.h"
#include "core/progress_bar.h"
#include "core/threads.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::error_of;

std::vector<int64_t> values(const Tensor& t) {
  Tensor c = t.to(DType::kInt64).contiguous();
  return std::vector<int64_t>(c.data<int64_t>(), c.data<int64_t>() + c.numel());
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

// x[i] = [i, 10 i], y[i] = i: a batch's rows say which samples it holds.
std::shared_ptr<data::TensorDataset> numbered(int64_t n) {
  std::vector<int64_t> x;
  for (int64_t i = 0; i < n; ++i) x.insert(x.end(), {i, 10 * i});
  return std::make_shared<data::TensorDataset>(std::vector<Tensor>{tensor(x, {n, 2}), tensor(iota(n), {n})});
}

TEST(DatasetTest, TensorDatasetSubsetConcat) {
  auto ds = numbered(5);
  EXPECT_EQ(ds->size(), 5);
  data::Sample s = ds->get(-1);
  EXPECT_THAT(values(s[0]), ElementsAre(4, 40));
  EXPECT_THAT(values(s[1]), ElementsAre(4));
  EXPECT_THAT(std::string(error_of([&] { ds->get(5); }).what()),
              HasSubstr("[TensorDataset] index 5 is out of range for a dataset of 5 samples"));
  EXPECT_THAT(std::string(error_of([] { data::TensorDataset({zeros({3}), zeros({4})}); }).what()),
              HasSubstr("Size mismatch between tensors"));

  auto sub = std::make_shared<data::Subset>(ds, std::vector<int64_t>{4, 0, 2});
  EXPECT_EQ(sub->size(), 3);
  EXPECT_THAT(values(sub->get(0)[1]), ElementsAre(4));
  EXPECT_THAT(values(sub->get_batch({2, 1})[1]), ElementsAre(2, 0));

  data::ConcatDataset cat({ds, sub});
  EXPECT_EQ(cat.size(), 8);
  EXPECT_THAT(values(cat.get(4)[1]), ElementsAre(4));
  EXPECT_THAT(values(cat.get(5)[1]), ElementsAre(4));
  EXPECT_THAT(values(cat.get(7)[1]), ElementsAre(2));
  // The generic batch path: get() per index, then default_collate stacks each field.
  data::Sample b = cat.get_batch({6, 1});
  EXPECT_EQ(b[0].shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_THAT(values(b[0]), ElementsAre(0, 0, 1, 10));
}

TEST(DatasetTest, DefaultCollateChecksShapes) {
  EXPECT_THAT(std::string(error_of([] { data::default_collate({{zeros({2})}, {zeros({3})}}); }).what()),
              HasSubstr("stack expects each tensor to be equal size, but got [2] at entry 0 and [3] at entry 1"));
  EXPECT_THAT(std::string(error_of([] { data::default_collate({{zeros({2})}, {zeros({2}), zeros({1})}}); }).what()),
              HasSubstr("each element in list of batch should be of equal size"));
}

TEST(DatasetTest, RandomSplitIsAPartitionAndRepeatsWithASeed) {
  auto ds = numbered(10);
  random::Generator gen(42);
  auto parts = data::random_split(ds, std::vector<int64_t>{3, 7}, &gen);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0]->size(), 3);
  EXPECT_EQ(parts[1]->size(), 7);
  std::set<int64_t> seen(parts[0]->indices().begin(), parts[0]->indices().end());
  seen.insert(parts[1]->indices().begin(), parts[1]->indices().end());
  EXPECT_EQ(seen.size(), 10u);
  random::Generator again(42);
  EXPECT_EQ(data::random_split(ds, std::vector<int64_t>{3, 7}, &again)[0]->indices(), parts[0]->indices());
  // Fractions: floor(10 * f) = 3, 3, 3, and the one left over goes to the first.
  auto thirds = data::random_split(ds, std::vector<double>{1.0 / 3, 1.0 / 3, 1.0 / 3}, &gen);
  EXPECT_EQ(thirds[0]->size(), 4);
  EXPECT_EQ(thirds[1]->size(), 3);
  EXPECT_THAT(std::string(error_of([&] { data::random_split(ds, std::vector<int64_t>{3, 3}); }).what()),
              HasSubstr("Sum of input lengths (6) does not equal the length of the input dataset (10)"));
}

TEST(SamplerTest, OrdersAndBatches) {
  EXPECT_THAT(data::SequentialSampler(4).epoch(), ElementsAre(0, 1, 2, 3));
  random::Generator gen(7);
  data::RandomSampler rs(6, false, std::nullopt, &gen);
  std::vector<int64_t> a = rs.epoch(), b = rs.epoch();
  EXPECT_NE(a, b);  // a new permutation each epoch
  std::sort(a.begin(), a.end());
  EXPECT_EQ(a, iota(6));
  data::RandomSampler with_replacement(3, true, 50, &gen);
  std::vector<int64_t> draws = with_replacement.epoch();
  EXPECT_EQ(draws.size(), 50u);
  EXPECT_TRUE(std::all_of(draws.begin(), draws.end(), [](int64_t i) { return i >= 0 && i < 3; }));
  // Weight 0 is never drawn.
  data::WeightedRandomSampler weighted({0.0, 1.0, 3.0}, 200, true, &gen);
  std::vector<int64_t> w = weighted.epoch();
  EXPECT_EQ(std::count(w.begin(), w.end(), 0), 0);
  EXPECT_GT(std::count(w.begin(), w.end(), 2), std::count(w.begin(), w.end(), 1));
  data::SubsetRandomSampler subset({5, 9}, &gen);
  std::vector<int64_t> s = subset.epoch();
  std::sort(s.begin(), s.end());
  EXPECT_THAT(s, ElementsAre(5, 9));

  data::BatchSampler keep(std::make_shared<data::SequentialSampler>(7), 3, false);
  EXPECT_EQ(keep.size(), 3);
  auto batches = keep.epoch();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_THAT(batches[2], ElementsAre(6));
  data::BatchSampler drop(std::make_shared<data::SequentialSampler>(7), 3, true);
  EXPECT_EQ(drop.size(), 2);
  EXPECT_EQ(drop.epoch().size(), 2u);
  EXPECT_THAT(std::string(error_of([] { data::BatchSampler(std::make_shared<data::SequentialSampler>(3), 0, false); }).what()),
              HasSubstr("batch_size should be a positive integer value, but got batch_size=0"));
}

// Every index once per epoch, in batches of batch_size (the last shorter unless dropped).
void expect_epoch_covers(data::DataLoader& loader, int64_t n, int64_t batch, bool drop_last) {
  std::vector<int64_t> seen;
  int64_t count = 0;
  for (const data::Sample& b : loader) {
    ++count;
    std::vector<int64_t> ids = values(b[1]);
    EXPECT_TRUE(static_cast<int64_t>(ids.size()) == batch || (!drop_last && count == loader.size()));
    // Fields stay aligned: x = [i, 10 i].
    EXPECT_EQ(values(b[0].select(1, 1)), values(b[1].mul(10)));
    seen.insert(seen.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(count, loader.size());
  std::sort(seen.begin(), seen.end());
  if (!drop_last) {
    EXPECT_EQ(seen, iota(n));
  }
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), seen.size());
}

TEST(DataLoaderTest, SequentialShuffledAndWithWorkers) {
  auto ds = numbered(23);
  data::DataLoader plain(ds, {.batch_size = 5});
  EXPECT_EQ(plain.size(), 5);
  std::vector<int64_t> first;
  for (const auto& b : plain) {
    first = values(b[1]);
    break;
  }
  EXPECT_THAT(first, ElementsAre(0, 1, 2, 3, 4));
  expect_epoch_covers(plain, 23, 5, false);

  for (int workers : {0, 1, 3}) {
    SCOPED_TRACE(workers);
    random::Generator gen(3);
    data::DataLoader shuffled(ds, {.batch_size = 4, .shuffle = true, .drop_last = true, .num_workers = workers,
                                   .generator = &gen});
    EXPECT_EQ(shuffled.size(), 5);
    expect_epoch_covers(shuffled, 23, 4, true);
    // The same seed gives the same epochs, with or without workers.
    random::Generator g1(11), g2(11);
    data::DataLoader l1(ds, {.batch_size = 4, .shuffle = true, .num_workers = workers, .generator = &g1});
    data::DataLoader l2(ds, {.batch_size = 4, .shuffle = true, .num_workers = 0, .generator = &g2});
    std::vector<int64_t> o1, o2;
    for (const auto& b : l1) for (int64_t i : values(b[1])) o1.push_back(i);
    for (const auto& b : l2) for (int64_t i : values(b[1])) o2.push_back(i);
    EXPECT_EQ(o1, o2);
  }
}

// pin_memory: batches in pinned memory with a GPU (values unchanged, workers or not); turned off without.
TEST(DataLoaderTest, PinMemoryPinsBatchesWhereACudaDeviceIs) {
  auto ds = numbered(10);
  for (int workers : {0, 2}) {
    data::DataLoader loader(ds, {.batch_size = 4, .num_workers = workers, .pin_memory = true});
    EXPECT_EQ(loader.options().pin_memory, cuda::is_available());
    std::vector<int64_t> ids;
    for (const auto& b : loader) {
      for (const Tensor& t : b) EXPECT_EQ(t.is_pinned(), cuda::is_available());
      for (int64_t i : values(b[1])) ids.push_back(i);
    }
    EXPECT_EQ(ids, iota(10));
  }
}

// A dataset whose sample 7 throws, counting fetches.
class Faulty : public data::Dataset {
 public:
  int64_t size() const override { return 20; }
  data::Sample get(int64_t i) const override {
    ++fetched;
    if (i == 7) throw Error(ErrorCode::kInvalidArgument, "[Faulty] sample 7 is corrupt");
    return {scalar_tensor(Scalar(i))};
  }
  mutable std::atomic<int> fetched{0};
};

TEST(DataLoaderTest, WorkerErrorsReachTheConsumerAndBreakingStopsWorkers) {
  auto ds = std::make_shared<Faulty>();
  data::DataLoader loader(ds, {.batch_size = 2, .num_workers = 2});
  int batches = 0;
  EXPECT_THAT(std::string(error_of([&] {
                for (const auto& b : loader) {
                  (void)b;
                  ++batches;
                }
              }).what()),
              HasSubstr("[Faulty] sample 7 is corrupt"));
  EXPECT_EQ(batches, 3);  // batches 0..2 arrive in order; batch 3 holds sample 7
  // Leaving the loop early joins the workers; a bounded prefetch fetched at most a few batches.
  data::DataLoader small(ds, {.batch_size = 1, .num_workers = 2, .prefetch_factor = 1});
  ds->fetched = 0;
  for (const auto& b : small) {
    (void)b;
    break;
  }
  EXPECT_LE(ds->fetched.load(), 4);
  EXPECT_THAT(std::string(error_of([&] { data::DataLoader(ds, {.shuffle = true, .sampler = std::make_shared<data::SequentialSampler>(20)}); }).what()),
              HasSubstr("sampler option is mutually exclusive with shuffle"));
}

}  // namespace
}  // namespace td

namespace td {
namespace {

// The training-loop progress bar: its line, the smoothed loss, and what it writes to its stream.
TEST(ProgressBarTest, DrawsTheBarStepsLossAndRateInPlace) {
  char* text = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  {
    ProgressBar bar(10, "epoch 1", out);
    bar.update(5, 2.0);
    EXPECT_THAT(bar.line(), ::testing::StartsWith("epoch 1 [===============>              ] 5/10 loss 2.0000 "));
    EXPECT_THAT(bar.line(), ::testing::EndsWith(" it/s"));
    bar.update(10, 1.0);  // smoothed: 0.8 * 2 + 0.2 * 1
    EXPECT_DOUBLE_EQ(*bar.smoothed_loss(), 1.8);
    EXPECT_THAT(bar.line(), ::testing::HasSubstr("[==============================] 10/10 loss 1.8000"));
    ProgressBar unknown(0, "", nullptr);
    unknown.update(7);
    EXPECT_THAT(unknown.line(), ::testing::MatchesRegex("7 [0-9.]+ it/s"));
  }
  std::fclose(out);
  const std::string written(text, size);
  std::free(text);
  EXPECT_EQ(written.front(), '\r');  // redrawn in place, then one newline at the end
  EXPECT_EQ(std::count(written.begin(), written.end(), '\r'), 2);
  EXPECT_EQ(written.back(), '\n');
}

}  // namespace
}  // namespace td

namespace td {
namespace {

// torch.set_num_threads is process-wide: a thread started elsewhere (a server executor, a loader worker)
// takes the count once it syncs, though OpenMP keeps its setting per thread.
TEST(NumThreadsTest, SetNumThreadsReachesOtherThreads) {
  const int before = get_num_threads();
  set_num_threads(3);
  int seen = 0, synced = 0;
  std::thread([&] {
    seen = get_num_threads();
    sync_num_threads();
    synced = omp_get_max_threads();
  }).join();
  EXPECT_EQ(seen, 3);
  EXPECT_EQ(synced, 3);
  set_num_threads(before);
  EXPECT_EQ(get_num_threads(), before);
  EXPECT_THROW(set_num_threads(0), Error);
}

}  // namespace
}  // namespace td
