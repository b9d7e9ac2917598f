// Library handles (cuBLAS, cuSOLVER, cuDNN) per thread and device, as PyTorch keeps them: a handle is not
// safe to share between threads that queue work on different streams at once (sessions do). When a thread
// ends, its handles go back to a pool, and the next thread that needs one on that device takes it instead of
// making a new one (PyTorch's DeviceThreadHandlePool): a server's worker threads come and go, and each handle
// holds device memory and host state.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "kernels/cuda/stream.h"

namespace td::kernels::cuda {

/// The idle handles of one kind (H: cublasHandle_t, cusolverDnHandle_t, cudnnHandle_t), per device. Never
/// destroyed: threads may end while the process exits.
template <class H>
struct HandlePool {
  std::mutex mutex;
  std::array<std::vector<H>, kMaxDevices> idle;
  std::atomic<int64_t> made{0};  // handles made by every thread, ever
  static HandlePool& instance() {
    static auto* pool = new HandlePool;
    return *pool;
  }
};

/// One thread's handles of kind H; declare it thread_local. at(device) is the thread's slot: its own handle,
/// else one a finished thread left, else null (the caller makes one, stores it there and calls made()).
template <class H>
class ThreadHandles {
 public:
  ThreadHandles() = default;
  ThreadHandles(const ThreadHandles&) = delete;
  ThreadHandles& operator=(const ThreadHandles&) = delete;
  ~ThreadHandles() {
    HandlePool<H>& pool = HandlePool<H>::instance();
    std::lock_guard<std::mutex> lock(pool.mutex);
    for (size_t d = 0; d < handles_.size(); ++d) {
      if (handles_[d]) pool.idle[d].push_back(handles_[d]);
    }
  }
  /// device is in [0, kMaxDevices) (the caller checks).
  H& at(int device) {
    H& h = handles_[static_cast<size_t>(device)];
    if (!h) {
      HandlePool<H>& pool = HandlePool<H>::instance();
      std::lock_guard<std::mutex> lock(pool.mutex);
      auto& idle = pool.idle[static_cast<size_t>(device)];
      if (!idle.empty()) {
        h = idle.back();
        idle.pop_back();
      }
    }
    return h;
  }
  /// Counts a handle the caller made for at()'s slot.
  static void made() { HandlePool<H>::instance().made.fetch_add(1, std::memory_order_relaxed); }
  /// How many handles of this kind every thread has made.
  static int64_t made_count() { return HandlePool<H>::instance().made.load(std::memory_order_relaxed); }

 private:
  std::array<H, kMaxDevices> handles_{};
};

}  // namespace td::kernels::cuda
