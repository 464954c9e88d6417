#include "xrec/engine/experiment.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "xrec/api/errors.hpp"
#include "xrec/api/version.hpp"
#include "xrec/engine/data_stage.hpp"
#include "xrec/engine/method.hpp"
#include "xrec/engine/run_context.hpp"
#include "xrec/engine/run_recorder.hpp"
#include "xrec/engine/runtime.hpp"
#include "xrec/engine/startup.hpp"
#include "xrec/environment.hpp"

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

void print_results(const TransferResult& r, const std::string& select_metric) {
  std::printf("\n%-12s %10s %10s\n", "metric", "valid", "test");
  for (auto& [k, v] : r.test) {
    auto vi = r.valid.find(k);
    std::printf("%-12s %10.4f %10.4f%s\n", k.c_str(), vi == r.valid.end() ? 0.0 : vi->second, v,
                k == select_metric ? "   <- selection metric (valid)" : "");
  }
  std::fflush(stdout);
}

RunInfo run_info(const ResolvedConfig& resolved, const std::string& device, int threads, const std::string& command,
                 std::optional<int64_t> sweep_id) {
  const Params& top = resolved.section("");
  const HostFacts host = collect_host_facts();
  RunInfo info;
  info.name = top.str("name");
  info.sweep_id = sweep_id;
  info.config_yaml = resolved.yaml;
  info.config_hash = resolved.hash;
  info.seed = top.integer("seed");
  info.threads = threads;
  info.device = device;
  info.blas = host.blas;
  info.host = host.hostname;
  info.git_sha = host.git_sha;
  info.xrec_version = XREC_VERSION_STRING;
  info.torch_version = XREC_TORCH_VERSION;
  info.command = command;
  info.select_metric = resolved.section("train").str("select_metric");
  info.select_higher_is_better = metric_direction(info.select_metric) == MetricDirection::Higher;
  return info;
}

ExperimentOutcome run_experiment(const ExperimentRequest& req) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  // 1. Start-up: config, plugins, checks, device. Every error here happens before the store is touched.
  check_db_path(req.db_path);
  StartupOptions so;
  so.config_path = req.config_path;
  so.overrides = req.overrides;
  so.plugin_dirs = req.plugin_dirs;
  Session session(so);
  const ResolvedConfig& resolved = session.config();
  if (req.check_only) {
    session.build_components();
    std::cout << resolved.yaml << std::flush;
    session.log()->info("config OK ({} components, device {}); nothing was run or recorded",
                        resolved.components.size(), session.device());
    return ExperimentOutcome{};
  }
  const Params& top = resolved.section("");
  const int threads = configure_threads(top.integer("threads"));
  tune_allocator();
  const uint64_t seed = static_cast<uint64_t>(top.integer("seed"));
  seed_everything(seed);
  const RunInfo info = run_info(resolved, session.device(), threads, req.command_line, req.sweep_id);

  // 2. The run row: from here on, whatever happens is recorded.
  RunRecorder rec(req.db_path, info, resolved, session.log());
  ExperimentOutcome out;
  out.run_id = rec.id();
  try {
    rec.open_folder(resolved.yaml);
    auto log = rec.log();
    log->info("run {} '{}': {} threads, device {}, BLAS {}, store {}", rec.id(), info.name, threads, info.device,
              info.blas, rec.store().path());
    rec.record_plugins(session.loader(), resolved);
    PluginContext pctx;
    pctx.log = log;
    pctx.seed = seed;
    pctx.device = info.device;
    pctx.data_roots = data_roots(top.str("data_root"));
    pctx.run_dir = rec.dir().string();
    install_interrupt_handlers();

    // 3. Data, 4. the method (strategy or baseline) on it.
    DataStage data(session.registry(), resolved, pctx, &rec.store(), rec.id());
    RunContext context(session.registry(), resolved, rec.store(), rec.id(), pctx, torch::Device(info.device),
                       data.take_tasks());
    out.result = make_method(session.registry(), resolved, pctx)->run(context);
    out.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    rec.record_result(out.result, out.seconds);
    rec.finish();
    out.status = RunStatus::Finished;
    print_results(out.result, info.select_metric);
    log->info("run {} finished in {:.1f}s; stored in {} (xrec runs / xrec query)", rec.id(), out.seconds,
              rec.store().path());
    return out;
  } catch (const Interrupted& e) {
    rec.fail(RunStatus::Interrupted, e.what());
    rec.log()->warn("run {} interrupted: {} (partial metrics kept)", rec.id(), e.what());
    throw;
  } catch (const std::exception& e) {
    rec.fail(RunStatus::Failed, e.what());
    rec.log()->error("run {} failed: {}", rec.id(), e.what());
    throw;
  }
}

}  // namespace xrec::engine
