#include "xrec/engine/runtime.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <csignal>

#include "support/expect_error.hpp"
#include "xrec/api/errors.hpp"

using namespace xrec::engine;
using xrec::test::expect_input_error;

TEST(ResolveDevice, CpuAndAuto) {
  EXPECT_TRUE(resolve_device("cpu").is_cpu());
  EXPECT_EQ(resolve_device("auto").is_cuda(), torch::cuda::is_available());
}

TEST(ResolveDevice, MalformedNamesAreConfigErrors) {
  for (const char* bad : {"gpu", "CUDA", "cuda:", "cuda:a", "cuda:-1", "cuda:0x", "cuda0", "cpu:0", ""})
    expect_input_error([&] { resolve_device(bad); }, {"device '" + std::string(bad) + "'", "expected auto, cpu, cuda or cuda:N"});
}

TEST(ResolveDevice, CudaNeedsADeviceThatExists) {
  if (!torch::cuda::is_available()) {
    for (const char* name : {"cuda", "cuda:0"})
      expect_input_error([&] { resolve_device(name); }, {"device '" + std::string(name) + "'", "no usable CUDA device"});
    return;
  }
  EXPECT_TRUE(resolve_device("cuda").is_cuda());
  EXPECT_EQ(resolve_device("cuda:0").index(), 0);
  const auto count = static_cast<int>(torch::cuda::device_count());
  expect_input_error([&] { resolve_device("cuda:" + std::to_string(count)); },
                     {"this machine has " + std::to_string(count) + " CUDA device"});
}

TEST(ConfigureThreads, ZeroMeansAllCores) {
  EXPECT_EQ(configure_threads(1), 1);
  EXPECT_GE(configure_threads(0), 1);
}

namespace xrec::engine {
namespace {

// Issue 12: SIGHUP (terminal or ssh session closed) stops a run like SIGTERM instead of killing it
// unrecorded. Before the fix, raise(SIGHUP) terminated the test binary.
TEST(InterruptHandlers, SighupIsRecordedLikeSigterm) {
  install_interrupt_handlers();
  EXPECT_FALSE(interrupt_requested());
  std::raise(SIGHUP);
  EXPECT_TRUE(interrupt_requested());
  try {
    check_interrupted();
    ADD_FAILURE() << "expected Interrupted";
  } catch (const Interrupted& e) {
    EXPECT_STREQ(e.what(), "stopped by SIGHUP (terminal closed)");
  }
  install_interrupt_handlers();  // resets the flag
  std::raise(SIGTERM);
  try {
    check_interrupted();
    ADD_FAILURE() << "expected Interrupted";
  } catch (const Interrupted& e) {
    EXPECT_STREQ(e.what(), "stopped by SIGTERM");
  }
  install_interrupt_handlers();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGHUP, SIG_DFL);
}

}  // namespace
}  // namespace xrec::engine
