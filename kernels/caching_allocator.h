// A caching allocator over a raw device allocator (cudaMalloc/cudaFree, or aligned host memory): freed blocks
// stay reserved and are handed out again without a device call. Host code only; the CUDA and CPU backends
// each own one per device. Thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "core/backend.h"

namespace td::kernels {

class CachingAllocator {
 public:
  /// The raw allocator under the cache: alloc returns nullptr when the device has no room; free releases.
  struct Raw {
    std::function<void*(size_t)> alloc;
    std::function<void(void*, size_t)> free;
  };
  /// device names the device in errors ("cuda:0"). Freed segments above max_cached_free bytes of idle cache
  /// go back to the raw allocator (0 keeps everything, as PyTorch's CUDA allocator does).
  CachingAllocator(std::string device, Raw raw, size_t max_cached_free = 0);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  /// A block of at least nbytes (rounded up to 512). When the raw allocator fails, frees the idle cache and
  /// tries again; then throws RESOURCE_EXHAUSTED saying how much was asked, allocated and reserved.
  void* allocate(size_t nbytes);
  /// Returns a block from allocate() to the cache.
  void deallocate(void* ptr);
  /// Releases every idle segment to the raw allocator (torch.cuda.empty_cache).
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
    bool allocated = false;
    Block* prev = nullptr;  // neighbours within one segment
    Block* next = nullptr;
  };
  struct BySize {
    bool operator()(const Block* a, const Block* b) const {
      return a->size != b->size ? a->size < b->size : a->ptr < b->ptr;
    }
  };
  using Pool = std::set<Block*, BySize>;

  Block* new_segment(size_t size, bool small);
  void release_idle_segments(size_t keep);
  Pool& pool_of(const Block* b) { return b->small ? small_ : large_; }
  [[noreturn]] void out_of_memory(size_t asked, size_t segment);

  std::string device_;
  Raw raw_;
  size_t max_cached_free_;
  size_t limit_ = 0;
  mutable std::mutex mu_;
  Pool small_, large_;
  std::unordered_map<void*, Block*> active_;
  MemoryStats stats_;
};

}  // namespace td::kernels
