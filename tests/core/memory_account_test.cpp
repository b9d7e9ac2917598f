// Memory accounts: what a thread allocates while an account is current is charged to it, given back when the
// storage goes (on any thread), and refused past the limit with nothing allocated.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "core/memory_account.h"
#include "core/tensor.h"
#include "core/tensor_impl.h"
#include "tests/core/test_util.h"

namespace td {
namespace {

using ::testing::HasSubstr;

TEST(MemoryAccount, ChargesTheCurrentThreadsAllocationsUntilTheyAreFreed) {
  auto account = std::make_shared<MemoryAccount>();
  Tensor outside = zeros({100});  // before the scope: not charged
  Tensor a, view;
  {
    MemoryAccount::Scope scope(account);
    EXPECT_EQ(MemoryAccount::current(), account);
    a = zeros({250});              // 1000 bytes
    view = a.slice(0, 0, 10);      // a view: no new storage
    { Tensor tmp = ones({500}); }  // 2000 bytes, freed at once
    EXPECT_EQ(account->bytes(DeviceType::kCPU), 1000);
    EXPECT_EQ(account->peak(DeviceType::kCPU), 3000);
  }
  EXPECT_EQ(MemoryAccount::current(), nullptr);
  Tensor after = zeros({100});  // after the scope: not charged
  EXPECT_EQ(account->total(), 1000);
  std::thread([&] { a = Tensor(); }).join();  // freed on another thread: still given back
  EXPECT_EQ(account->total(), 1000);          // the view keeps the storage
  view = Tensor();
  EXPECT_EQ(account->total(), 0);
}

TEST(MemoryAccount, RefusesAnAllocationPastItsLimitAndTakesNothing) {
  auto account = std::make_shared<MemoryAccount>(4096);
  MemoryAccount::Scope scope(account);
  Tensor a = zeros({512});  // 2048 bytes
  const int64_t process_before = memory_allocated(DeviceType::kCPU);
  Error e = testing::error_of([] { (void)zeros({1024}); });  // 4096 more: 6144 > 4096
  EXPECT_EQ(e.code(), ErrorCode::kResourceExhausted);
  EXPECT_THAT(e.what(), HasSubstr("session memory limit: allocating 4096 bytes on cpu would hold 6144 bytes"));
  EXPECT_THAT(e.what(), HasSubstr("over the limit of 4096 bytes"));
  EXPECT_EQ(account->total(), 2048);
  EXPECT_EQ(memory_allocated(DeviceType::kCPU), process_before);
  Tensor b = zeros({512});  // up to the limit exactly is fine
  EXPECT_EQ(account->total(), 4096);
}

TEST(MemoryAccount, AChargeIsAChargeToTheParentAndEitherLimitRefuses) {
  auto user = std::make_shared<MemoryAccount>(6000, nullptr, "memory quota of user 'alice'");
  auto s1 = std::make_shared<MemoryAccount>(4000, user), s2 = std::make_shared<MemoryAccount>(4000, user);
  Tensor a, b;
  {
    MemoryAccount::Scope scope(s1);
    a = zeros({1000});  // 4000: s1 full
    EXPECT_THAT(testing::error_of([] { (void)zeros({1}); }).what(), HasSubstr("session memory limit"));
  }
  {
    MemoryAccount::Scope scope(s2);
    Error e = testing::error_of([] { (void)zeros({750}); });  // s2 could, but the user would hold 7000
    EXPECT_EQ(e.code(), ErrorCode::kResourceExhausted);
    EXPECT_THAT(e.what(), HasSubstr("memory quota of user 'alice': allocating 3000 bytes on cpu would hold 7000"));
    EXPECT_EQ(s2->total(), 0);  // the refused charge left nothing behind
    b = zeros({500});
  }
  EXPECT_EQ(user->total(), 6000);
  a = Tensor();
  EXPECT_EQ(user->total(), 2000);
  EXPECT_EQ(s1->total(), 0);
  user->set_limit(0);  // no limit any more
  MemoryAccount::Scope scope(s2);
  Tensor c = zeros({250});
  EXPECT_EQ(user->total(), 3000);
}

TEST(MemoryAccount, ScopesNest) {
  auto outer = std::make_shared<MemoryAccount>(), inner = std::make_shared<MemoryAccount>();
  MemoryAccount::Scope a(outer);
  Tensor x = zeros({10});
  {
    MemoryAccount::Scope b(inner);
    Tensor y = zeros({20});
    EXPECT_EQ(inner->total(), 80);
  }
  Tensor z = zeros({30});
  EXPECT_EQ(outer->total(), 160);
  EXPECT_EQ(inner->total(), 0);
}

}  // namespace
}  // namespace td
