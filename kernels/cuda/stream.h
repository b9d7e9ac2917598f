// The CUDA backend's per-thread device and stream: every kernel, copy and library call of the backend is
// queued on stream(), the calling thread's current stream on the device use_device() last selected.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace td::kernels {
class CachingAllocator;
}

namespace td::kernels::cuda {

inline constexpr int kMaxDevices = 16;

/// The number of CUDA devices (0 without a driver or a GPU), asked once.
int device_count();
/// Makes `index` the calling thread's CUDA device for the kernels that follow (cudaSetDevice, called only
/// when the device changes). Throws INVALID_ARGUMENT for an index out of range.
void use_device(int index);
/// The calling thread's current stream on the device of its last use_device().
cudaStream_t stream();
/// The caching allocator of device `index`, made on first use.
CachingAllocator& allocator(int index);
/// The caching allocator of pinned host memory (cudaHostAlloc), shared by every device. Its blocks belong
/// to no stream (kHostStream): every copy on a stream is another use that a free waits for.
CachingAllocator& host_allocator();
inline constexpr uint64_t kHostStream = ~uint64_t{0};
/// The key under which host_allocator() records a pinned block's use on the thread's current stream (after
/// use_device): the stream's handle, or the device's index + 1 for its default stream, whose handle (0) names
/// another stream on each device.
uint64_t pinned_use_key();

}  // namespace td::kernels::cuda
