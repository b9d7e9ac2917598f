#include "core/cuda.h"

#include "core/error.h"

namespace td::cuda {

namespace {
Backend& checked(int device) {
  Backend& b = backend(DeviceType::kCUDA);
  TD_CHECK(b.is_available(), ErrorCode::kFailedPrecondition, "[cuda] no CUDA device is available");
  TD_CHECK(device >= 0 && device < b.device_count(), ErrorCode::kInvalidArgument, "[cuda] device index ", device,
           " out of range (", b.device_count(), " devices)");
  return b;
}
}  // namespace

bool is_available() { return backend(DeviceType::kCUDA).is_available(); }
int device_count() { return backend(DeviceType::kCUDA).device_count(); }
std::string get_device_name(int device) { return checked(device).device_name(device); }
void synchronize(int device) { checked(device).synchronize(device); }

int64_t memory_allocated(int device) { return checked(device).memory_stats(device).allocated; }
int64_t max_memory_allocated(int device) { return checked(device).memory_stats(device).peak_allocated; }
int64_t memory_reserved(int device) { return checked(device).memory_stats(device).reserved; }
int64_t max_memory_reserved(int device) { return checked(device).memory_stats(device).peak_reserved; }
MemoryStats memory_stats(int device) { return checked(device).memory_stats(device); }
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
