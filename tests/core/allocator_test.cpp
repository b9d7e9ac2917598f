// The caching allocator over a counting fake device, and the CPU backend's use of it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "core/backend.h"
#include "core/cuda.h"
#include "core/error.h"
#include "core/tensor.h"
#include "kernels/caching_allocator.h"
#include "kernels/cpu/small_blocks.h"
#include "tests/core/golden_json.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using kernels::CachingAllocator;
constexpr size_t kMiB = size_t{1} << 20;

// A device with `capacity` bytes that records every raw allocation.
struct FakeDevice {
  explicit FakeDevice(size_t bytes) : capacity(bytes) {}
  size_t capacity;
  size_t used = 0;
  int raw_allocs = 0, raw_frees = 0;
  std::map<void*, size_t> live;

  // Events complete when the test says so (complete_all), or when waited for.
  std::map<uint64_t, bool> events;  // id -> completed
  std::vector<uint64_t> recorded_on;
  uint64_t next_event = 1;
  bool failing = false;  // the device is broken: event queries throw
  int destroyed_events = 0;

  void complete_all() {
    for (auto& [id, done] : events) done = true;
  }

  CachingAllocator::Raw raw() {
    return {[this](size_t n) -> void* {
              if (used + n > capacity) return nullptr;
              void* p = std::malloc(n);
              used += n;
              ++raw_allocs;
              live[p] = n;
              return p;
            },
            [this](void* p, size_t n) {
              EXPECT_EQ(live.at(p), n) << "freed with another size than allocated";
              live.erase(p);
              used -= n;
              ++raw_frees;
              std::free(p);
            },
            [this](uint64_t stream) {
              recorded_on.push_back(stream);
              events[next_event] = false;
              return next_event++;
            },
            [this](uint64_t e) {
              if (failing) throw Error(ErrorCode::kInternal, "fake device failed");
              return events.at(e);
            },
            [this](uint64_t e) { events.at(e) = true; },
            [this](uint64_t e) {
              EXPECT_TRUE(events.at(e) || failing) << "an event destroyed before it completed";
              events.erase(e);
              ++destroyed_events;
            }};
  }
};

TEST(CachingAllocator, ReusesFreedBlocksWithoutDeviceCalls) {
  FakeDevice dev(64 * kMiB);
  {
    CachingAllocator a("fake:0", dev.raw());
    void* p = a.allocate(1000);
    EXPECT_EQ(a.stats().allocated, 1024);  // rounded up to 512
    EXPECT_EQ(a.stats().reserved, static_cast<int64_t>(2 * kMiB));  // one small segment
    a.deallocate(p);
    EXPECT_EQ(a.stats().allocated, 0);
    void* q = a.allocate(900);
    EXPECT_EQ(q, p) << "the freed block comes back";
    EXPECT_EQ(dev.raw_allocs, 1);
    EXPECT_EQ(a.stats().cache_hits, 1);
    EXPECT_EQ(a.stats().alloc_requests, 2);
    a.deallocate(q);
  }
  EXPECT_EQ(dev.raw_frees, 1) << "the destructor returns the idle cache";
  EXPECT_TRUE(dev.live.empty());
}

TEST(CachingAllocator, SplitsSegmentsAndMergesNeighboursBack) {
  FakeDevice dev(64 * kMiB);
  CachingAllocator a("fake:0", dev.raw());
  void* x = a.allocate(4096);
  void* y = a.allocate(4096);
  void* z = a.allocate(4096);
  EXPECT_EQ(dev.raw_allocs, 1) << "three small blocks share one segment";
  EXPECT_EQ(static_cast<char*>(y) - static_cast<char*>(x), 4096);
  a.deallocate(x);
  a.deallocate(z);
  a.deallocate(y);  // merges with both neighbours: the segment is whole and can be released
  a.empty_cache();
  EXPECT_EQ(dev.raw_frees, 1);
  EXPECT_EQ(a.stats().reserved, 0);
  EXPECT_EQ(a.stats().segments, 0);
}

