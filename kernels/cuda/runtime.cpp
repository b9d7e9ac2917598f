// The CUDA runtime side of the backend: each thread's current device and streams, the pool of streams
// (PyTorch's getStreamFromPool: 32 per device and priority, made on first use, never destroyed), events,
// device properties, and one caching allocator per device whose blocks belong to streams.
#include <cuda_runtime.h>

#include <array>
#include <atomic>
#include <functional>
#include <mutex>

#include "core/device_runtime.h"
#include "core/error.h"
#include "kernels/caching_allocator.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/stream.h"

namespace td::kernels::cuda {

int device_count() {
  static const int count = [] {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
  }();
  return count;
}

namespace {
constexpr int kPoolStreams = 32;

void check_device(int index) {
  TD_CHECK(index >= 0 && index < device_count() && index < kMaxDevices, ErrorCode::kInvalidArgument,
           "[cuda] device index ", index, " out of range (", device_count(), " devices)");
}

thread_local int t_device = -1;                              // what cudaSetDevice last set on this thread
thread_local int t_current = 0;                              // torch.cuda.current_device()
thread_local std::array<cudaStream_t, kMaxDevices> t_streams{};  // current stream per device (null: default)

cudaStream_t as_stream(uint64_t s) { return reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(s)); }
uint64_t as_id(cudaStream_t s) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(s)); }
cudaEvent_t as_event(uint64_t e) { return reinterpret_cast<cudaEvent_t>(static_cast<uintptr_t>(e)); }

// True when the work is done, false when it is not yet; throws for any other error.
bool ready(cudaError_t e, const char* what) {
  if (e == cudaErrorNotReady) {
    cudaGetLastError();  // a query's "not ready" is not sticky, but clear it anyway
    return false;
  }
  check(e, what);
  return true;
}

uint64_t new_event(bool timing) {
  cudaEvent_t e = nullptr;
  check(cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming), "cudaEventCreate");
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(e));
}

struct StreamPool {
  std::once_flag once;
  std::array<cudaStream_t, kPoolStreams> low{}, high{};
  std::atomic<uint32_t> next_low{0}, next_high{0};
};

class CudaRuntime final : public DeviceRuntime {
 public:
  int current_device() const override { return t_current; }
  void set_device(int device) override {
    use_device(device);
    t_current = device;
  }
  DeviceProperties properties(int device) const override {
    check_device(device);
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    return {prop.name, prop.major, prop.minor, static_cast<int64_t>(prop.totalGlobalMem), prop.multiProcessorCount};
  }

  uint64_t current_stream(int device) const override {
    check_device(device);
    return as_id(t_streams[static_cast<size_t>(device)]);
  }
  void set_current_stream(int device, uint64_t stream) override {
    check_device(device);
    t_streams[static_cast<size_t>(device)] = as_stream(stream);
  }
  uint64_t stream_from_pool(int device, bool high_priority) override {
    use_device(device);
    StreamPool& pool = pools_[static_cast<size_t>(device)];
    std::call_once(pool.once, [&] {
      int least = 0, greatest = 0;  // numerically: greatest priority is the lowest number
      check(cudaDeviceGetStreamPriorityRange(&least, &greatest), "cudaDeviceGetStreamPriorityRange");
      for (int i = 0; i < kPoolStreams; ++i) {
        check(cudaStreamCreateWithPriority(&pool.low[i], cudaStreamNonBlocking, least), "cudaStreamCreate");
        check(cudaStreamCreateWithPriority(&pool.high[i], cudaStreamNonBlocking, greatest), "cudaStreamCreate");
      }
    });
    auto& next = high_priority ? pool.next_high : pool.next_low;
    auto& streams = high_priority ? pool.high : pool.low;
    return as_id(streams[next.fetch_add(1, std::memory_order_relaxed) % kPoolStreams]);
  }
  bool query_stream(int device, uint64_t stream) override {
    use_device(device);
    return ready(cudaStreamQuery(as_stream(stream)), "cudaStreamQuery");
  }
  void synchronize_stream(int device, uint64_t stream) override {
    use_device(device);
    check(cudaStreamSynchronize(as_stream(stream)), "cudaStreamSynchronize");
  }

  uint64_t create_event(int device, bool timing) override {
    use_device(device);
    return new_event(timing);
  }
  void destroy_event(int device, uint64_t event) noexcept override {
    if (event) cudaEventDestroy(as_event(event));
  }
  void record_event(int device, uint64_t event, uint64_t stream) override {
    use_device(device);
    check(cudaEventRecord(as_event(event), as_stream(stream)), "cudaEventRecord");
  }
  bool query_event(int device, uint64_t event) override {
    return ready(cudaEventQuery(as_event(event)), "cudaEventQuery");
  }
  void synchronize_event(int device, uint64_t event) override {
    check(cudaEventSynchronize(as_event(event)), "cudaEventSynchronize");
  }
  void stream_wait_event(int device, uint64_t stream, uint64_t event) override {
    use_device(device);
    check(cudaStreamWaitEvent(as_stream(stream), as_event(event), 0), "cudaStreamWaitEvent");
  }
  float elapsed_ms(int device, uint64_t start, uint64_t end) override {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, as_event(start), as_event(end)), "cudaEventElapsedTime");
    return ms;
  }
  void record_stream(int device, void* ptr, uint64_t stream) override { allocator(device).record_stream(ptr, stream); }

 private:
  std::array<StreamPool, kMaxDevices> pools_;
};
}  // namespace

