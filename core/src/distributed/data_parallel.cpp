// Data-parallel training over c10d: the process group (Gloo; NCCL when LibTorch was built with CUDA) and
// the trainer's hooks. The only file that includes c10d (its headers are heavy and pull in gloo).
#include "xrec/distributed/data_parallel.hpp"

// NCCL: only where LibTorch was built with CUDA and its NCCL process group (the pip wheel on a GPU machine).
#if XREC_WITH_CUDA && defined(USE_C10D_NCCL)
#define XREC_WITH_NCCL 1
#else
#define XREC_WITH_NCCL 0
#endif

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>
#if XREC_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>

#include "xrec/api/errors.hpp"
#include "xrec/distributed/group.hpp"

namespace xrec::distributed {

namespace {

struct Group {
  double comm_seconds = 0;  // in collectives since take_comm_seconds()
  Options options;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
};
Group& group() {
  static Group g;
  return g;
}

std::chrono::milliseconds timeout_ms(double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000)); }

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

int env_int(const char* name, const std::string& v, int low) {
  size_t used = 0;
  int n = 0;
  try {
    n = std::stoi(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || n < low)
    throw InputError(std::string("$") + name + ": expected an integer >= " + std::to_string(low) + ", got '" + v + "'");
  return n;
}

// Waits for a collective, turning a peer's death or a timeout into an error that says so.
void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what,
          std::chrono::steady_clock::time_point started) {
  try {
    work->wait(timeout_ms(group().options.timeout_s));
    group().comm_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    throw Error("data parallel: rank " + std::to_string(group().options.rank) + " of " +
                std::to_string(group().options.world_size) + ": " + what +
                " failed (another rank died, or did not answer within " +
                std::to_string(static_cast<int>(group().options.timeout_s)) + " s): " + why);
  }
}

}  // namespace

std::optional<Options> from_environment() { return resolve(Requested{}); }

std::optional<Options> resolve(const Requested& config) {
  Options o;
  std::string rank_from = "distributed.rank", size_from = "distributed.world_size";
  if (auto w = env("XREC_WORLD_SIZE")) {
    o.world_size = env_int("XREC_WORLD_SIZE", *w, 1);
    if (o.world_size == 1) return std::nullopt;  // forces one process (even under srun or with distributed:)
    o.rank = env_int("XREC_RANK", env("XREC_RANK").value_or(""), 0);
    rank_from = "$XREC_RANK", size_from = "$XREC_WORLD_SIZE";
  } else if (auto procid = env("SLURM_PROCID"); procid && env("SLURM_STEP_NUM_TASKS")) {
    // A task of an srun step. Not SLURM_NTASKS alone: a batch script or salloc shell has it too, and an
    // `xrec run` there is one process (XREC_WORLD_SIZE=1 also forces that).
    o.world_size = env_int("SLURM_STEP_NUM_TASKS", *env("SLURM_STEP_NUM_TASKS"), 1);
    o.rank = env_int("SLURM_PROCID", *procid, 0);
    rank_from = "$SLURM_PROCID", size_from = "$SLURM_STEP_NUM_TASKS";
    if (auto job = env("SLURM_JOB_ID")) o.port = 29500 + env_int("SLURM_JOB_ID", *job, 0) % 1000;
  } else {
    o.world_size = config.world_size;
    o.rank = config.rank;
  }
  if (o.world_size <= 1) return std::nullopt;
  if (o.rank < 0 || o.rank >= o.world_size)
    throw InputError("data parallel: rank " + std::to_string(o.rank) + " (" + rank_from +
                     ") is not below the world size " + std::to_string(o.world_size) + " (" + size_from + ")");
  if (auto a = env("XREC_MASTER_ADDR")) o.address = *a;
  else if (auto a2 = env("MASTER_ADDR")) o.address = *a2;
  else if (!config.address.empty()) o.address = config.address;
  if (auto p = env("XREC_MASTER_PORT")) o.port = env_int("XREC_MASTER_PORT", *p, 1);
  else if (auto p2 = env("MASTER_PORT")) o.port = env_int("MASTER_PORT", *p2, 1);
  else if (config.port > 0) o.port = config.port;
  if (o.port > 65535) throw InputError("data parallel: port " + std::to_string(o.port) + " is above 65535");
  std::string backend_from = "distributed.backend";
  if (auto b = env("XREC_DIST_BACKEND")) o.backend = *b, backend_from = "$XREC_DIST_BACKEND";
  else if (!config.backend.empty()) o.backend = config.backend;
  if (o.backend != "gloo" && o.backend != "nccl")
    throw InputError(backend_from + ": '" + o.backend + "' is unknown (expected gloo or nccl)");
  if (auto t = env("XREC_DIST_TIMEOUT")) o.timeout_s = env_int("XREC_DIST_TIMEOUT", *t, 1);
  else if (config.timeout_s > 0) o.timeout_s = config.timeout_s;
  return o;
}

