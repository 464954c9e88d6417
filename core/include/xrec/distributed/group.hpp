#pragma once
// Data-parallel training over c10d (docs/scale-out.md, ADR 0016): which process this is (rank, world size,
// where rank 0's TCPStore listens), and joining the process group. No LibTorch here; the trainer's hooks
// are in xrec/distributed/data_parallel.hpp, and the c10d include stays in core/src/distributed.
#include <optional>
#include <string>

namespace xrec::distributed {

struct Options {
  int world_size = 1;
  int rank = 0;
  std::string address = "127.0.0.1";  // where rank 0 hosts the TCPStore
  int port = 29500;
  std::string backend = "gloo";  // gloo (CPU) | nccl (a CUDA LibTorch build only)
  double timeout_s = 60;         // joining and every collective; a dead peer fails the others after this
};

// What a config's `distributed:` section asks for (empty / 0: not given).
struct Requested {
  int world_size = 1;
  int rank = 0;
  std::string address;
  int port = 0;
  std::string backend;
  double timeout_s = 0;
};

// The process group of this run. World size and rank: XREC_WORLD_SIZE / XREC_RANK (set by `xrec run
// --nproc`), else Slurm's SLURM_STEP_NUM_TASKS / SLURM_PROCID (a task of an srun step), else the config's
// distributed.world_size / rank (processes started by hand). Address: XREC_MASTER_ADDR, else MASTER_ADDR,
// else distributed.address, else 127.0.0.1. Port: XREC_MASTER_PORT, else MASTER_PORT, else
// distributed.port, else 29500 + SLURM_JOB_ID % 1000 under Slurm, else 29500. Backend and timeout:
// XREC_DIST_BACKEND / XREC_DIST_TIMEOUT, else the config's. nullopt for a single process. InputError on
// bad values, naming the variable or key.
std::optional<Options> resolve(const Requested& config);
// resolve() with nothing from a config: the environment alone.
std::optional<Options> from_environment();

// Joins the process group (rank 0 hosts the store). Error when a peer does not arrive within the timeout,
// or the backend is not built in.
void init(const Options& options);
bool active();  // a group of more than one process is joined
int rank();
int world_size();
const Options& options();
// Seconds spent in collectives (all-reduce calls until their end, waiting for the slowest rank included)
// since the last call; the trainer records it per epoch as train/allreduce_seconds.
double take_comm_seconds();
// Whether this build has the backend (nccl only with a CUDA LibTorch).
bool has_backend(const std::string& backend);

}  // namespace xrec::distributed
