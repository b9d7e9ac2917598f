// A per-thread cache of small freed host blocks (under 1 MiB), by power-of-two size class.
//
// A stream of small ops allocates and frees a result each time. Through glibc, each such block of 1 KiB or
// more is a "large" request: malloc first consolidates the fastbins that the op's small bookkeeping frees
// filled (about a third of `a + b` on 1k floats went to malloc, free and that consolidation). Here a freed
// block waits, warm, for the next request of its class on the same thread. A thread keeps at most
// kMaxBlocksPerClass blocks of a class and kMaxBytes in all; beyond that blocks go back to the system. Blocks
// may be freed on another thread than the one that took them: they then join that thread's cache.
#pragma once

#include <cstddef>

namespace td::kernels {

class SmallBlocks {
 public:
  static constexpr size_t kMinBlock = 64;                   // the class of every request up to 64 bytes
  static constexpr size_t kMaxBlock = size_t{512} << 10;    // larger requests are not cached here
  static constexpr size_t kMaxBlocksPerClass = 8;
  static constexpr size_t kMaxBytes = size_t{4} << 20;      // per thread

  /// A 64-byte-aligned block of at least nbytes (nbytes <= kMaxBlock), or nullptr when the system has none.
  static void* allocate(size_t nbytes);
  /// Gives back a block from allocate() of the same nbytes.
  static void deallocate(void* ptr, size_t nbytes);
  /// Frees the calling thread's cached blocks.
  static void release_cached();
};

}  // namespace td::kernels