TEST(CachingAllocator, EmptyCacheKeepsSegmentsThatAreInUse) {
  FakeDevice dev(64 * kMiB);
  CachingAllocator a("fake:0", dev.raw());
  void* x = a.allocate(4096);
  void* y = a.allocate(4096);
  a.deallocate(x);
  a.empty_cache();
  EXPECT_EQ(dev.raw_frees, 0) << "y still lives in the segment";
  EXPECT_EQ(a.stats().allocated, 4096);
  a.deallocate(y);
  a.empty_cache();
  EXPECT_EQ(dev.raw_frees, 1);
}

TEST(CachingAllocator, LargeRequestsGetTheirOwnSegmentsAndPeaksAreTracked) {
  FakeDevice dev(256 * kMiB);
  CachingAllocator a("fake:0", dev.raw());
  void* big = a.allocate(30 * kMiB);
  EXPECT_EQ(a.stats().reserved, static_cast<int64_t>(30 * kMiB));
  void* mid = a.allocate(3 * kMiB);
  EXPECT_EQ(a.stats().reserved, static_cast<int64_t>(50 * kMiB)) << "mid-sized requests share a 20 MiB segment";
  void* mid2 = a.allocate(3 * kMiB);
  EXPECT_EQ(dev.raw_allocs, 2) << "the second mid-sized block is cut from the same segment";
  a.deallocate(big);
  a.deallocate(mid);
  a.deallocate(mid2);
  EXPECT_EQ(a.stats().peak_allocated, static_cast<int64_t>(36 * kMiB));
  EXPECT_EQ(a.stats().peak_reserved, static_cast<int64_t>(50 * kMiB));
  a.reset_peak_stats();
  EXPECT_EQ(a.stats().peak_allocated, 0);
  EXPECT_EQ(a.stats().peak_reserved, static_cast<int64_t>(50 * kMiB)) << "the cache is still reserved";
}

