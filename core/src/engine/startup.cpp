#include "xrec/engine/startup.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <torch/torch.h>

#include <algorithm>
#include <thread>

#include "xrec/api/errors.hpp"
#include "xrec/api/metrics.hpp"
#include "xrec/engine/builtins.hpp"
#include "xrec/engine/evaluator.hpp"
#include "xrec/engine/runtime.hpp"
#include "xrec/engine/schema.hpp"
#include "xrec/environment.hpp"

namespace xrec::engine {

namespace {

// The selection metric must be one the evaluator computes: caught here, not after the first epoch.
void check_select_metric(const ResolvedConfig& c) {
  const std::string m = c.section("train").str("select_metric");
  const auto& ks = c.section("eval").int_list("ks");
  eval_options_from(c.section("eval"), 1);  // eval.history / the deprecated eval.mask_history, before anything runs
  const std::vector<std::string> computed = protocol_metrics(c.section("eval").str("protocol"), ks);
  if (std::find(computed.begin(), computed.end(), m) != computed.end()) return;
  std::string list;
  for (auto& x : computed) list += (list.empty() ? "" : ", ") + x;
  throw ConfigError("train.select_metric '" + m + "' is not computed by eval.protocol " +
                    c.section("eval").str("protocol") + " with eval.ks " + Value(ks).to_string() +
                    " (computed: " + list + ")");
}

void check_threads(const ResolvedConfig& c) {
  const int64_t threads = c.section("").integer("threads");
  if (threads > max_threads())
    throw ConfigError("threads: " + std::to_string(threads) + " is more than " + std::to_string(max_threads()) +
                      " (4 x the " + std::to_string(max_threads() / 4) +
                      " hardware threads of this machine); use 0 for all cores");
}

ConfigSchema data_only_schema() {
  // Only the data sections matter to `xrec data`: the model's components are not validated, so a config
  // whose backbone plugin is missing or misconfigured can still have its data inspected.
  ConfigSchema schema = run_schema();
  for (auto& slot : schema.slots) slot.skip = slot.path.rfind("data.", 0) != 0;
  return schema;
}

}  // namespace

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::vector<spdlog::sink_ptr>& sinks) {
  auto log = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
  log->set_pattern("%H:%M:%S %^%l%$ [%n] %v");
  log->flush_on(spdlog::level::info);  // progress must show up at once when stdout is a pipe or a file
  return log;
}

int64_t max_threads() { return 4 * static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency())); }

void check_run_config(const ResolvedConfig& c) {
  check_select_metric(c);
  check_threads(c);
  const bool baseline = c.component("baseline") != nullptr;
  if (baseline && (c.component("backbone") || c.component("transfer")))
    throw ConfigError("config has both `baseline:` and `backbone:`/`transfer:`; a run uses one or the other");
  if (!baseline && !c.component("transfer"))
    throw ConfigError(
        "config needs `transfer:` (e.g. `transfer: {type: scratch}`) with a `backbone:`, or a `baseline:`");
  // Every transfer strategy trains the host's model, which is built around the backbone: without one the
  // run would fail after its row exists (issue 12, item 11).
  // A cold-start strategy trains a `pointwise_model:` instead (TransferContext::make_pointwise_model).
  if (!baseline && !c.component("backbone") && !c.component("pointwise_model"))
    throw ConfigError("transfer strategy '" + c.component("transfer")->type +
                      "' needs a `backbone:` (e.g. `backbone: {type: sasrec}`) or, for a cold-start strategy, a "
                      "`pointwise_model:`; `backbone: ~` leaves the model without one");
}

Session::Session(const StartupOptions& options) : options_(options) {
  // Config and plugins: every error here happens before the store is touched.
  Config config = options.config_text.empty()
                      ? Config::load(options.config_path, options.overrides)
                      : Config::parse(options.config_text, options.config_path, options.overrides);
  register_builtin_components(registry_);
  loader_ = std::make_unique<PluginLoader>(registry_);
  std::vector<std::string> dirs = options.plugin_dirs;
  for (auto& d : config.plugin_paths()) dirs.push_back(d);
  for (auto& d : default_plugin_dirs()) dirs.push_back(d);
  loader_->load_dirs(dirs);
  spdlog::sink_ptr console;
  if (options.log_to_stderr)
    console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  else
    console = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
  log_ = make_logger("xrec", {console});
  for (auto& p : loader_->problems()) log_->warn("skipped plugin {}: {}", p.path, p.message);
  config_ = resolve(config);
  if (options.scope == StartupOptions::Scope::Run) device_ = resolve_device(config_.section("").str("device")).str();
}

ResolvedConfig Session::resolve(const Config& config) const {
  if (options_.scope == StartupOptions::Scope::Data) return config.resolve(registry_, data_only_schema());
  ResolvedConfig resolved = config.resolve(registry_, run_schema());
  check_run_config(resolved);
  return resolved;
}

ResolvedConfig Session::validate(const std::string& config_path, const std::vector<std::string>& overrides) const {
  return resolve(Config::load(config_path, overrides));
}

void Session::build_components() const {
  PluginContext ctx;
  ctx.log = log_;
  ctx.seed = static_cast<uint64_t>(config_.section("").integer("seed"));
  ctx.device = device_;
  auto context = [&](const std::string& name) {
    PluginContext c = ctx;
    c.log = log_->clone(name);
    return c;
  };
  if (const ComponentConfig* c = config_.component("baseline"))
    registry_.get(Kind::Baseline, c->type).baseline(c->params, context(c->type));
  if (const ComponentConfig* c = config_.component("transfer"))
    registry_.get(Kind::Transfer, c->type).transfer(c->params, context(c->type));
  if (const ComponentConfig* c = config_.component("backbone"))
    registry_.get(Kind::Backbone, c->type).backbone(c->params, context(c->type));
  if (const ComponentConfig* c = config_.component("quantizer"))
    registry_.get(Kind::Quantizer, c->type).quantizer(c->params, context(c->type));
}

ResolvedConfig validate_run_config(const std::string& config_path, const std::vector<std::string>& overrides,
                                   const std::vector<std::string>& plugin_dirs) {
  StartupOptions o;
  o.config_path = config_path;
  o.overrides = overrides;
  o.plugin_dirs = plugin_dirs;
  o.log_to_stderr = true;
  Session session(o);
  return session.config();
}

}  // namespace xrec::engine