void use_device(int index) {
  if (t_device == index) return;
  check_device(index);
  check(cudaSetDevice(index), "cudaSetDevice");
  t_device = index;
}

cudaStream_t stream() { return t_streams[static_cast<size_t>(t_device < 0 ? 0 : t_device)]; }

namespace {
// The raw calls with event hooks that make the allocator wait on CUDA events. An event is made on the
// device of the stream it marks: device_of(stream).
// handle_of turns an allocator's stream key into the stream's handle (the pinned allocator's keys name
// default streams by device).
CachingAllocator::Raw with_events(CachingAllocator::Raw raw, std::function<int(uint64_t)> device_of,
                                  std::function<uint64_t(uint64_t)> handle_of = [](uint64_t key) { return key; }) {
  raw.record_event = [device_of = std::move(device_of), handle_of = std::move(handle_of)](uint64_t key) {
    // A free runs in the middle of any op: the thread's device is put back, or the op's next kernels would
    // go to the event's device.
    const int previous = t_device;
    use_device(device_of(key));
    const uint64_t e = new_event(/*timing=*/false);
    const cudaError_t recorded = cudaEventRecord(as_event(e), as_stream(handle_of(key)));
    if (recorded != cudaSuccess) cudaEventDestroy(as_event(e));
    if (previous >= 0) use_device(previous);
    check(recorded, "cudaEventRecord");
    return e;
  };
  raw.query_event = [](uint64_t e) { return ready(cudaEventQuery(as_event(e)), "cudaEventQuery"); };
  raw.synchronize_event = [](uint64_t e) { check(cudaEventSynchronize(as_event(e)), "cudaEventSynchronize"); };
  raw.destroy_event = [](uint64_t e) {
    if (cudaEventDestroy(as_event(e)) != cudaSuccess) cudaGetLastError();  // never throws; leaves no error
  };
  return raw;
}
}  // namespace

CachingAllocator& allocator(int index) {
  static std::array<std::once_flag, kMaxDevices> once;
  // Never destroyed: tensors held by statics are freed during static destruction, after this array would be.
  static std::array<CachingAllocator*, kMaxDevices> allocators{};
  check_device(index);
  std::call_once(once[static_cast<size_t>(index)], [&] {
    auto alloc = [index](size_t n) -> void* {
      use_device(index);
      void* p = nullptr;
      if (cudaMalloc(&p, n) == cudaSuccess) return p;
      cudaGetLastError();  // clear the error so the session goes on
      return nullptr;
    };
    auto release = [index](void* p, size_t) {
      // Also runs at exit, after the runtime may be gone: never throws.
      try {
        use_device(index);
        if (cudaFree(p) != cudaSuccess) cudaGetLastError();
      } catch (const Error&) {
      }
    };
    allocators[static_cast<size_t>(index)] = new CachingAllocator(
        str("cuda:", index), with_events({alloc, release}, [index](uint64_t) { return index; }));
  });
  return *allocators[static_cast<size_t>(index)];
}

CachingAllocator& host_allocator() {
  auto alloc = [](size_t n) -> void* {
    void* p = nullptr;
    if (cudaHostAlloc(&p, n, cudaHostAllocDefault) == cudaSuccess) return p;
    cudaGetLastError();
    return nullptr;
  };
  auto release = [](void* p, size_t) {
    if (cudaFreeHost(p) != cudaSuccess) cudaGetLastError();
  };
  // A free may run on any thread: each event is made on the device of the stream it waits for. Keys up to
  // kMaxDevices are default streams (pinned_use_key).
  auto stream_device = [](uint64_t key) {
    if (key <= static_cast<uint64_t>(kMaxDevices)) return static_cast<int>(key) - 1;
    int device = 0;
    check(cudaStreamGetDevice(as_stream(key), &device), "cudaStreamGetDevice");
    return device;
  };
  auto handle_of = [](uint64_t key) { return key <= static_cast<uint64_t>(kMaxDevices) ? uint64_t{0} : key; };
  // Never destroyed, as the device allocators.
  static auto* pinned =
      new CachingAllocator("pinned host memory", with_events({alloc, release}, stream_device, handle_of));
  return *pinned;
}

uint64_t pinned_use_key() {
  const cudaStream_t s = stream();
  return s ? reinterpret_cast<uintptr_t>(s) : static_cast<uint64_t>(t_device < 0 ? 0 : t_device) + 1;
}

DeviceRuntime& runtime() {
  static CudaRuntime rt;
  return rt;
}

}  // namespace td::kernels::cuda
