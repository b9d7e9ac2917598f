// A device's runtime beyond kernels: the current device, streams and events (CUDA's). Backend::runtime()
// returns it where the device type has one (CUDA), nullptr elsewhere. td::cuda (core/cuda.h) is the API over
// it; the profiler times CUDA ops with its events.
//
// Streams and events are opaque handles: 0 is a device's default stream (CUDA's legacy stream, ordered with
// every other blocking stream); pool streams never go away, so a handle stays valid for the process.
#pragma once

#include <cstdint>
#include <string>

namespace td {

/// torch.cuda.get_device_properties' fields.
struct DeviceProperties {
  std::string name;
  int major = 0;
  int minor = 0;
  int64_t total_memory = 0;
  int multi_processor_count = 0;
};

class DeviceRuntime {
 public:
  virtual ~DeviceRuntime() = default;

  /// This thread's current device (torch.cuda.current_device), 0 until set_device.
  virtual int current_device() const = 0;
  virtual void set_device(int device) = 0;
  virtual DeviceProperties properties(int device) const = 0;

  /// This thread's current stream on `device`: kernels on that device are queued on it (0 until set).
  virtual uint64_t current_stream(int device) const = 0;
  virtual void set_current_stream(int device, uint64_t stream) = 0;
  /// One of the device's pool streams, handed out round-robin (PyTorch's getStreamFromPool); they do not
  /// wait for the default stream.
  virtual uint64_t stream_from_pool(int device, bool high_priority) = 0;
  /// Whether every kernel queued on the stream has completed.
  virtual bool query_stream(int device, uint64_t stream) = 0;
  virtual void synchronize_stream(int device, uint64_t stream) = 0;

  /// A new event; `timing` lets elapsed_ms measure between two of them.
  virtual uint64_t create_event(int device, bool timing) = 0;
  virtual void destroy_event(int device, uint64_t event) noexcept = 0;
  /// Marks the point of `stream` reached once the work queued on it so far is done.
  virtual void record_event(int device, uint64_t event, uint64_t stream) = 0;
  virtual bool query_event(int device, uint64_t event) = 0;
  virtual void synchronize_event(int device, uint64_t event) = 0;
  /// Makes work queued later on `stream` wait for `event` (on the device, not the host).
  virtual void stream_wait_event(int device, uint64_t stream, uint64_t event) = 0;
  /// Milliseconds from `start` to `end`, both recorded and completed timing events.
  virtual float elapsed_ms(int device, uint64_t start, uint64_t end) = 0;

  /// Marks the device block holding `ptr` as used on `stream` too: its free then waits for that stream's
  /// work queued by then (Tensor.record_stream).
  virtual void record_stream(int device, void* ptr, uint64_t stream) = 0;
};

}  // namespace td
