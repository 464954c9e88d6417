#include "xrec/engine/runtime.hpp"

#include <torch/torch.h>

#include <malloc.h>

#include <algorithm>
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
  // Checked here, before the run row exists, so that a typo or a GPU the machine lacks is a config error
  // rather than a failed run (LibTorch would only complain when the model moves).
  const std::string index = name.rfind("cuda:", 0) == 0 ? name.substr(5) : std::string();
  const bool numbered = !index.empty() && index.size() <= 4 &&
                        std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (name != "cuda" && !numbered) throw InputError("device '" + name + "': expected auto, cpu, cuda or cuda:N");
  if (!torch::cuda::is_available())
    throw InputError("device '" + name + "' asked for, but this LibTorch has no usable CUDA device (use cpu or auto)");
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  if (numbered && std::stoll(index) >= count)
    throw InputError("device '" + name + "': this machine has " + std::to_string(count) + " CUDA device" +
                     (count == 1 ? "" : "s") + ", expected cuda:0" + (count > 1 ? " to cuda:" + std::to_string(count - 1) : ""));
  return torch::Device(name);
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
  std::signal(SIGHUP, on_signal);  // a closed terminal or ssh session stops the run cleanly, like SIGTERM
}

bool interrupt_requested() { return g_signal.load() != 0; }

void check_interrupted() {
  if (int sig = g_signal.load())
    throw Interrupted(std::string("stopped by ") +
                      (sig == SIGINT ? "SIGINT (Ctrl-C)" : sig == SIGHUP ? "SIGHUP (terminal closed)" : "SIGTERM"));
}

}  // namespace xrec::engine
