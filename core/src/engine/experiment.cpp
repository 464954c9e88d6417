#include "xrec/engine/experiment.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "xrec/api/errors.hpp"
#include "xrec/api/version.hpp"
#include "xrec/distributed/group.hpp"
#include "xrec/engine/data_stage.hpp"
#include "xrec/engine/method.hpp"
#include "xrec/engine/run_context.hpp"
#include "xrec/engine/run_recorder.hpp"
#include "xrec/engine/runtime.hpp"
#include "xrec/engine/stage_cache.hpp"
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

namespace {
struct ResumeFacts {
  std::string config_yaml, config_hash, plugins;  // plugins: "name:sha256" sorted, space-separated
};

ResumeFacts resume_facts(const std::string& db_path, int64_t run) {
  const std::string what = "--resume " + std::to_string(run);
  if (!fs::exists(db_path)) throw InputError(what + ": the store " + db_path + " does not exist");
  Store store(db_path, /*read_only=*/true);
  const QueryResult q = store.query(
      "SELECT status, config_yaml, config_hash, xrec_version, run_dir,"
      " (SELECT group_concat(p, ' ') FROM (SELECT name || ':' || sha256 AS p FROM plugins WHERE run_id = runs.id"
      " ORDER BY name)) FROM runs WHERE id = " + std::to_string(run));
  if (q.rows.empty()) throw InputError(what + ": the store " + db_path + " has no run " + std::to_string(run));
  auto text = [&](size_t i) { return q.rows[0][i].value_or(""); };
  if (text(0) == "finished") throw InputError(what + ": the run finished; there is nothing to resume");
  if (text(3) != XREC_VERSION_STRING)
    throw InputError(what + ": the run was made by xrec " + text(3) + ", this is xrec " + XREC_VERSION_STRING +
                     " (resume it with that version, or start a new run)");
  if (text(4).empty() || !fs::is_directory(text(4)))
    throw InputError(what + ": the run's folder " + (text(4).empty() ? "(none recorded)" : text(4)) +
                     " is missing; its checkpoints are gone");
  return {text(1), text(2), text(5)};
}

void check_resumable(const ResumeFacts& facts, int64_t run, const ResolvedConfig& resolved,
                     const PluginLoader& loader) {
  const std::string what = "--resume " + std::to_string(run);
  if (resolved.hash != facts.config_hash)
    throw InputError(what + ": its stored config resolves differently now (config hash " + resolved.hash.substr(0, 12) +
                     " instead of " + facts.config_hash.substr(0, 12) +
                     "; a plugin or xrec changed its defaults): start a new run");
  if (!resolved.section("").flag("save_checkpoint"))
    throw InputError(what + ": the run was made with save_checkpoint: false; it has no checkpoints to resume from");
  std::vector<std::string> now;
  for (auto& c : resolved.components)
    if (auto* p = loader.provider(c.kind, c.type)) now.push_back(p->name + ":" + p->sha256);
  std::sort(now.begin(), now.end());
  now.erase(std::unique(now.begin(), now.end()), now.end());
  std::string joined;
  for (auto& p : now) joined += (joined.empty() ? "" : " ") + p;
  if (joined != facts.plugins)
    throw InputError(what + ": its plugins changed since it ran (then: " + facts.plugins + "; now: " + joined +
                     "): start a new run");
}

// The config's `distributed:` section (docs/config.md); the environment may override it (distributed::resolve).
distributed::Requested requested(const Params& d) {
  distributed::Requested r;
  r.world_size = static_cast<int>(d.integer("world_size"));
  r.rank = static_cast<int>(d.integer("rank"));
  r.address = d.str("address");
  r.port = static_cast<int>(d.integer("port"));
  r.backend = d.str("backend");
  r.timeout_s = d.real("timeout");
  return r;
}

// Ranks other than 0 of a data-parallel run record into a scratch store removed afterwards, so the run
// exists once, written by rank 0.
struct ScratchStore {
  std::string dir;
  std::string open(int rank) {
    char tmpl[] = "/tmp/xrec-rank-XXXXXX";
    if (!mkdtemp(tmpl)) throw Error(std::string("cannot create a scratch folder: ") + std::strerror(errno));
    dir = tmpl;
    return dir + "/rank-" + std::to_string(rank) + ".db";
  }
  ~ScratchStore() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};
}  // namespace

