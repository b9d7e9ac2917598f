#include "kernels/cpu/small_blocks.h"

#include <array>
#include <bit>
#include <cstdlib>

namespace td::kernels {
namespace {

constexpr size_t kClasses = std::bit_width(SmallBlocks::kMaxBlock / SmallBlocks::kMinBlock);  // 64 B .. 512 KiB

size_t class_of(size_t nbytes) {
  return nbytes <= SmallBlocks::kMinBlock ? 0 : std::bit_width((nbytes - 1) / SmallBlocks::kMinBlock);
}
size_t class_bytes(size_t c) { return SmallBlocks::kMinBlock << c; }

// Trivially destructible, so still readable while the thread's other thread_locals are destroyed (a tensor
// freed then finds the cache gone and frees its block directly).
thread_local bool t_gone = false;

struct ThreadCache {
  std::array<std::array<void*, SmallBlocks::kMaxBlocksPerClass>, kClasses> blocks{};
  std::array<size_t, kClasses> count{};
  size_t bytes = 0;
  void clear() {
    for (size_t c = 0; c < kClasses; ++c) {
      for (size_t i = 0; i < count[c]; ++i) std::free(blocks[c][i]);
      count[c] = 0;
    }
    bytes = 0;
  }
  ~ThreadCache() {
    clear();
    t_gone = true;
  }
};

ThreadCache* cache() {
  if (t_gone) return nullptr;
  thread_local ThreadCache c;
  return &c;
}

}  // namespace

void* SmallBlocks::allocate(size_t nbytes) {
  const size_t c = class_of(nbytes);
  if (ThreadCache* t = cache(); t && t->count[c] > 0) {
    t->bytes -= class_bytes(c);
    return t->blocks[c][--t->count[c]];
  }
  return std::aligned_alloc(64, class_bytes(c));
}

void SmallBlocks::deallocate(void* ptr, size_t nbytes) {
  const size_t c = class_of(nbytes);
  ThreadCache* t = cache();
  if (t && t->count[c] < kMaxBlocksPerClass && t->bytes + class_bytes(c) <= kMaxBytes) {
    t->blocks[c][t->count[c]++] = ptr;
    t->bytes += class_bytes(c);
    return;
  }
  std::free(ptr);
}

void SmallBlocks::release_cached() {
  if (ThreadCache* t = cache()) t->clear();
}

}  // namespace td::kernels