bool has_backend(const std::string& backend) {
  if (backend == "gloo") return true;
#if XREC_WITH_NCCL
  if (backend == "nccl") return true;
#endif
  return false;
}

void init(const Options& o) {
  if (!has_backend(o.backend))
    throw InputError("data parallel: backend '" + o.backend +
                     "' is not in this build (nccl needs a CUDA LibTorch; use gloo on the CPU)");
  Group& g = group();
  g.options = o;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(o.port);
    so.isServer = o.rank == 0;
    so.numWorkers = static_cast<size_t>(o.world_size);
    so.waitWorkers = true;
    so.timeout = timeout_ms(o.timeout_s);
    auto tcp = c10::make_intrusive<c10d::TCPStore>(o.address, so);
    g.store = c10::make_intrusive<c10d::PrefixStore>("xrec", tcp);
#if XREC_WITH_NCCL
    if (o.backend == "nccl") {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout_ms(o.timeout_s);
      g.pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g.store, o.rank, o.world_size, opts);
      return;
    }
#endif
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout_ms(o.timeout_s));
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.address));
    g.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g.store, o.rank, o.world_size, opts);
  } catch (const std::exception& e) {
    g.pg.reset();
    std::string why = e.what();
    throw Error("data parallel: rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) +
                " could not join the group at " + o.address + ":" + std::to_string(o.port) + " within " +
                std::to_string(static_cast<int>(o.timeout_s)) + " s: " + why.substr(0, why.find('\n')));
  }
}

bool active() { return static_cast<bool>(group().pg); }
int rank() { return group().options.rank; }
int world_size() { return active() ? group().options.world_size : 1; }
const Options& options() { return group().options; }
double take_comm_seconds() {
  const double s = group().comm_seconds;
  group().comm_seconds = 0;
  return s;
}

Batch shard_batch(const Batch& b) {
  const int64_t rows = b.inputs.size(0), n = world_size(), r = rank();
  const int64_t from = rows * r / n, to = rows * (r + 1) / n;
  Batch s;
  s.inputs = b.inputs.slice(0, from, to);
  s.targets = b.targets.slice(0, from, to);
  if (b.negatives.defined()) s.negatives = b.negatives.slice(0, from, to);
  return s;
}

torch::Tensor weight_loss(const torch::Tensor& loss, const Batch& shard) {
  torch::Tensor mine = (shard.targets > 0).sum().to(torch::kDouble).reshape({1});
  torch::Tensor total = allreduce_sum(mine);
  const double t = total.item<double>(), m = mine.item<double>();
  if (m == 0 || t == 0) return loss.nan_to_num() * 0.0;  // nothing to learn on this shard (keeps the graph)
  return loss * (m / t);
}

torch::Tensor allreduce_sum(const torch::Tensor& t) {
  std::vector<torch::Tensor> v{t.detach().clone().contiguous()};
  const auto started = std::chrono::steady_clock::now();
  wait(group().pg->allreduce(v), "all-reduce", started);
  return v[0];
}

void allreduce_gradients(const std::vector<torch::Tensor>& params) {
  if (params.empty()) return;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (!p.grad().defined()) const_cast<torch::Tensor&>(p).mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad().reshape(-1));
  }
  std::vector<torch::Tensor> flat{torch::cat(grads)};
  const auto started = std::chrono::steady_clock::now();
  wait(group().pg->allreduce(flat), "the gradient all-reduce", started);
  int64_t at = 0;
  torch::NoGradGuard no_grad;
  for (const auto& p : params) {
    const int64_t n = p.numel();
    p.grad().copy_(flat[0].slice(0, at, at + n).view_as(p));
    at += n;
  }
}

}  // namespace xrec::distributed
