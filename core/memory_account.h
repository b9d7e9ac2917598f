// Memory accounts: the tensor storage an owner holds (a server session), by device type, with an optional
// limit. A thread charges its allocations to its current account (MemoryAccount::Scope); each storage keeps
// the account it was charged to and gives the bytes back when freed, on whatever thread that happens.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace td {

class MemoryAccount {
 public:
  /// `limit_bytes` caps the bytes held on each device type (0: no limit).
  explicit MemoryAccount(int64_t limit_bytes = 0) : limit_(limit_bytes) {}
  MemoryAccount(const MemoryAccount&) = delete;
  MemoryAccount& operator=(const MemoryAccount&) = delete;

  int64_t limit() const { return limit_; }
  int64_t bytes(DeviceType type) const { return bytes_[static_cast<size_t>(type)].load(std::memory_order_relaxed); }
  int64_t total() const;
  /// The most bytes held on a device type at once since creation.
  int64_t peak(DeviceType type) const { return peak_[static_cast<size_t>(type)].load(std::memory_order_relaxed); }

  /// Charges nbytes on `device`'s type; RESOURCE_EXHAUSTED, charging nothing, if that would pass the limit.
  void charge(int64_t nbytes, const Device& device);
  void release(int64_t nbytes, DeviceType type);

  /// The calling thread's current account, or nullptr.
  static const std::shared_ptr<MemoryAccount>& current();

  /// Makes `account` the calling thread's current account until the scope ends (scopes nest).
  class Scope {
   public:
    explicit Scope(std::shared_ptr<MemoryAccount> account);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    std::shared_ptr<MemoryAccount> previous_;
  };

 private:
  const int64_t limit_;
  std::array<std::atomic<int64_t>, kNumDeviceTypes> bytes_{};
  std::array<std::atomic<int64_t>, kNumDeviceTypes> peak_{};
};

}  // namespace td
