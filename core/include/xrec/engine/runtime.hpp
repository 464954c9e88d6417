#pragma once
// Process-wide runtime set-up for a run: threads, device, seeds, and Ctrl-C handling.
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace xrec::engine {

// Sets LibTorch's intra-op threads (0 = all cores) and returns the count in effect. Debian's LibTorch
// otherwise starts with one thread.
int configure_threads(int64_t requested);

// "auto" -> cuda when LibTorch has a GPU, else cpu; "cuda" / "cuda:N" fail clearly without one.
torch::Device resolve_device(const std::string& name);

// Keeps large freed blocks in the process instead of returning them to the OS after every batch: the
// full-softmax logits are tens of MB per batch, and re-faulting them in cost ~15% of an epoch.
void tune_allocator();

// Seeds LibTorch's CPU (and CUDA) generators.
void seed_everything(uint64_t seed);

// SIGINT, SIGTERM and SIGHUP set a flag that long loops poll; a second signal kills at once.
void install_interrupt_handlers();
bool interrupt_requested();
// Throws xrec::Interrupted if a stop was requested.
void check_interrupted();

}  // namespace xrec::engine