ExperimentOutcome run_experiment(const ExperimentRequest& req) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  // 1. Start-up: config, plugins, checks, device. Every error here happens before the store is touched.
  check_db_path(req.db_path);
  StartupOptions so;
  so.config_path = req.config_path;
  so.overrides = req.overrides;
  so.plugin_dirs = req.plugin_dirs;
  ResumeFacts resume;
  if (req.resume_run) {
    resume = resume_facts(req.db_path, *req.resume_run);
    so.config_path = "run " + std::to_string(*req.resume_run) + " (its stored config)";
    so.config_text = resume.config_yaml;
  }
  Session session(so);
  const ResolvedConfig& resolved = session.config();
  if (req.resume_run) check_resumable(resume, *req.resume_run, resolved, session.loader());
  if (req.expect_config_hash && resolved.hash != *req.expect_config_hash)
    throw InputError("--expect-config: " + so.config_path + " resolves to config " + resolved.hash.substr(0, 12) +
                     ", not the " + req.expect_config_hash->substr(0, 12) +
                     " the sweep planned for this trial (the file changed after the sweep read it); nothing was run");
  if (req.check_only) {
    session.build_components();
    std::cout << resolved.yaml << std::flush;
    session.log()->info("config OK ({} components, device {}); nothing was run or recorded",
                        resolved.components.size(), session.device());
    return ExperimentOutcome{};
  }
  // init_from names checkpoints of earlier runs: refuse a bad one before the run row exists.
  check_init_from(resolved, req.db_path);
  const Params& top = resolved.section("");
  const int threads = configure_threads(top.integer("threads"));
  tune_allocator();
  const uint64_t seed = static_cast<uint64_t>(top.integer("seed"));
  seed_everything(seed);
  // Data parallel (--nproc, srun, distributed: keys): join the group before the run row exists, so a rank that
  // cannot join leaves nothing behind. The world size is recorded with the run as params distributed.*.
  std::string db_path = req.db_path;
  std::optional<int64_t> sweep_id = req.sweep_id;
  ScratchStore scratch;
  ResolvedConfig recorded = resolved;
  if (auto dist = distributed::resolve(requested(resolved.section("distributed")))) {
    if (!distributed::active()) distributed::init(*dist);
    if (dist->rank != 0) {
      db_path = scratch.open(dist->rank);
      sweep_id.reset();
    }
    recorded.flat.emplace_back("distributed.world_size", std::to_string(dist->world_size));
    recorded.flat.emplace_back("distributed.backend", dist->backend);
    session.log()->info("data parallel: rank {} of {} ({} at {}:{})", dist->rank, dist->world_size, dist->backend,
                        dist->address, dist->port);
  }
  const RunInfo info = run_info(recorded, session.device(), threads, req.command_line, sweep_id);

  // 2. The run row: from here on, whatever happens is recorded.
  auto recorder = req.resume_run ? std::make_unique<RunRecorder>(db_path, *req.resume_run, session.log())
                                 : std::make_unique<RunRecorder>(db_path, info, recorded, session.log());
  RunRecorder& rec = *recorder;
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
    context.set_resume(req.resume_run.has_value());
    if (req.resume_run) log->info("run {} resumed: completed stages load their checkpoints", rec.id());
    const std::unique_ptr<Method> method = make_method(session.registry(), resolved, pctx);
    if (distributed::active() && method->data_parallel() == DataParallel::none)
      throw InputError("data parallel (--nproc / srun / distributed:): the " + method->describe() +
                       " cannot run over several processes (it declares DataParallel::none); run it in one process");
    context.set_data_parallel(method->data_parallel());
    out.result = method->run(context);
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
