#pragma once
// Planning a sweep (validate every trial, key it, decide what resume runs) and running its trials as
// child processes (`xrec run ... --sweep ID`), N at a time. No LibTorch: validation is a callback.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "xrec/store.hpp"
#include "xrec/sweep/spec.hpp"

namespace xrec::sweep {

// What validating one trial's config tells the planner.
struct PointCheck {
  std::string config_hash;                                   // of the resolved config
  std::vector<std::pair<std::string, std::string>> plugins;  // name -> sha256 of each plugin it uses
  std::string select_metric;                                 // the config's train.select_metric
};
// Loads the spec's base with `overrides` and resolves it against the loaded plugins; throws
// ConfigError (naming the key) when the config is invalid.
using Validator = std::function<PointCheck(const Spec& spec, const std::vector<std::string>& overrides)>;

struct Options {
  std::string name;  // sweep name (default: the spec's)
  int jobs = 1;
  int threads = 0;       // per trial; 0 = spec threads, else max(1, cores / jobs)
  double timeout_s = 0;  // per trial; 0 = spec timeout, else none
  bool retry_failed = false;
  int max_retries = 3;  // a failed trial is re-run on later invocations until it has this many attempts
  bool only_missing = false;
  // Point labels whose finished trials run again (after a fix that changed what they compute but not their
  // config or plugins, so their keys still match): the earlier runs stay in the store, the new run becomes the
  // trial's. A label that is not a point of the sweep is an error.
  std::vector<std::string> rerun;
  std::string db_path;
  std::vector<std::string> plugin_dirs;
  std::string xrec_binary;  // the `xrec` executable trials run
  // When set, a trial's child process runs `xrec run ...` by calling this (arguments without the binary;
  // returns the exit code) instead of exec'ing xrec_binary: the child inherits the driver's loaded
  // LibTorch and plugins, which saves most of a trial's fixed cost. The driver must not have started
  // LibTorch's thread pools (it never runs a tensor operation).
  std::function<int(const std::vector<std::string>&)> in_process;
  // When set: the config hash a trial's overrides (point, seed, threads) resolve to from the spec as the
  // driver read it. Before each launch the driver checks that the trial's point still resolves to its planned
  // hash (a base or included file edited mid-sweep fails the trial, naming both hashes), and the child gets
  // `--expect-config HASH`, so a config file replaced under the driver (another sweep's, an editor) is
  // refused by the run instead of being recorded as this trial.
  std::function<std::string(const std::vector<std::string>& overrides)> config_hash;
  bool progress_tty = false;
};

struct TrialPlan {
  TrialRecord record;
  std::vector<std::string> overrides;  // point overrides and the seed, as key=value
  bool run = false;
  std::string why;  // why it runs or is skipped
};

struct Plan {
  Spec spec;
  std::vector<Point> points;
  std::vector<TrialPlan> trials;
  std::string select_metric;
  bool higher_is_better = true;
  std::vector<std::string> notes;  // e.g. plugins that changed since the trials ran
  int64_t sweep_id = 0;            // 0 = the store has no sweep of this name yet
  int to_run() const;
};

// Expands the spec, validates every trial (all errors at once, each naming the point and the key) and,
// when `store` is given, compares with the sweep of the same name to decide what runs. Writes nothing.
Plan make_plan(const Spec& spec, const Validator& validate, const Store* store, const Options& options);
// The trial key: sha256(config hash + plugins sha).
std::string trial_key(const std::string& config_hash, const std::string& plugins_sha);
// sha256 over "name:sha256\n" of the plugins, sorted by name; `text` receives the same list.
std::string plugins_digest(std::vector<std::pair<std::string, std::string>> plugins, std::string* text = nullptr);

struct Summary {
  int64_t sweep_id = 0;
  int finished = 0, failed = 0, interrupted = 0, skipped = 0;
  bool stopped = false;  // Ctrl-C
};

// Records the sweep and its trials, then runs the trials the plan marks. Ctrl-C (SIGINT/SIGTERM) stops
// launching, forwards SIGINT to running trials and closes the sweep as interrupted.
Summary execute(const Plan& plan, Store& store, const Options& options);

// The last `max_lines` lines of a file (at most `max_bytes`), for error messages.
std::string file_tail(const std::string& path, size_t max_lines = 20, size_t max_bytes = 2000);
// "killed by signal 11 (SIGSEGV)".
std::string describe_signal(int sig);

}  // namespace xrec::sweep
