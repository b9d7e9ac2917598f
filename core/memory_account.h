// Memory accounts: the tensor storage an owner holds (a server session), by device type, with an optional
// limit. A thread charges its allocations to its current account (MemoryAccount::Scope); each storage keeps
// the account it was charged to and gives the bytes back when freed, on whatever thread that happens.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/device.h"

namespace td {

class MemoryAccount {
 public:
  /// `limit_bytes` caps the bytes held on each device type (0: no limit). A charge is also a charge to
  /// `parent` (a user's account over their sessions' ones), and fails if either limit would be passed;
  /// `what` names the limit in that error ("session memory limit", "memory quota of user 'alice'").
  explicit MemoryAccount(int64_t limit_bytes = 0, std::shared_ptr<MemoryAccount> parent = nullptr,
                         std::string what = "session memory limit")
      : limit_(limit_bytes), parent_(std::move(parent)), what_(std::move(what)) {}
  MemoryAccount(const MemoryAccount&) = delete;
  MemoryAccount& operator=(const MemoryAccount&) = delete;

  int64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  /// Changes the limit for later charges (bytes held above it stay).
  void set_limit(int64_t limit_bytes) { limit_.store(limit_bytes, std::memory_order_relaxed); }
  int64_t bytes(DeviceType type) const { return bytes_[static_cast<size_t>(type)].load(std::memory_order_relaxed); }
  int64_t total() const;
  /// The most bytes held on a device type at once since creation.
  int64_t peak(DeviceType type) const { return peak_[static_cast<size_t>(type)].load(std::memory_order_relaxed); }

  /// Charges nbytes on `device`'s type here and to the parents; RESOURCE_EXHAUSTED, charging nothing, if that
  /// would pass a limit.
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
  std::atomic<int64_t> limit_;
  const std::shared_ptr<MemoryAccount> parent_;
  const std::string what_;
  std::array<std::atomic<int64_t>, kNumDeviceTypes> bytes_{};
  std::array<std::atomic<int64_t>, kNumDeviceTypes> peak_{};
};

}  // namespace td
