#include "xrec/engine/startup.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace xrec::engine;

TEST(Startup, ThreadsAreBoundedByFourTimesTheHardwareThreads) {
  EXPECT_EQ(max_threads(), 4 * static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency())));
}
