#include "kernels/caching_allocator.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace td::kernels {

namespace {
constexpr size_t kSmallSegment = size_t{2} << 20;
constexpr size_t kLargeRound = size_t{2} << 20;
// Requests under this size share a 20 MiB segment (fewer device calls for mid-sized tensors).
constexpr size_t kMidSize = size_t{10} << 20;
constexpr size_t kMidSegment = size_t{20} << 20;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

size_t segment_size(size_t size) {
  if (size <= CachingAllocator::kSmallSize) return kSmallSegment;
  if (size < kMidSize) return kMidSegment;
  return round_up(size, kLargeRound);
}

// A large block is split only when the rest is worth keeping: a small rest would never be used again.
bool worth_splitting(const bool small, size_t rest) {
  return small ? rest >= CachingAllocator::kRound : rest > CachingAllocator::kSmallSize;
}

// A counter of all pools and of the block's pool.
void up(MemoryStatArray& stat, bool small, int64_t n) {
  stat[kAllPools].increase(n);
  stat[small ? kSmallPool : kLargePool].increase(n);
}
void down(MemoryStatArray& stat, bool small, int64_t n) {
  stat[kAllPools].decrease(n);
  stat[small ? kSmallPool : kLargePool].decrease(n);
}
}  // namespace

// An idle block with neighbours is an inactive split: its segment cannot be released while it is cut.
void CachingAllocator::count_inactive_split(const Block* b, bool add) {
  if (!b->prev && !b->next) return;
  const auto size = static_cast<int64_t>(b->size);
  if (add) {
    up(stats_.inactive_split, b->small, 1);
    up(stats_.inactive_split_bytes, b->small, size);
  } else {
    down(stats_.inactive_split, b->small, 1);
    down(stats_.inactive_split_bytes, b->small, size);
  }
}

int64_t CachingAllocator::reserved() const { return stats_.reserved_bytes[kAllPools].current; }

int64_t CachingAllocator::idle_bytes() const { return reserved() - stats_.active_bytes[kAllPools].current; }

CachingAllocator::CachingAllocator(std::string device, Raw raw, size_t max_cached_free)
    : device_(std::move(device)), raw_(std::move(raw)), max_cached_free_(max_cached_free) {}

CachingAllocator::~CachingAllocator() {
  // Live blocks at exit belong to static tensors; only the idle cache is returned.
  release_idle_segments(0);
}

CachingAllocator::Block* CachingAllocator::new_segment(size_t size, bool small, uint64_t stream) {
  const size_t seg = segment_size(size);
  if (limit_ && static_cast<size_t>(reserved()) + seg > limit_) release_idle_segments(0);
  void* p = nullptr;
  if (!limit_ || static_cast<size_t>(reserved()) + seg <= limit_) p = raw_.alloc(seg);
  if (!p) {
    ++stats_.alloc_retries;
    process_events(/*wait=*/true);
    release_idle_segments(0);
    if (!limit_ || static_cast<size_t>(reserved()) + seg <= limit_) p = raw_.alloc(seg);
  }
  if (!p) out_of_memory(size, seg);
  up(stats_.reserved_bytes, small, static_cast<int64_t>(seg));
  up(stats_.segment, small, 1);
  return new Block{static_cast<char*>(p), seg, small, stream};
}

void CachingAllocator::out_of_memory(size_t asked, size_t segment) {
  ++stats_.ooms;
  throw Error(ErrorCode::kResourceExhausted,
              str("[allocate] ", device_, " out of memory. Tried to allocate ", asked, " bytes (a ", segment,
                  "-byte segment); ", stats_.allocated_bytes[kAllPools].current, " bytes allocated, ", reserved(),
                  " bytes reserved by tensord", limit_ ? str(", limit ", limit_, " bytes") : std::string()));
}

void* CachingAllocator::allocate(size_t nbytes, uint64_t stream) {
  const size_t size = round_up(std::max<size_t>(nbytes, 1), kRound);
  const bool small = size <= kSmallSize;
  std::lock_guard lock(mu_);
  ++stats_.alloc_requests;
  if (!pending_.empty()) process_events(/*wait=*/false);
  Pool& pool = small ? small_ : large_;
  Block key{nullptr, size, small, stream};
  Block* b = nullptr;
  if (auto it = pool.lower_bound(&key); it != pool.end() && (*it)->stream == stream) {
    b = *it;
    pool.erase(it);
    ++stats_.cache_hits;
    count_inactive_split(b, false);
  } else {
    b = new_segment(size, small, stream);
  }
  if (const size_t rest = b->size - size; worth_splitting(small, rest)) {
    auto* tail = new Block{b->ptr + size, rest, small, stream, false, b, b->next};
    if (b->next) b->next->prev = tail;
    b->next = tail;
    b->size = size;
    pool.insert(tail);
    count_inactive_split(tail, true);
  }
  b->allocated = true;
  active_.emplace(b->ptr, b);
  const auto bytes = static_cast<int64_t>(b->size);
  up(stats_.allocation, small, 1);
  up(stats_.allocated_bytes, small, bytes);
  up(stats_.active, small, 1);
  up(stats_.active_bytes, small, bytes);
  return b->ptr;
}

