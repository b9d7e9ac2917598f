// td::cuda: torch.cuda's device queries, streams and events, and memory management, over the CUDA backend.
// In a build without CUDA, or on a machine without a GPU, is_available() is false and the rest throws
// FAILED_PRECONDITION. A device argument of -1 means the thread's current device, as PyTorch's None.
//
//   td::cuda::Stream s;                         // a pool stream of the current device
//   {
//     td::cuda::StreamGuard guard(s);           // with torch.cuda.stream(s):
//     y = model(x);                             //   kernels queue on s
//   }
//   td::cuda::Event done;
//   done.record(s);
//   td::cuda::current_stream().wait_event(done);  // later work on the default stream waits for s
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/backend.h"
#include "core/device_runtime.h"

namespace td {
class Tensor;
}

namespace td::cuda {

bool is_available();
int device_count();
/// This thread's current device (torch.cuda.current_device).
int current_device();
void set_device(int device);
/// e.g. "NVIDIA H100 80GB HBM3".
std::string get_device_name(int device = -1);
DeviceProperties get_device_properties(int device = -1);
/// {major, minor} compute capability.
std::pair<int, int> get_device_capability(int device = -1);
/// Waits for every kernel queued on the device, on every stream.
void synchronize(int device = -1);
/// Seeds the generator CUDA's random ops draw from. CUDA ops draw from the same Philox generator as the
/// CPU's (so that both give the same numbers), so this is torch.manual_seed: it reseeds the CPU's too.
void manual_seed_all(uint64_t seed);

class Event;

/// A CUDA stream of one device (torch.cuda.Stream). A new Stream is one of the device's pool streams,
/// handed out round-robin; they do not wait for the default stream.
class Stream {
 public:
  /// A pool stream on `device`; priority < 0 takes a high-priority one.
  explicit Stream(int device = -1, int priority = 0);
  int device() const { return device_; }
  /// The opaque handle (0 for the default stream).
  uint64_t id() const { return id_; }
  /// Whether everything queued on it has completed.
  bool query() const;
  void synchronize() const;
  /// Later work on this stream waits for `event` (on the device).
  void wait_event(const Event& event) const;
  /// Later work on this stream waits for the work queued on `other` so far.
  void wait_stream(const Stream& other) const;
  /// Records a new event on this stream and returns it.
  Event record_event() const;
  bool operator==(const Stream& o) const { return device_ == o.device_ && id_ == o.id_; }

  /// The stream with this handle on `device` (what current_stream and default_stream return).
  static Stream wrap(int device, uint64_t id);

 private:
  Stream(int device, uint64_t id, bool) : device_(device), id_(id) {}
  int device_;
  uint64_t id_;
};

/// The thread's current stream on `device` (the default stream until set_stream or a StreamGuard).
Stream current_stream(int device = -1);
Stream default_stream(int device = -1);
/// Makes `stream` the thread's current stream on its device.
void set_stream(const Stream& stream);

/// torch.cuda.stream(s): makes s the current stream on its device, and the current device, for the guard's
/// lifetime; restores both after.
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream previous_;
  int previous_device_;
};

/// torch.cuda.device(d): the current device for the guard's lifetime.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_;
};

/// torch.cuda.Event: made on its first record, on the recording stream's device.
class Event {
 public:
  explicit Event(bool enable_timing = false) : timing_(enable_timing) {}
  ~Event();
  Event(Event&& o) noexcept;
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// Records the event on `stream` (the current stream of the current device by default).
  void record();
  void record(const Stream& stream);
  /// Whether the work before the record has completed (true for an event never recorded).
  bool query() const;
  /// Waits on the host until it has.
  void synchronize() const;
  /// Makes later work on `stream` wait for this event.
  void wait(const Stream& stream) const;
  void wait();
  /// Milliseconds from this event to `end`; both recorded with enable_timing, and completed.
  float elapsed_time(const Event& end) const;
  bool recorded() const { return id_ != 0; }
  int device() const { return device_; }
  uint64_t id() const { return id_; }

 private:
  bool timing_;
  int device_ = -1;
  uint64_t id_ = 0;
};

/// Tensor.record_stream: the tensor's memory is also used on `stream`, so when it is freed the caching
/// allocator waits for the work queued on `stream` until then before handing it out again.
void record_stream(const Tensor& tensor, const Stream& stream);

/// Bytes in live tensors' blocks, as the caching allocator counts them (rounded up to 512).
int64_t memory_allocated(int device = -1);
int64_t max_memory_allocated(int device = -1);
/// Bytes the caching allocator holds from the device: live blocks plus its idle cache.
int64_t memory_reserved(int device = -1);
int64_t max_memory_reserved(int device = -1);
MemoryStats memory_stats(int device = -1);
/// torch.cuda.memory_stats' dictionary for the counters: "allocated_bytes.all.current", ...,
/// "num_alloc_retries", "num_ooms" (PyTorch's keys; oversize_* are 0: no max_split_size here).
std::map<std::string, int64_t> memory_stats_dict(const MemoryStats& stats);
/// torch.cuda.memory_summary: the counters as PyTorch 1.13's table.
std::string memory_summary(int device = -1, bool abbreviated = false);
/// The same table for counters at hand (a remote client's, a test's), headed with `device`.
std::string memory_summary(const MemoryStats& stats, int device, bool abbreviated = false);
void reset_peak_memory_stats(int device = -1);
/// Releases the idle cache to the device (other processes see the memory again).
void empty_cache(int device = -1);
/// Caps what this process may reserve on the device: fraction of its total memory, in (0, 1].
void set_per_process_memory_fraction(double fraction, int device = -1);
/// {free, total} bytes of the device, as the driver reports them.
std::pair<size_t, size_t> mem_get_info(int device = -1);

}  // namespace td::cuda
