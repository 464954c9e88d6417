#include "xrec/engine/runtime.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "support/expect_error.hpp"

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
