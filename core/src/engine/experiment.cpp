#include "xrec/engine/experiment.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "xrec/api/baseline.hpp"
#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/version.hpp"
#include "xrec/config.hpp"
#include "xrec/engine/batching.hpp"
#include "xrec/engine/data_pipeline.hpp"
#include "xrec/engine/evaluator.hpp"
#include "xrec/engine/run_context.hpp"
#include "xrec/engine/runtime.hpp"
#include "xrec/engine/schema.hpp"
#include "xrec/engine/sequence_model.hpp"
#include "xrec/engine/split.hpp"
#include "xrec/engine/trainer.hpp"
#include "xrec/environment.hpp"
#include "xrec/loader.hpp"
#include "xrec/registry.hpp"

namespace fs = std::filesystem;

namespace xrec::engine {

std::vector<std::string> data_roots(const std::string& config_data_root) {
  std::vector<std::string> candidates;
  if (!config_data_root.empty()) candidates.push_back(config_data_root);
  if (const char* env = std::getenv("XREC_DATA"); env && *env) candidates.emplace_back(env);
  candidates.push_back((fs::current_path() / ".." / "shared" / "data").string());
#ifdef XREC_SOURCE_DIR
  candidates.push_back(std::string(XREC_SOURCE_DIR) + "/../shared/data");
#endif
  std::vector<std::string> roots;
  for (auto& c : candidates) {
    std::error_code ec;
    if (!fs::is_directory(c, ec)) continue;
    auto canon = fs::canonical(c, ec).string();
    if (std::find(roots.begin(), roots.end(), canon) == roots.end()) roots.push_back(canon);
  }
  return roots;
}

namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::vector<spdlog::sink_ptr>& sinks) {
  auto log = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
  log->set_pattern("%H:%M:%S %^%l%$ [%n] %v");
  log->flush_on(spdlog::level::info);  // progress must show up at once when stdout is a pipe or a file
  return log;
}

void print_results(const TransferResult& r, const std::string& select_metric) {
  std::printf("\n%-12s %10s %10s\n", "metric", "valid", "test");
  for (auto& [k, v] : r.test) {
    auto vi = r.valid.find(k);
    std::printf("%-12s %10.4f %10.4f%s\n", k.c_str(), vi == r.valid.end() ? 0.0 : vi->second, v,
                k == select_metric ? "   <- selection metric (valid)" : "");
  }
  std::fflush(stdout);
}

// The selection metric must be one the evaluator computes: caught here, not after the first epoch.
void check_select_metric(const ResolvedConfig& c) {
  const std::string m = c.section("train").str("select_metric");
  const auto& ks = c.section("eval").int_list("ks");
  std::vector<std::string> computed = ranking_metric_names(ks);
  // Pointwise protocols (cold start) validate on these; a stage whose validator lacks the metric fails clearly.
  for (const char* p : {"gauc", "logloss"}) computed.push_back(p);
  if (std::find(computed.begin(), computed.end(), m) != computed.end()) return;
  std::string list;
  for (auto& x : computed) list += (list.empty() ? "" : ", ") + x;
  throw ConfigError("train.select_metric '" + m + "' is not computed with eval.ks " + Value(ks).to_string() +
                    " (computed: " + list + ")");
}

void check_components(const ResolvedConfig& c) {
  check_select_metric(c);
  const bool baseline = c.component("baseline") != nullptr;
  if (baseline && (c.component("backbone") || c.component("transfer")))
    throw ConfigError("config has both `baseline:` and `backbone:`/`transfer:`; a run uses one or the other");
  if (!baseline && !c.component("transfer"))
    throw ConfigError("config needs `transfer:` (e.g. `transfer: {type: scratch}`) with a `backbone:`, or a `baseline:`");
}

}  // namespace

