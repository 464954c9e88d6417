#pragma once
// One experiment, end to end, composed of the run's parts: start-up (engine/startup: config, plugins,
// checks, device) -> run recorder (engine/run_recorder: store row, folder, log, artifacts) -> data stage
// (engine/data_stage) -> method (engine/method: a transfer strategy or a baseline) -> run closed.
// Everything is recorded in the store; whatever goes wrong after the run row exists closes it as failed
// or interrupted with the error text.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xrec/api/transfer.hpp"
#include "xrec/config.hpp"
#include "xrec/store.hpp"

namespace xrec::engine {

struct ExperimentRequest {
  std::string config_path;
  std::vector<std::string> overrides;        // "a.b=value"
  std::string db_path = "runs/xrec.db";
  std::vector<std::string> plugin_dirs;      // extra plugin folders (--plugin-path)
  std::string command_line;                  // recorded with the run
  std::optional<int64_t> sweep_id;
  // Validate only (`xrec run --check`): config, plugins, component checks and device, then every
  // component is instantiated from its params (what `run` builds short of data and training) and the
  // resolved config is printed; nothing is trained and the store is not touched.
  bool check_only = false;
  // `xrec run --resume RUN`: continue that interrupted or failed run of the store under its id, with its
  // stored config (config_path and overrides must be empty). Completed stages load their checkpoints, the
  // interrupted one continues from its last epoch. A finished run, another xrec version, a config that
  // resolves differently now, a changed plugin or missing checkpoints are InputErrors, before any write.
  std::optional<int64_t> resume_run;
  // `--expect-config HASH` (set by `xrec sweep` on its trials): the config must resolve to this hash, else an
  // InputError before anything is recorded (the trial's file changed after the sweep planned it).
  std::optional<std::string> expect_config_hash;
};

struct ExperimentOutcome {
  int64_t run_id = 0;
  RunStatus status = RunStatus::Running;
  TransferResult result;
  double seconds = 0;
};

// Config and plugin errors throw before anything is written to the store. Errors during the run are
// recorded (run failed / interrupted) and rethrown.
ExperimentOutcome run_experiment(const ExperimentRequest& request);

// Data roots searched for relative dataset paths: config data_root, $XREC_DATA, ../shared/data (from the
// working directory and from the source tree), in that order, existing folders only.
std::vector<std::string> data_roots(const std::string& config_data_root);

// The run row's facts for a resolved config (name, seed, hashes, host, versions, selection metric).
RunInfo run_info(const ResolvedConfig& resolved, const std::string& device, int threads, const std::string& command,
                 std::optional<int64_t> sweep_id = std::nullopt);

// The closing table of a run: one line per metric, valid and test, the selection metric marked.
void print_results(const TransferResult& result, const std::string& select_metric);

}  // namespace xrec::engine