TEST(CachingAllocator, FreesTheIdleCacheBeforeGivingUpThenNamesTheSizes) {
  FakeDevice dev(40 * kMiB);
  CachingAllocator a("fake:0", dev.raw());
  a.deallocate(a.allocate(20 * kMiB));  // 20 MiB idle in the cache, too small for the next request
  void* p = a.allocate(30 * kMiB);      // fits only once the idle block is released
  EXPECT_EQ(a.stats().alloc_retries, 1);
  EXPECT_EQ(dev.raw_frees, 1);
  try {
    a.allocate(100 * kMiB);
    FAIL() << "allocating more than the device has must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceExhausted);
    EXPECT_THAT(e.what(), ::testing::HasSubstr("fake:0 out of memory. Tried to allocate 104857600 bytes"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("31457280 bytes allocated"));
  }
  EXPECT_EQ(a.stats().ooms, 1);
  a.deallocate(p);
  EXPECT_EQ(a.stats().allocated, 0) << "a failed request leaves the allocator usable";
}

TEST(CachingAllocator, LimitCapsReservedBytes) {
  FakeDevice dev(1024 * kMiB);
  CachingAllocator a("fake:0", dev.raw());
  a.set_limit(64 * kMiB);
  void* p = a.allocate(40 * kMiB);
  EXPECT_EQ(testing::error_of([&] { a.allocate(40 * kMiB); }).code(), ErrorCode::kResourceExhausted);
  a.deallocate(p);
  void* q = a.allocate(40 * kMiB);  // from the cache
  a.deallocate(q);
  EXPECT_LE(dev.used, 64 * kMiB);
}

TEST(CachingAllocator, IdleCacheAboveTheCapGoesBack) {
  FakeDevice dev(1024 * kMiB);
  CachingAllocator a("fake:0", dev.raw(), /*max_cached_free=*/50 * kMiB);
  void* x = a.allocate(40 * kMiB);
  void* y = a.allocate(40 * kMiB);
  a.deallocate(x);
  EXPECT_EQ(dev.raw_frees, 0) << "40 MiB idle is under the cap";
  a.deallocate(y);
  EXPECT_EQ(dev.raw_frees, 1) << "80 MiB idle is over it: one segment goes back";
  EXPECT_EQ(a.stats().reserved, static_cast<int64_t>(40 * kMiB));
}

TEST(CachingAllocator, UnknownPointersAreNotFreed) {
  FakeDevice dev(64 * kMiB);
  CachingAllocator a("fake:0", dev.raw());
  int local = 0;
  a.deallocate(&local);
  EXPECT_EQ(dev.raw_frees, 0);
}

TEST(CachingAllocator, AFreedBlockGoesBackToItsOwnStreamOnly) {
  FakeDevice dev(64 * kMiB);
  CachingAllocator a("fake:0", dev.raw());
  void* p = a.allocate(4096, /*stream=*/7);
  a.deallocate(p);
  void* q = a.allocate(4096, /*stream=*/9);
  EXPECT_NE(q, p) << "another stream's kernels are not ordered after stream 7's";
  EXPECT_EQ(dev.raw_allocs, 2) << "streams do not share segments";
  void* r = a.allocate(4096, /*stream=*/7);
  EXPECT_EQ(r, p) << "stream 7 gets its own block back";
  a.deallocate(q);
  a.deallocate(r);
  a.empty_cache();
  EXPECT_EQ(dev.raw_frees, 2);
  EXPECT_TRUE(dev.events.empty()) << "no event is needed while each block stays on its stream";
}

TEST(CachingAllocator, ABlockUsedOnAnotherStreamWaitsForThatStreamsEvent) {
  FakeDevice dev(64 * kMiB);
  CachingAllocator a("fake:0", dev.raw());
  void* p = a.allocate(4096, 1);
  a.record_stream(p, 2);
  a.record_stream(p, 2);  // recorded once
  a.record_stream(p, 1);  // its own stream: nothing to wait for
  a.record_stream(p, 3);
  a.deallocate(p);
  EXPECT_EQ(dev.recorded_on, (std::vector<uint64_t>{2, 3})) << "one event on each other stream, at the free";
  EXPECT_EQ(a.stats().allocated, 0) << "freed for the caller, as PyTorch's memory_allocated counts it";
  EXPECT_EQ(a.stats().active_bytes[kAllPools].current, 4096) << "still active until its events complete";
  void* q = a.allocate(4096, 1);
  EXPECT_NE(q, p) << "stream 2 and 3 may still be using p";
  dev.events.begin()->second = true;  // stream 2 done, stream 3 not yet
  void* r = a.allocate(4096, 1);
  EXPECT_NE(r, p);
  dev.complete_all();
  void* s = a.allocate(4096, 1);
  EXPECT_EQ(s, p) << "both events completed: the block is cached and reused";
  EXPECT_EQ(dev.destroyed_events, 2);
  EXPECT_EQ(a.stats().allocated, 3 * 4096);
  EXPECT_EQ(a.stats().active_bytes[kAllPools].current, 3 * 4096);
  for (void* x : {q, r, s}) a.deallocate(x);
  EXPECT_TRUE(dev.events.empty());
}

TEST(CachingAllocator, ABlockWhoseEventFailsIsNeverHandedOutAgain) {
  FakeDevice dev(64 * kMiB);
  CachingAllocator a("fake:0", dev.raw());
  void* p = a.allocate(4096, 1);
  a.record_stream(p, 2);
  a.deallocate(p);
  dev.failing = true;
  void* q = a.allocate(4096, 1);  // the query throws: p is lost, not reused, and the request still succeeds
  EXPECT_NE(q, p);
  dev.failing = false;
  dev.complete_all();
  void* r = a.allocate(4096, 1);
  EXPECT_NE(r, p) << "a lost block stays out of the cache";
  EXPECT_EQ(a.stats().active_bytes[kAllPools].current, 3 * 4096);
  a.deallocate(q);
  a.deallocate(r);
}

TEST(CachingAllocator, EmptyCacheAndOutOfMemoryWaitForPendingEvents) {
  FakeDevice dev(40 * kMiB);
  CachingAllocator a("fake:0", dev.raw());
  void* p = a.allocate(30 * kMiB, 1);
  a.record_stream(p, 2);
  a.deallocate(p);
  void* q = a.allocate(30 * kMiB, 1);  // the device is full: waits for stream 2's event, reuses p's block
  EXPECT_EQ(a.stats().alloc_retries, 1);
  EXPECT_EQ(dev.destroyed_events, 1);
  EXPECT_EQ(a.stats().allocated, static_cast<int64_t>(30 * kMiB));
  EXPECT_EQ(dev.raw_allocs, 2) << "p's segment went back to the device, and q got a new one";
  a.record_stream(q, 2);
  a.deallocate(q);
  a.empty_cache();
  EXPECT_EQ(dev.destroyed_events, 2);
  EXPECT_EQ(a.stats().reserved, 0) << "empty_cache waited for the event and released the segment";
  EXPECT_EQ(a.stats().allocated, 0);
}

// torch.cuda.memory_stats' counters through splits, merges and a large block.
TEST(CachingAllocator, CountsAsPyTorchsMemoryStats) {
  FakeDevice dev(256 * kMiB);
  CachingAllocator a("fake:0", dev.raw());
  const int64_t seg = 2 * kMiB;
  void* x = a.allocate(4096);
  void* y = a.allocate(4096);
  MemoryStats s = a.stats();
  EXPECT_EQ(s.allocation[kAllPools].current, 2);
  EXPECT_EQ(s.allocation[kSmallPool].current, 2);
  EXPECT_EQ(s.allocation[kLargePool].current, 0);
  EXPECT_EQ(s.allocated_bytes[kSmallPool].current, 8192);
  EXPECT_EQ(s.segment[kSmallPool].current, 1);
  EXPECT_EQ(s.reserved_bytes[kAllPools].current, seg);
  EXPECT_EQ(s.inactive_split[kAllPools].current, 1) << "the rest of the segment after y";
  EXPECT_EQ(s.inactive_split_bytes[kAllPools].current, seg - 8192);
  a.deallocate(x);
  s = a.stats();
  EXPECT_EQ(s.inactive_split[kAllPools].current, 2) << "x is idle between nothing and y";
  EXPECT_EQ(s.inactive_split_bytes[kAllPools].current, seg - 4096);
  a.deallocate(y);  // merges x, y and the rest: the segment is whole, nothing is split
  s = a.stats();
  EXPECT_EQ(s.inactive_split[kAllPools].current, 0);
  EXPECT_EQ(s.inactive_split_bytes[kAllPools].current, 0);
  EXPECT_EQ(s.allocation[kAllPools].current, 0);
  EXPECT_EQ(s.allocation[kAllPools].allocated, 2);
  EXPECT_EQ(s.allocation[kAllPools].freed, 2);
  EXPECT_EQ(s.allocated_bytes[kAllPools].peak, 8192);
  EXPECT_EQ(s.active_bytes[kAllPools].current, 0);
  void* big = a.allocate(30 * kMiB);
  s = a.stats();
  EXPECT_EQ(s.allocated_bytes[kLargePool].current, static_cast<int64_t>(30 * kMiB));
  EXPECT_EQ(s.segment[kLargePool].current, 1);
  EXPECT_EQ(s.segment[kAllPools].current, 2);
  EXPECT_EQ(s.allocated, s.allocated_bytes[kAllPools].current);
  EXPECT_EQ(s.reserved, s.reserved_bytes[kAllPools].current);
  a.deallocate(big);
  a.reset_peak_stats();
  EXPECT_EQ(a.stats().allocated_bytes[kAllPools].peak, 0);
  a.empty_cache();
  s = a.stats();
  EXPECT_EQ(s.segment[kAllPools].current, 0);
  EXPECT_EQ(s.segment[kAllPools].freed, 2);
  EXPECT_EQ(s.reserved_bytes[kAllPools].peak, static_cast<int64_t>(30 * kMiB) + seg) << "the peak before reset";
}

// memory_stats' dictionary and memory_summary's table against PyTorch's own code over the same counters.
TEST(MemorySummary, MatchesPyTorch) {
  std::ifstream in(fixture_dir() + "/memory/summary.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json cases = nlohmann::json::parse(in);
  ASSERT_GE(cases.size(), 4u);
  for (const auto& c : cases) {
    const auto& d = c["stats"];
    MemoryStats s;
    auto fill = [&](MemoryStatArray& a, const std::string& key) {
      const std::pair<const char*, MemoryPoolIndex> pools[] = {
          {"all", kAllPools}, {"large_pool", kLargePool}, {"small_pool", kSmallPool}};
      for (const auto& [pool, index] : pools) {
        const std::string prefix = key + "." + pool + ".";
        a[index] = {d[prefix + "current"], d[prefix + "peak"], d[prefix + "allocated"], d[prefix + "freed"]};
      }
    };
    fill(s.allocated_bytes, "allocated_bytes");
    fill(s.active_bytes, "active_bytes");
    fill(s.reserved_bytes, "reserved_bytes");
    fill(s.inactive_split_bytes, "inactive_split_bytes");
    fill(s.allocation, "allocation");
    fill(s.active, "active");
    fill(s.segment, "segment");
    fill(s.inactive_split, "inactive_split");
    s.ooms = d["num_ooms"];
    s.alloc_retries = d["num_alloc_retries"];
    EXPECT_EQ(cuda::memory_summary(s, c["device"], c["abbreviated"]), c["summary"].get<std::string>()) << c["name"];
    const std::map<std::string, int64_t> dict = cuda::memory_stats_dict(s);
    EXPECT_EQ(dict.size(), d.size()) << "PyTorch's keys, no more and no fewer";
    for (const auto& [key, value] : d.items()) {
      ASSERT_TRUE(dict.count(key)) << key;
      EXPECT_EQ(dict.at(key), value.get<int64_t>()) << key;
    }
  }
}

TEST(CpuAllocator, LargeTensorsComeBackFromTheCache) {
  Backend& cpu = backend(DeviceType::kCPU);
  const MemoryStats before = cpu.memory_stats(0);
  { Tensor t = zeros({4 << 20}); }  // 16 MiB
  { Tensor t = ones({4 << 20}); }
  const MemoryStats after = cpu.memory_stats(0);
  EXPECT_EQ(after.alloc_requests - before.alloc_requests, 2);
  EXPECT_GE(after.cache_hits - before.cache_hits, 1);
  EXPECT_EQ(after.allocated, before.allocated);
  Tensor small = zeros({16});
  EXPECT_EQ(cpu.memory_stats(0).alloc_requests, after.alloc_requests) << "small blocks bypass the caching allocator";
}

}  // namespace
}  // namespace td

