#pragma once
// `xrec eval`: a stored run's checkpoint re-evaluated under another evaluation protocol, without
// training, recorded as a new run.
#include <cstdint>
#include <string>
#include <vector>

#include "xrec/engine/experiment.hpp"

namespace xrec::engine {

struct EvaluationRequest {
  int64_t source_run = 0;
  std::vector<std::string> overrides;  // eval.* keys only ("eval.protocol=sampled")
  std::string stage;                   // checkpoint <stage>-best.pt; empty = the run's only checkpoint
  std::string db_path = "runs/xrec.db";
  std::vector<std::string> plugin_dirs;
  std::string command_line;
};

// Rebuilds the source run's model from its stored resolved config plus the eval.* overrides, loads the
// checkpoint, evaluates valid and test, and records a new finished run whose `input` artifact is the
// checkpoint. Throws InputError (before anything is stored) for an unknown run, an override outside
// eval.*, a baseline run, a missing checkpoint; a checkpoint that does not fit the rebuilt model (a
// changed plugin or shape) fails the new run with the parameters that differ.
ExperimentOutcome evaluate_run(const EvaluationRequest& request);

// The overrides `xrec eval` accepts: eval.* keys. Throws InputError naming the first other key.
void check_eval_overrides(const std::vector<std::string>& overrides);

}  // namespace xrec::engine