void CachingAllocator::deallocate(void* ptr) {
  if (!ptr) return;
  std::lock_guard lock(mu_);
  auto it = active_.find(ptr);
  if (it == active_.end()) {
    // A pointer this allocator never gave out: a bug elsewhere. Never free what we do not own.
    std::fprintf(stderr, "tensord: %s allocator asked to free unknown pointer %p\n", device_.c_str(), ptr);
    return;
  }
  Block* b = it->second;
  active_.erase(it);
  // Freed for the caller at once (memory_allocated drops); active until other streams are done with it.
  down(stats_.allocation, b->small, 1);
  down(stats_.allocated_bytes, b->small, static_cast<int64_t>(b->size));
  if (!b->uses.empty() && raw_.record_event) {
    // Kernels queued on the other streams may still read or write the block: cache it once they are done.
    try {
      for (uint64_t s : b->uses) {
        pending_.push_back({raw_.record_event(s), b});
        ++b->pending_events;
      }
    } catch (...) {
      lose(b);  // a free must not throw (it runs in destructors)
    }
    b->uses.clear();
    if (b->pending_events || b->lost) return;
  }
  b->uses.clear();
  cache_block(b);
}

void CachingAllocator::record_stream(void* ptr, uint64_t stream) {
  std::lock_guard lock(mu_);
  auto it = active_.find(ptr);
  if (it == active_.end()) return;
  Block* b = it->second;
  if (stream != b->stream && std::find(b->uses.begin(), b->uses.end(), stream) == b->uses.end()) {
    b->uses.push_back(stream);
  }
}

void CachingAllocator::process_events(bool wait) {
  std::erase_if(pending_, [&](const PendingEvent& e) {
    try {
      if (wait) {
        raw_.synchronize_event(e.event);
      } else if (!raw_.query_event(e.event)) {
        return false;
      }
    } catch (...) {
      lose(e.block);
    }
    raw_.destroy_event(e.event);
    if (--e.block->pending_events == 0 && !e.block->lost) cache_block(e.block);
    return true;
  });
}

// The device failed while the block waited for other streams: nobody can say when they are done with it, so
// it is never handed out again (its memory stays active and reserved).
void CachingAllocator::lose(Block* b) {
  if (!b->lost) {
    std::fprintf(stderr, "tensord: %s: a device error left a %zu-byte block unusable\n", device_.c_str(), b->size);
  }
  b->lost = true;
}

void CachingAllocator::cache_block(Block* b) {
  down(stats_.active, b->small, 1);
  down(stats_.active_bytes, b->small, static_cast<int64_t>(b->size));
  b->allocated = false;
  Pool& pool = pool_of(b);
  // Merge with idle neighbours so a segment freed piece by piece becomes whole again.
  if (Block* n = b->next; n && !n->allocated) {
    count_inactive_split(n, false);
    pool.erase(n);
    b->size += n->size;
    b->next = n->next;
    if (n->next) n->next->prev = b;
    delete n;
  }
  if (Block* p = b->prev; p && !p->allocated) {
    count_inactive_split(p, false);
    pool.erase(p);
    p->size += b->size;
    p->next = b->next;
    if (b->next) b->next->prev = p;
    delete b;
    b = p;
  }
  pool.insert(b);
  count_inactive_split(b, true);
  if (max_cached_free_ && idle_bytes() > static_cast<int64_t>(max_cached_free_)) {
    release_idle_segments(max_cached_free_);
  }
}

// Frees whole idle segments (largest first within a stream's) until at most `keep` idle bytes remain cached.
void CachingAllocator::release_idle_segments(size_t keep) {
  for (Pool* pool : {&large_, &small_}) {
    for (auto it = pool->end(); it != pool->begin();) {
      if (idle_bytes() <= static_cast<int64_t>(keep)) return;
      Block* b = *--it;
      if (b->prev || b->next) continue;  // part of a segment that is still in use
      it = pool->erase(it);
      raw_.free(b->ptr, b->size);
      down(stats_.reserved_bytes, b->small, static_cast<int64_t>(b->size));
      down(stats_.segment, b->small, 1);
      delete b;
    }
  }
}

void CachingAllocator::empty_cache() {
  std::lock_guard lock(mu_);
  process_events(/*wait=*/true);
  release_idle_segments(0);
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard lock(mu_);
  MemoryStats s = stats_;
  // The flat counters are views of the per-pool ones.
  s.allocated = s.allocated_bytes[kAllPools].current;
  s.peak_allocated = s.allocated_bytes[kAllPools].peak;
  s.reserved = s.reserved_bytes[kAllPools].current;
  s.peak_reserved = s.reserved_bytes[kAllPools].peak;
  s.segments = s.segment[kAllPools].current;
  return s;
}

void CachingAllocator::reset_peak_stats() {
  std::lock_guard lock(mu_);
  for (MemoryStatArray* a : {&stats_.allocated_bytes, &stats_.active_bytes, &stats_.reserved_bytes,
                             &stats_.inactive_split_bytes, &stats_.allocation, &stats_.active, &stats_.segment,
                             &stats_.inactive_split}) {
    for (MemoryStat& st : *a) st.peak = st.current;
  }
}

void CachingAllocator::set_limit(size_t bytes) {
  std::lock_guard lock(mu_);
  limit_ = bytes;
}

}  // namespace td::kernels