ExperimentOutcome run_experiment(const ExperimentRequest& req) {
  const auto started = Clock::now();
  // 1. Config and plugins: every error here happens before the store is touched.
  Config config = Config::load(req.config_path, req.overrides);
  Registry registry;
  PluginLoader loader(registry);
  std::vector<std::string> dirs = req.plugin_dirs;
  for (auto& d : config.plugin_paths()) dirs.push_back(d);
  for (auto& d : default_plugin_dirs()) dirs.push_back(d);
  loader.load_dirs(dirs);
  auto console = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
  std::vector<spdlog::sink_ptr> sinks{console};
  auto log = make_logger("xrec", sinks);
  for (auto& p : loader.problems()) log->warn("skipped plugin {}: {}", p.path, p.message);
  ResolvedConfig resolved = config.resolve(registry, run_schema());
  check_components(resolved);

  const Params& top = resolved.section("");
  const Params& train = resolved.section("train");
  const torch::Device device = resolve_device(top.str("device"));
  if (req.check_only) {
    std::cout << resolved.yaml << std::flush;
    log->info("config OK ({} components, device {}); nothing was run or recorded", resolved.components.size(),
              device.str());
    return ExperimentOutcome{};
  }
  const int threads = configure_threads(top.integer("threads"));
  tune_allocator();
  const uint64_t seed = static_cast<uint64_t>(top.integer("seed"));
  seed_everything(seed);
  const HostFacts host = collect_host_facts();

  // 2. The run row: from here on, whatever happens is recorded.
  Store store(req.db_path);
  if (int n = store.reconcile_stale_runs()) log->info("marked {} abandoned run(s) as interrupted", n);
  RunInfo info;
  info.name = top.str("name");
  info.sweep_id = req.sweep_id;
  info.config_yaml = resolved.yaml;
  info.config_hash = resolved.hash;
  info.seed = static_cast<int64_t>(seed);
  info.threads = threads;
  info.device = device.str();
  info.blas = host.blas;
  info.host = host.hostname;
  info.git_sha = host.git_sha;
  info.xrec_version = XREC_VERSION_STRING;
  info.torch_version = XREC_TORCH_VERSION;
  info.command = req.command_line;
  info.select_metric = train.str("select_metric");
  info.select_higher_is_better = metric_direction(info.select_metric) == MetricDirection::Higher;
  const int64_t run = store.begin_run(info, resolved.flat);
  RunScope scope(store, run);
  ExperimentOutcome out;
  out.run_id = run;

  try {
    const fs::path run_dir = fs::absolute(fs::path(req.db_path).parent_path() / std::to_string(run));
    fs::create_directories(run_dir);
    store.set_run_dir(run, run_dir.string());
    {
      std::ofstream(run_dir / "config.yaml") << resolved.yaml;
      store.add_artifact(run, "config", (run_dir / "config.yaml").string(),
                         static_cast<int64_t>(fs::file_size(run_dir / "config.yaml")));
    }
    sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>((run_dir / "run.log").string(), true));
    log = make_logger("xrec", sinks);
    store.add_artifact(run, "log", (run_dir / "run.log").string(), 0);
    log->info("run {} '{}': {} threads, device {}, BLAS {}, store {}", run, info.name, threads, info.device, host.blas,
              store.path());
    std::vector<std::string> recorded;
    for (auto& c : resolved.components)
      if (auto* p = loader.provider(c.kind, c.type);
          p && std::find(recorded.begin(), recorded.end(), p->name) == recorded.end()) {
        store.add_plugin(run, p->name, p->version, p->path, p->sha256);
        recorded.push_back(p->name);
      }

    PluginContext pctx;
    pctx.log = log;
    pctx.seed = seed;
    pctx.device = device.str();
    pctx.data_roots = data_roots(top.str("data_root"));
    pctx.run_dir = run_dir.string();
    install_interrupt_handlers();

    // 3. Data: target first, then the sources, each loaded (cache, preprocessing, features), split and (for
    // the sampled protocol) given negatives.
    std::deque<DomainData> domains;
    std::vector<Task> tasks;
    const std::vector<const ComponentConfig*> data = data_sections(resolved);
    for (size_t i = 0; i < data.size(); ++i) {
      const char* role = i == 0 ? "target" : "source";
      auto ctx = pctx;
      ctx.log = log->clone(data[i]->type);
      LoadedDomain loaded = load_domain(registry, *data[i], ctx);
      domains.push_back(std::move(loaded.data));
      const DomainData& d = domains.back();
      const DomainStats st = domain_stats(d);
      log->info("{} '{}': {} users, {} items, {} interactions, density {:.4f}% ({} in {:.2f}s)", role, d.name, st.users,
                st.items, st.interactions, 100 * st.density, loaded.from_cache ? "from the data cache" : "loaded",
                loaded.load_seconds);
      tasks.push_back(make_task(d, role, i, resolved, seed, *data[i]));
      store.log_metric(run, "data", d.name, "users", 0, static_cast<double>(st.users));
      store.log_metric(run, "data", d.name, "items", 0, static_cast<double>(st.items));
      store.log_metric(run, "data", d.name, "interactions", 0, static_cast<double>(st.interactions));
      store.log_metric(run, "data", d.name, "density", 0, st.density);
      store.log_metric(run, "data", d.name, "load_seconds", 0, loaded.load_seconds);
      store.log_metric(run, "data", d.name, "from_cache", 0, loaded.from_cache ? 1.0 : 0.0);
      store.log_metric(run, "data", d.name, "train_users", 0, static_cast<double>(tasks.back().train.size()));
    }

    // 4. The method: a baseline, or a transfer strategy driving the host's model.
    RunContext context(registry, resolved, store, run, pctx, device, std::move(tasks));
    if (const ComponentConfig* bc = resolved.component("baseline")) {
      auto ctx = pctx;
      ctx.log = log->clone(bc->type);
      auto baseline = registry.get(Kind::Baseline, bc->type).baseline(bc->params, ctx);
      baseline->fit(context.target());
      ScoreFn score = [&](const torch::Tensor&, const std::vector<const EvalCase*>& cases) {
        std::vector<const std::vector<int64_t>*> h;
        for (auto* c : cases) h.push_back(&c->history);
        return baseline->score(h);
      };
      auto opts = context.eval_options(1 << 20);
      const Task& target = context.target();
      out.result.valid = context.report(target.valid, rank_targets(target.valid, score, opts), "", "valid");
      out.result.test = context.report(target.test, rank_targets(target.test, score, opts), "", "test");
    } else {
      const ComponentConfig* tc = resolved.component("transfer");
      auto ctx = pctx;
      ctx.log = log->clone(tc->type);
      auto strategy = registry.get(Kind::Transfer, tc->type).transfer(tc->params, ctx);
      out.result = strategy->run(context);
    }
    for (auto& [k, v] : out.result.valid) store.log_final(run, "valid", k, v);
    for (auto& [k, v] : out.result.test) store.log_final(run, "test", k, v);
    out.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    store.log_final(run, "run", "seconds", out.seconds);
    scope.finish();
    out.status = RunStatus::Finished;
    print_results(out.result, info.select_metric);
    log->info("run {} finished in {:.1f}s; stored in {} (xrec runs / xrec query)", run, out.seconds, store.path());
    return out;
  } catch (const Interrupted& e) {
    scope.fail(RunStatus::Interrupted, e.what());
    log->warn("run {} interrupted: {} (partial metrics kept)", run, e.what());
    throw;
  } catch (const std::exception& e) {
    scope.fail(RunStatus::Failed, e.what());
    log->error("run {} failed: {}", run, e.what());
    throw;
  }
}

}  // namespace xrec::engine
