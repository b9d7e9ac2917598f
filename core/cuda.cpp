#include "core/cuda.h"

#include <cstdlib>
#include <string_view>

#include "core/cudnn.h"
#include "core/error.h"
#include "core/random/generator.h"
#include "core/tensor_impl.h"
#include "kernels/cudnn.h"

namespace td::cuda {

namespace {
Backend& available() {
  Backend& b = backend(DeviceType::kCUDA);
  TD_CHECK(b.is_available() && b.runtime(), ErrorCode::kFailedPrecondition, "[cuda] no CUDA device is available");
  return b;
}

DeviceRuntime& rt() { return *available().runtime(); }

// The device an argument names: -1 is the thread's current device.
int resolve(int device) {
  Backend& b = available();
  if (device == -1) device = b.runtime()->current_device();
  TD_CHECK(device >= 0 && device < b.device_count(), ErrorCode::kInvalidArgument, "[cuda] device index ", device,
           " out of range (", b.device_count(), " devices)");
  return device;
}

Backend& checked(int& device) {
  device = resolve(device);
  return backend(DeviceType::kCUDA);
}
}  // namespace

bool is_available() { return backend(DeviceType::kCUDA).is_available(); }
int device_count() { return backend(DeviceType::kCUDA).device_count(); }
int current_device() { return rt().current_device(); }
void set_device(int device) { rt().set_device(resolve(device)); }
std::string get_device_name(int device) { return checked(device).device_name(device); }
DeviceProperties get_device_properties(int device) { return rt().properties(resolve(device)); }
std::pair<int, int> get_device_capability(int device) {
  const DeviceProperties p = get_device_properties(device);
  return {p.major, p.minor};
}
void synchronize(int device) { checked(device).synchronize(device); }
void manual_seed_all(uint64_t seed) { td::manual_seed(seed); }

// ---- streams ----

Stream::Stream(int device, int priority)
    : device_(resolve(device)), id_(rt().stream_from_pool(device_, priority < 0)) {}
Stream Stream::wrap(int device, uint64_t id) {
  return Stream(resolve(device), id, true);
}
bool Stream::query() const { return rt().query_stream(device_, id_); }
void Stream::synchronize() const { rt().synchronize_stream(device_, id_); }
void Stream::wait_event(const Event& event) const {
  if (event.recorded()) rt().stream_wait_event(device_, id_, event.id());
}
void Stream::wait_stream(const Stream& other) const { wait_event(other.record_event()); }
Event Stream::record_event() const {
  Event e;
  e.record(*this);
  return e;
}

Stream current_stream(int device) {
  device = resolve(device);
  return Stream::wrap(device, rt().current_stream(device));
}
Stream default_stream(int device) { return Stream::wrap(device, 0); }
void set_stream(const Stream& stream) { rt().set_current_stream(stream.device(), stream.id()); }

StreamGuard::StreamGuard(const Stream& stream)
    : previous_(current_stream(stream.device())), previous_device_(current_device()) {
  rt().set_device(stream.device());
  set_stream(stream);
}
StreamGuard::~StreamGuard() {
  // A destructor must not throw: restoring what was current before cannot fail unless the device did.
  try {
    set_stream(previous_);
    rt().set_device(previous_device_);
  } catch (const Error&) {
  }
}

DeviceGuard::DeviceGuard(int device) : previous_(current_device()) { set_device(device); }
DeviceGuard::~DeviceGuard() { rt().set_device(previous_); }

// ---- events ----

Event::~Event() {
  if (id_) backend(DeviceType::kCUDA).runtime()->destroy_event(device_, id_);
}
Event::Event(Event&& o) noexcept : timing_(o.timing_), device_(o.device_), id_(o.id_) { o.id_ = 0; }
Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    if (id_) backend(DeviceType::kCUDA).runtime()->destroy_event(device_, id_);
    timing_ = o.timing_;
    device_ = o.device_;
    id_ = o.id_;
    o.id_ = 0;
  }
  return *this;
}
void Event::record() { record(current_stream()); }
void Event::record(const Stream& stream) {
  TD_CHECK(!id_ || device_ == stream.device(), ErrorCode::kInvalidArgument,
           "[Event.record] the event was made on cuda:", device_,
           " and cannot be recorded on a stream of cuda:", stream.device());
  if (!id_) {
    id_ = rt().create_event(stream.device(), timing_);
    device_ = stream.device();
  }
  rt().record_event(device_, id_, stream.id());
}
bool Event::query() const { return !id_ || rt().query_event(device_, id_); }
void Event::synchronize() const {
  if (id_) rt().synchronize_event(device_, id_);
}
void Event::wait(const Stream& stream) const { stream.wait_event(*this); }
void Event::wait() { wait(current_stream()); }
float Event::elapsed_time(const Event& end) const {
  TD_CHECK(timing_ && end.timing_, ErrorCode::kInvalidArgument,
           "[Event.elapsed_time] both events must be created with enable_timing=True");
  TD_CHECK(id_ && end.id_, ErrorCode::kFailedPrecondition,
           "[Event.elapsed_time] both events must be recorded before calculating elapsed time");
  TD_CHECK(device_ == end.device_, ErrorCode::kInvalidArgument, "[Event.elapsed_time] the events are on cuda:",
           device_, " and cuda:", end.device_, "; both must be on one device");
  return rt().elapsed_ms(device_, id_, end.id_);
}

