#pragma once
// Sweeps on Slurm (`xrec sweep SPEC --emit slurm DIR`, `--slurm`): the frozen trial list and a job-array
// script in DIR, one array task per trial writing its own SQLite shard under DIR/shards (never one store
// over a network file system), and the task side (`xrec sweep --task DIR I`). No LibTorch.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "xrec/sweep/runner.hpp"

namespace xrec::sweep {

struct SlurmOptions {
  std::string partition, time, mem;  // passed to #SBATCH as given ("" = the cluster's default)
  int cpus_per_task = 0;             // 0 = the trial's threads
  int array_parallelism = 0;         // at most this many tasks at once (--array=...%N); 0 = no limit
  std::string job_name;              // default xrec-<sweep name>
};

// "0-3,5,7-9" for the sorted task ids.
std::string array_ranges(std::vector<size_t> ids);

// Writes DIR/plan.yaml (every trial of the plan, in order: array task i runs trial i), DIR/job.sh (the
// array over the trials the plan marks to run) and the folders shards/ and logs/. Returns the task ids
// of the array (empty: nothing to run; job.sh is still written, with no --array line).
std::vector<size_t> emit_slurm(const Plan& plan, const Options& options, const SlurmOptions& slurm,
                               const std::string& dir);

// The shard of trial `key` in DIR.
std::string shard_path(const std::string& dir, const std::string& key);

// Runs array task `index` of an emitted sweep: trial `index` of DIR/plan.yaml into its shard, as
// execute() does locally. Threads: the emitted --threads, else the spec's, else $SLURM_CPUS_PER_TASK,
// else 1. Returns the process exit code (0 finished, 1 failed, 130 interrupted).
int run_slurm_task(const std::string& dir, size_t index, const std::string& xrec_binary);

}  // namespace xrec::sweep

namespace xrec::sweep {

// Runs a shell command and returns its stdout; `status` gets the exit status (-1: could not start).
std::string capture(const std::string& command, int* status);

// `sbatch --parsable DIR/job.sh`: the job id. InputError when sbatch is missing or refuses the job.
std::string slurm_submit(const std::string& dir);

// Polls `squeue -j JOB` every `poll_seconds` until the job has no task left pending or running;
// `progress` gets the count left each time it changes.
void slurm_follow(const std::string& job_id, double poll_seconds, const std::function<void(int)>& progress);

}  // namespace xrec::sweep