namespace td {
namespace {

using kernels::SmallBlocks;

TEST(SmallBlocks, AFreedBlockIsReusedByTheNextRequestOfItsClassAndTheCacheIsBounded) {
  SmallBlocks::release_cached();
  void* a = SmallBlocks::allocate(4096);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  SmallBlocks::deallocate(a, 4096);
  EXPECT_EQ(SmallBlocks::allocate(3000), a);  // 3000 and 4096 bytes share the 4 KiB class
  SmallBlocks::deallocate(a, 3000);
  void* other_class = SmallBlocks::allocate(4097);
  EXPECT_NE(other_class, a);
  SmallBlocks::deallocate(other_class, 4097);
  // No more than kMaxBlocksPerClass of a class wait: the ones past it go back to the system.
  std::vector<void*> held;
  for (size_t i = 0; i < SmallBlocks::kMaxBlocksPerClass + 4; ++i) held.push_back(SmallBlocks::allocate(256));
  for (void* p : held) SmallBlocks::deallocate(p, 256);
  // The first kMaxBlocksPerClass freed were kept, and come back first (the others went to glibc, which may
  // hand them out again later).
  const std::vector<void*> kept(held.begin(), held.begin() + SmallBlocks::kMaxBlocksPerClass);
  std::vector<void*> again;
  for (size_t i = 0; i < SmallBlocks::kMaxBlocksPerClass; ++i) {
    again.push_back(SmallBlocks::allocate(256));
    EXPECT_EQ(std::count(kept.begin(), kept.end(), again.back()), 1) << i;
  }
  void* past = SmallBlocks::allocate(256);  // the cache is empty now: from glibc
  EXPECT_EQ(std::count(again.begin(), again.end(), past), 0);
  again.push_back(past);
  for (void* p : again) SmallBlocks::deallocate(p, 256);
  SmallBlocks::release_cached();
}

TEST(SmallBlocks, TensorsFreedOnOtherThreadsAndAtThreadExitAreSafe) {
  std::vector<Tensor> made;
  std::thread maker([&] {
    for (int i = 0; i < 64; ++i) made.push_back(full({257 + i}, 1.5));
  });
  maker.join();  // its cache is gone; the tensors it made are freed here
  made.clear();
  std::thread both([] {
    Tensor kept = ones({1000});
    for (int i = 0; i < 100; ++i) kept = kept.add(kept);
    EXPECT_EQ(kept.sum().item().to_double(), 1000 * std::pow(2.0, 100));
  });
  both.join();
}

}  // namespace
}  // namespace td