void record_stream(const Tensor& tensor, const Stream& stream) {
  const TensorImpl& t = tensor.impl();
  const Device device = t.storage->device;
  TD_CHECK(device.type == DeviceType::kCUDA, ErrorCode::kInvalidArgument,
           "[record_stream] expects a CUDA tensor, got one on ", device.str());
  // The allocator's events wait on streams of the block's own device.
  TD_CHECK(stream.device() == device.index, ErrorCode::kInvalidArgument, "[record_stream] the stream is on cuda:",
           stream.device(), ", the tensor on ", device.str());
  if (t.storage->data) rt().record_stream(device.index, t.storage->data, stream.id());
}

// ---- memory ----

int64_t memory_allocated(int device) { return checked(device).memory_stats(device).allocated; }
int64_t max_memory_allocated(int device) { return checked(device).memory_stats(device).peak_allocated; }
int64_t memory_reserved(int device) { return checked(device).memory_stats(device).reserved; }
int64_t max_memory_reserved(int device) { return checked(device).memory_stats(device).peak_reserved; }
MemoryStats memory_stats(int device) { return checked(device).memory_stats(device); }
std::string memory_summary(int device, bool abbreviated) {
  Backend& b = checked(device);
  return memory_summary(b.memory_stats(device), device, abbreviated);
}
void reset_peak_memory_stats(int device) { checked(device).reset_peak_memory_stats(device); }
void empty_cache(int device) { checked(device).empty_cache(device); }

void set_per_process_memory_fraction(double fraction, int device) {
  Backend& b = checked(device);
  TD_CHECK_ARG(fraction > 0 && fraction <= 1, "[set_per_process_memory_fraction] Invalid fraction value: ",
               fraction, ". Allowed range: 0~1");
  b.set_memory_limit(static_cast<size_t>(fraction * static_cast<double>(b.memory_info(device).second)), device);
}

std::pair<size_t, size_t> mem_get_info(int device) { return checked(device).memory_info(device); }

}  // namespace td::cuda

namespace td::backends::cudnn {
namespace detail {
bool graph_api_from_environment() {
  const char* v = std::getenv("TD_CUDNN_GRAPH_API");
  return v && std::string_view(v) == "1";
}
}  // namespace detail
bool is_available() { return kernels::cudnn_library().version > 0; }
int version() { return kernels::cudnn_library().version; }
}  // namespace td::backends::cudnn
