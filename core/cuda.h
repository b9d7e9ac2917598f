// td::cuda: torch.cuda's device queries and memory management, over the CUDA backend. In a build without
// CUDA, or on a machine without a GPU, is_available() is false and the rest throws FAILED_PRECONDITION.
#pragma once

#include <cstdint>
#include <string>

#include "core/backend.h"

namespace td::cuda {

bool is_available();
int device_count();
/// e.g. "NVIDIA H100 80GB HBM3".
std::string get_device_name(int device = 0);
/// Waits for every kernel queued on the device.
void synchronize(int device = 0);

/// Bytes in live tensors' blocks, as the caching allocator counts them (rounded up to 512).
int64_t memory_allocated(int device = 0);
int64_t max_memory_allocated(int device = 0);
/// Bytes the caching allocator holds from the device: live blocks plus its idle cache.
int64_t memory_reserved(int device = 0);
int64_t max_memory_reserved(int device = 0);
MemoryStats memory_stats(int device = 0);
void reset_peak_memory_stats(int device = 0);
/// Releases the idle cache to the device (other processes see the memory again).
void empty_cache(int device = 0);
/// Caps what this process may reserve on the device: fraction of its total memory, in (0, 1].
void set_per_process_memory_fraction(double fraction, int device = 0);
/// {free, total} bytes of the device, as the driver reports them.
std::pair<size_t, size_t> mem_get_info(int device = 0);

}  // namespace td::cuda
