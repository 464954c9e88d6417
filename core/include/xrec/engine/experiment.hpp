#pragma once
// One experiment, end to end: config -> plugins -> validation -> run row -> data -> split -> transfer
// strategy (or baseline) -> metrics -> run closed. Everything is recorded in the store; whatever goes
// wrong after the run row exists closes it as failed or interrupted with the error text.
#include <cstdint>
#include <string>
#include <vector>

#include "xrec/api/transfer.hpp"
#include "xrec/store.hpp"

namespace xrec::engine {

struct ExperimentRequest {
  std::string config_path;
  std::vector<std::string> overrides;        // "a.b=value"
  std::string db_path = "runs/xrec.db";
  std::vector<std::string> plugin_dirs;      // extra plugin folders (--plugin-path)
  std::string command_line;                  // recorded with the run
  std::optional<int64_t> sweep_id;
  // Validate only (`xrec run --check`): config, plugins, components and device are checked and the
  // resolved config is printed; nothing is trained and the store is not touched.
  bool check_only = false;
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

}  // namespace xrec::engine
