#pragma once
// The start-up part of a run: config file + overrides -> plugin folders -> loader -> validated config ->
// component checks -> device. Shared by `xrec run` (and its --check), `xrec data`, `xrec eval` and the
// sweeps' in-process validation of every point. Nothing here touches the store.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <vector>

#include "xrec/config.hpp"
#include "xrec/loader.hpp"
#include "xrec/registry.hpp"

namespace xrec::engine {

struct StartupOptions {
  std::string config_path;               // a YAML file; or, with config_text set, the name shown in errors
  std::string config_text;               // when not empty: the config itself (a stored run's resolved config)
  std::vector<std::string> overrides;    // "a.b=value", applied in order
  std::vector<std::string> plugin_dirs;  // extra plugin folders (--plugin-path), searched first
  // Run: every section validated, components checked, device resolved. Data: only the data sections and
  // host keys (`xrec data`): the model's plugins need not be installed.
  enum class Scope { Run, Data } scope = Scope::Run;
  bool log_to_stderr = false;  // keep stdout for results (`xrec data --json`)
};

// One started session: the plugins are loaded and the config is valid for the scope.
class Session {
 public:
  explicit Session(const StartupOptions& options);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const Registry& registry() const { return registry_; }
  const PluginLoader& loader() const { return *loader_; }
  const ResolvedConfig& config() const { return config_; }
  // Console logger ("xrec"); its sinks are what a run recorder extends with the run's log file.
  const std::shared_ptr<spdlog::logger>& log() const { return log_; }
  // The device the run will use ("cpu", "cuda", "cuda:1"); resolved only for the Run scope.
  const std::string& device() const { return device_; }

  // Validates another config against this session's plugins (a sweep point): the same checks as the
  // constructor for its scope, without loading plugins again. Throws ConfigError.
  ResolvedConfig validate(const std::string& config_path, const std::vector<std::string>& overrides) const;

  // What `run` builds short of data and training (`xrec run --check`): every component is instantiated
  // from its params (transfer strategy or baseline, backbone, quantizer), so a plugin's own checks run.
  void build_components() const;

 private:
  ResolvedConfig resolve(const Config& config) const;

  StartupOptions options_;
  Registry registry_;
  std::unique_ptr<PluginLoader> loader_;
  std::shared_ptr<spdlog::logger> log_;
  ResolvedConfig config_;
  std::string device_;
};

// A sweep's in-process validation of one point: (config path, overrides) -> resolved config, or the
// ConfigError `xrec run` would give. Loads the plugins itself (use Session::validate for many points).
ResolvedConfig validate_run_config(const std::string& config_path, const std::vector<std::string>& overrides,
                                   const std::vector<std::string>& plugin_dirs = {});

// The host checks of a run's resolved config beyond the schema: selection metric computed by the
// evaluator, a method (transfer + backbone, or a baseline) and a bounded thread count.
void check_run_config(const ResolvedConfig& config);

// The largest `threads:` accepted: 4 x the machine's hardware threads (more only oversubscribes and can
// hang the machine).
int64_t max_threads();

// The logger a run writes with: "%H:%M:%S level [name] message", flushed at every info line.
std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::vector<spdlog::sink_ptr>& sinks);

}  // namespace xrec::engine
