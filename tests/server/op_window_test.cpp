// The sliding window behind tensord_top_op_seconds.
#include <gtest/gtest.h>

#include "server/metrics.h"

namespace td::server {
namespace {

using Clock = OpTimeWindow::Clock;
using std::chrono::seconds;

TEST(OpTimeWindow, RanksOpsBySecondsInTheWindow) {
  OpTimeWindow w;
  const Clock::time_point t0{seconds(1000)};
  w.add("mm", 0.5, t0);
  w.add("add", 0.1, t0);
  w.add("mm", 0.25, t0 + seconds(15));
  w.add("conv", 0.6, t0 + seconds(20));
  auto top = w.top(2, t0 + seconds(25));
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].first, "mm");
  EXPECT_DOUBLE_EQ(top[0].second, 0.75);
  EXPECT_EQ(top[1].first, "conv");
  EXPECT_EQ(w.top(10, t0 + seconds(25)).size(), 3u);
}

TEST(OpTimeWindow, ForgetsSlotsThatLeftTheWindow) {
  OpTimeWindow w;
  const Clock::time_point t0{seconds(1000)};
  w.add("mm", 1.0, t0);
  w.add("add", 0.1, t0 + seconds(30));
  // 59 s later mm's slot (1000..1009) is still in the six-slot window; at +60 s it is gone.
  EXPECT_EQ(w.top(10, t0 + seconds(59)).size(), 2u);
  auto later = w.top(10, t0 + seconds(60));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].first, "add");
  // A slot reused for a new epoch starts empty.
  w.add("sum", 0.2, t0 + seconds(60));
  auto reused = w.top(10, t0 + seconds(60));
  ASSERT_EQ(reused.size(), 2u);
  EXPECT_EQ(reused[0].first, "sum");
  EXPECT_TRUE(w.top(10, t0 + seconds(200)).empty());
}

}  // namespace
}  // namespace td::server
