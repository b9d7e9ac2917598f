// A caching allocator over a raw device allocator (cudaMalloc/cudaFree, or aligned host memory): freed blocks
// stay reserved and are handed out again without a device call. Host code only; the CUDA and CPU backends
// each own one per device. Thread-safe.
//
// Streams: every block belongs to the stream it was allocated on (0: the default stream; the CPU has only
// that one), and a freed block goes back to its own stream's cache, so the next kernel that gets it is
// ordered after every kernel that used it. A block also used on other streams (record_stream) waits, once
// freed, for an event recorded on each of them at the free before it is cached again, as PyTorch's
// allocator does.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/backend.h"

namespace td::kernels {

class CachingAllocator {
 public:
  /// The raw allocator under the cache: alloc returns nullptr when the device has no room; free releases.
  struct Raw {
    std::function<void*(size_t)> alloc;
    std::function<void(void*, size_t)> free;
    /// Events, for blocks used on more than their own stream (record_stream); may be empty where no block
    /// ever is. record_event makes an event recorded on a stream now; query_event says whether it has
    /// completed; synchronize_event waits for it; destroy_event releases it.
    std::function<uint64_t(uint64_t stream)> record_event{};
    std::function<bool(uint64_t event)> query_event{};
    std::function<void(uint64_t event)> synchronize_event{};
    std::function<void(uint64_t event)> destroy_event{};
  };
  /// device names the device in errors ("cuda:0"). Freed segments above max_cached_free bytes of idle cache
  /// go back to the raw allocator (0 keeps everything, as PyTorch's CUDA allocator does).
  CachingAllocator(std::string device, Raw raw, size_t max_cached_free = 0);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  /// A block of at least nbytes (rounded up to 512) for use on `stream`. When the raw allocator fails, waits
  /// for blocks held by other streams' events, frees the idle cache and tries again; then throws
  /// RESOURCE_EXHAUSTED saying how much was asked, allocated and reserved.
  void* allocate(size_t nbytes, uint64_t stream = 0);
  /// Returns a block from allocate() to its stream's cache (after the events of its other streams).
  void deallocate(void* ptr);
  /// Marks the block holding ptr as used on `stream` too (Tensor.record_stream): its free then waits for
  /// the work queued on `stream` at that time. A no-op for the block's own stream or an unknown pointer.
  void record_stream(void* ptr, uint64_t stream);
  /// Releases every idle segment to the raw allocator (torch.cuda.empty_cache), after waiting for the
  /// events of freed blocks.
  void empty_cache();
  MemoryStats stats() const;
  /// Peaks restart from the current values.
  void reset_peak_stats();
  /// At most this many bytes reserved (0: no limit); set_per_process_memory_fraction and session quotas.
  void set_limit(size_t bytes);

  /// Requests up to this size come from the small pool's 2 MiB segments; larger ones get their own.
  static constexpr size_t kSmallSize = size_t{1} << 20;
  static constexpr size_t kRound = 512;

 private:
  struct Block {
    char* ptr;
    size_t size;
    bool small;
    uint64_t stream;        // every block of a segment has its segment's stream
    bool allocated = false;
    Block* prev = nullptr;  // neighbours within one segment
    Block* next = nullptr;
    std::vector<uint64_t> uses{};  // other streams it was used on (record_stream)
    int pending_events = 0;      // events to complete before a freed block is cached again
    bool lost = false;           // a device error hid when its users finish: never cached again
  };
  // Pools are ordered by stream, then size: a stream's best fit is the first of its blocks not smaller.
  struct BySize {
    bool operator()(const Block* a, const Block* b) const {
      if (a->stream != b->stream) return a->stream < b->stream;
      return a->size != b->size ? a->size < b->size : a->ptr < b->ptr;
    }
  };
  struct PendingEvent {
    uint64_t event;
    Block* block;
  };
  using Pool = std::set<Block*, BySize>;

  Block* new_segment(size_t size, bool small, uint64_t stream);
  void release_idle_segments(size_t keep);
  /// Caches the blocks whose events have all completed (wait: waits for every event first).
  void process_events(bool wait);
  /// Merges an idle block with its idle neighbours and caches it.
  void cache_block(Block* b);
  void lose(Block* b);
  /// Adds (or removes) an idle block to the inactive-split counters, if it is cut from a larger segment.
  void count_inactive_split(const Block* b, bool add);
  /// Bytes held from the raw allocator.
  int64_t reserved() const;
  /// Reserved bytes in no active block: the cache.
  int64_t idle_bytes() const;
  Pool& pool_of(const Block* b) { return b->small ? small_ : large_; }
  [[noreturn]] void out_of_memory(size_t asked, size_t segment);

  std::string device_;
  Raw raw_;
  size_t max_cached_free_;
  size_t limit_ = 0;
  mutable std::mutex mu_;
  Pool small_, large_;
  std::unordered_map<void*, Block*> active_;
  std::vector<PendingEvent> pending_;
  MemoryStats stats_;
};

}  // namespace td::kernels
