#include "core/memory_account.h"

#include "core/error.h"

namespace td {

namespace {
thread_local std::shared_ptr<MemoryAccount> t_current;
}

int64_t MemoryAccount::total() const {
  int64_t sum = 0;
  for (const auto& b : bytes_) sum += b.load(std::memory_order_relaxed);
  return sum;
}

void MemoryAccount::charge(int64_t nbytes, const Device& device) {
  const size_t i = static_cast<size_t>(device.type);
  const int64_t after = bytes_[i].fetch_add(nbytes, std::memory_order_relaxed) + nbytes;
  const int64_t limit = limit_.load(std::memory_order_relaxed);
  if (limit > 0 && nbytes > 0 && after > limit) {
    bytes_[i].fetch_sub(nbytes, std::memory_order_relaxed);
    throw Error(ErrorCode::kResourceExhausted,
                str(what_, ": allocating ", nbytes, " bytes on ", device.str(), " would hold ", after,
                    " bytes there, over the limit of ", limit, " bytes"));
  }
  if (parent_) {
    try {
      parent_->charge(nbytes, device);
    } catch (...) {
      bytes_[i].fetch_sub(nbytes, std::memory_order_relaxed);
      throw;
    }
  }
  int64_t peak = peak_[i].load(std::memory_order_relaxed);
  while (after > peak && !peak_[i].compare_exchange_weak(peak, after, std::memory_order_relaxed)) {
  }
}

void MemoryAccount::release(int64_t nbytes, DeviceType type) {
  bytes_[static_cast<size_t>(type)].fetch_sub(nbytes, std::memory_order_relaxed);
  if (parent_) parent_->release(nbytes, type);
}

const std::shared_ptr<MemoryAccount>& MemoryAccount::current() {
  return t_current;
}

MemoryAccount::Scope::Scope(std::shared_ptr<MemoryAccount> account) : previous_(std::move(t_current)) {
  t_current = std::move(account);
}

MemoryAccount::Scope::~Scope() {
  t_current = std::move(previous_);
}

}  // namespace td
