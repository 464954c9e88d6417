#include "xrec/engine/runtime.hpp"

#include <torch/torch.h>

#include <malloc.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

namespace {
std::atomic<int> g_signal{0};

extern "C" void on_signal(int sig) {
  if (g_signal.exchange(sig) != 0) {
    std::signal(sig, SIG_DFL);  // second signal: give up at once
    std::raise(sig);
  }
}
}  // namespace

int configure_threads(int64_t requested) {
  int n = requested > 0 ? static_cast<int>(requested)
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  return at::get_num_threads();
}

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw InputError("device '" + name + "' asked for, but this LibTorch has no usable CUDA device (use cpu or auto)");
    return torch::Device(name);
  }
  throw InputError("device '" + name + "': expected auto, cpu, cuda or cuda:N");
}

void tune_allocator() {
  mallopt(M_MMAP_THRESHOLD, 512 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);
  if (torch::cuda::is_available()) torch::cuda::manual_seed_all(seed);
}

void install_interrupt_handlers() {
  g_signal = 0;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupt_requested() { return g_signal.load() != 0; }

void check_interrupted() {
  if (int sig = g_signal.load())
    throw Interrupted(std::string("stopped by ") + (sig == SIGINT ? "SIGINT (Ctrl-C)" : "SIGTERM"));
}

}  // namespace xrec::engine
