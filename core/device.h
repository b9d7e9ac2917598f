// Devices: "cpu" and "cuda:N" (DESIGN.md invariant 9).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace td {

/// Where a tensor's storage lives.
enum class DeviceType : uint8_t { kCPU, kCUDA };
inline constexpr int kNumDeviceTypes = 2;

/// A device type plus an index ("cuda:1"); the CPU has index 0.
struct Device {
  DeviceType type = DeviceType::kCPU;
  int index = 0;

  bool operator==(const Device&) const = default;
  bool is_cpu() const { return type == DeviceType::kCPU; }
  bool is_cuda() const { return type == DeviceType::kCUDA; }
  /// "cpu" or "cuda:N", as torch.device prints.
  std::string str() const;
  /// Parses "cpu", "cuda" or "cuda:N"; throws INVALID_ARGUMENT otherwise.
  static Device parse(std::string_view s);
};

/// The CPU device.
inline constexpr Device kCPU{DeviceType::kCPU, 0};

}  // namespace td
