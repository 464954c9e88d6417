#include "xrec/engine/run_evaluation.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "xrec/api/errors.hpp"
#include "xrec/engine/data_stage.hpp"
#include "xrec/engine/run_context.hpp"
#include "xrec/engine/run_recorder.hpp"
#include "xrec/engine/runtime.hpp"
#include "xrec/engine/startup.hpp"

namespace fs = std::filesystem;

namespace xrec::engine {

namespace {

std::string shape(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// Module::load would silently take the checkpoint's shapes (Tensor::set_); here every parameter and
// buffer must exist in both with the same shape, and the checkpoint must hold nothing the model lacks.
void load_checked(torch::nn::Module& module, torch::serialize::InputArchive& archive, const std::string& prefix,
                  std::vector<std::string>& problems) {
  std::set<std::string> known;
  auto take = [&](const std::string& key, torch::Tensor& into, bool buffer) {
    known.insert(key);
    torch::Tensor stored;
    if (!archive.try_read(key, stored, buffer)) {
      problems.push_back(prefix + key + ": not in the checkpoint");
    } else if (stored.sizes() != into.sizes()) {
      problems.push_back(prefix + key + ": checkpoint " + shape(stored) + ", model " + shape(into));
    } else {
      torch::NoGradGuard no_grad;
      into.copy_(stored);
    }
  };
  for (auto& p : module.named_parameters(/*recurse=*/false)) take(p.key(), p.value(), false);
  for (auto& b : module.named_buffers(/*recurse=*/false)) take(b.key(), b.value(), true);
  for (auto& c : module.named_children()) {
    known.insert(c.key());
    torch::serialize::InputArchive child;
    if (!archive.try_read(c.key(), child)) {
      problems.push_back(prefix + c.key() + ": not in the checkpoint");
      continue;
    }
    load_checked(*c.value(), child, prefix + c.key() + ".", problems);
  }
  for (auto& k : archive.keys())
    if (!known.count(k)) problems.push_back(prefix + k + ": in the checkpoint, not in the model");
}

// The model the run's strategy built, with the checkpoint loaded. A strategy lays its model's domains out
// as the target alone (scratch), the target then the sources (meta transfer) or the sources then the
// target (pre-training, joint); the config does not say which, but the checkpoint's names and shapes do.
// Exactly one layout must fit: one that does not, or two that do (domains of equal shapes), is an error.
std::pair<std::shared_ptr<SequenceModel>, int64_t> rebuild_model(RunContext& context, const fs::path& checkpoint,
                                                                 const std::string& device, const std::string& run) {
  struct Layout {
    std::string name;
    std::vector<const Task*> domains;
    int64_t target_domain;
  };
  const Task& target = context.target();
  std::vector<Layout> layouts{{"the target alone", {&target}, 0}};
  if (!context.sources().empty()) {
    Layout first{"the target, then the sources", {&target}, 0};
    Layout last{"the sources, then the target", {}, static_cast<int64_t>(context.sources().size())};
    for (const Task& s : context.sources()) {
      first.domains.push_back(&s);
      last.domains.push_back(&s);
    }
    last.domains.push_back(&target);
    layouts.push_back(first);
    layouts.push_back(last);
  }
  std::shared_ptr<SequenceModel> chosen;
  int64_t target_domain = 0;
  std::vector<std::string> fitting, closest;
  for (const Layout& layout : layouts) {
    auto model = context.make_model(layout.domains);
    torch::serialize::InputArchive archive;
    archive.load_from(checkpoint.string(), torch::Device(device));
    std::vector<std::string> problems;
    load_checked(*model, archive, "", problems);
    if (problems.empty()) {
      fitting.push_back(layout.name);
      chosen = model;
      target_domain = layout.target_domain;
    } else if (closest.empty() || problems.size() < closest.size()) {
      closest = problems;
    }
  }
  if (fitting.size() > 1)
    throw InputError("checkpoint " + checkpoint.string() + " fits the model of run " + run + " with its domains as " +
                     fitting[0] + " and as " + fitting[1] +
                     " (domains of equal shapes), so which item table is the target's is ambiguous");
  if (fitting.empty()) {
    std::string text;
    for (size_t i = 0; i < closest.size() && i < 8; ++i) text += "\n  " + closest[i];
    if (closest.size() > 8) text += "\n  ... " + std::to_string(closest.size() - 8) + " more";
    throw InputError("checkpoint " + checkpoint.string() + " does not fit the model rebuilt from run " + run +
                     "'s config (a changed plugin or shape" +
                     (layouts.size() > 1 ? "; its domains tried in " + std::to_string(layouts.size()) +
                                               " layouts, the closest shown"
                                         : std::string()) +
                     "):" + text);
  }
  return {chosen, target_domain};
}

struct SourceRun {
  std::string config_yaml, run_dir, name;
};

SourceRun find_run(const std::string& db_path, int64_t run) {
  std::error_code ec;
  if (!fs::exists(db_path, ec)) throw InputError("no store at " + db_path + " (pass --db)");
  Store store(db_path, /*read_only=*/true);
  const QueryResult r = store.query("SELECT config_yaml, run_dir, name FROM runs WHERE id = " + std::to_string(run));
  if (r.rows.empty()) throw InputError("no run " + std::to_string(run) + " in " + db_path);
  const auto& row = r.rows[0];
  if (!row[0] || row[0]->empty()) throw InputError("run " + std::to_string(run) + " has no stored config");
  return {*row[0], row[1].value_or(""), row[2].value_or("")};
}

// <stage>-best.pt of the run: the given stage, or the run's only checkpoint.
std::pair<std::string, fs::path> find_checkpoint(const std::string& db_path, int64_t run, const SourceRun& src,
                                                 const std::string& stage) {
  const std::string id = std::to_string(run);
  const std::string suffix = "-best.pt";
  std::vector<std::string> stages;
  {
    Store store(db_path, /*read_only=*/true);
    const QueryResult r =
        store.query("SELECT path FROM artifacts WHERE kind = 'checkpoint' AND run_id = " + id + " ORDER BY path");
    for (auto& row : r.rows) {
      const std::string file = fs::path(row[0].value_or("")).filename().string();
      if (file.size() > suffix.size() && file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0)
        stages.push_back(file.substr(0, file.size() - suffix.size()));
    }
  }
  std::string list;
  for (auto& s : stages) list += (list.empty() ? "" : ", ") + s;
  std::string chosen = stage;
  if (chosen.empty()) {
    if (stages.empty())
      throw InputError("run " + id + " has no checkpoint (it ran with save_checkpoint: false, or ended before a " +
                       "stage finished)");
    if (stages.size() > 1)
      throw InputError("run " + id + " has checkpoints of stages " + list + ": pick one with --stage");
    chosen = stages[0];
  }
  if (src.run_dir.empty()) throw InputError("run " + id + " has no run folder");
  const fs::path path = fs::path(src.run_dir) / (chosen + suffix);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw InputError("run " + id + " has no checkpoint of stage '" + chosen + "' (" + path.string() + " is missing)" +
                     (stages.empty() ? std::string() : "; its checkpoints: " + list));
  return {chosen, path};
}

// A plugin rebuilt since the source run may compute something else from the same weights: said, not
// refused (the checkpoint's names and shapes are checked when it is loaded).
void warn_changed_plugins(const std::string& db_path, int64_t run, const Session& session) {
  Store store(db_path, /*read_only=*/true);
  const QueryResult r = store.query("SELECT name, sha256 FROM plugins WHERE run_id = " + std::to_string(run));
  std::set<std::string> seen;
  for (auto& c : session.config().components) {
    const LoadedPlugin* p = session.loader().provider(c.kind, c.type);
    if (!p || !seen.insert(p->name).second) continue;
    for (auto& row : r.rows)
      if (row[0].value_or("") == p->name && row[1].value_or("") != p->sha256)
        session.log()->warn("plugin {} changed since run {} (sha256 {} then, {} now)", p->name, run,
                            row[1].value_or("?").substr(0, 12), p->sha256.substr(0, 12));
  }
}

}  // namespace

void check_eval_overrides(const std::vector<std::string>& overrides) {
  for (auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos) throw InputError("'" + o + "' is not an override (expected eval.key=value)");
    const std::string key = o.substr(0, eq);
    if (key.rfind("eval.", 0) != 0 || key.size() <= 5)
      throw InputError("xrec eval: '" + key + "' cannot change: the model and data are those of the stored run " +
                       "(only eval.* keys, e.g. eval.protocol=sampled)");
  }
}

ExperimentOutcome evaluate_run(const EvaluationRequest& req) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  check_db_path(req.db_path);
  check_eval_overrides(req.overrides);
  const std::string id = std::to_string(req.source_run);
  const SourceRun src = find_run(req.db_path, req.source_run);

  StartupOptions so;
  so.config_path = "run " + id + " (stored config)";
  so.config_text = src.config_yaml;
  so.overrides = req.overrides;
  so.plugin_dirs = req.plugin_dirs;
  Session session(so);
  const ResolvedConfig& resolved = session.config();
  if (resolved.component("baseline"))
    throw InputError("run " + id +
                     " is a baseline run: baselines keep no checkpoint (run it again with the new eval.*)");
  const auto [stage, checkpoint] = find_checkpoint(req.db_path, req.source_run, src, req.stage);
  warn_changed_plugins(req.db_path, req.source_run, session);

  const Params& top = resolved.section("");
  const int threads = configure_threads(top.integer("threads"));
  const uint64_t seed = static_cast<uint64_t>(top.integer("seed"));
  seed_everything(seed);
  // The data first, before the run row: a dataset that is gone is an error, not a failed run.
  PluginContext pctx;
  pctx.log = session.log();
  pctx.seed = seed;
  pctx.device = session.device();
  pctx.data_roots = data_roots(top.str("data_root"));
  DataStage data(session.registry(), resolved, pctx);

  RunInfo info = run_info(resolved, session.device(), threads, req.command_line);
  RunRecorder rec(req.db_path, info, resolved, session.log());
  ExperimentOutcome out;
  out.run_id = rec.id();
  try {
    rec.open_folder(resolved.yaml);
    auto log = rec.log();
    log->info("run {}: evaluating run {}'s checkpoint {} (stage {}), no training", rec.id(), id, checkpoint.string(),
              stage);
    rec.add_artifact("input", checkpoint.string());
    rec.record_plugins(session.loader(), resolved);
    data.record(rec.store(), rec.id());
    pctx.log = log;
    pctx.run_dir = rec.dir().string();
    install_interrupt_handlers();
    RunContext context(session.registry(), resolved, rec.store(), rec.id(), pctx, torch::Device(info.device),
                       data.take_tasks());
    const Task& target = context.target();
    const auto [model, target_domain] = rebuild_model(context, checkpoint, info.device, id);
    // Sampled negatives come with the cases; re-seeded anyway, so that nothing evaluated below could depend
    // on how many layouts were tried.
    seed_everything(seed);
    out.result.valid = context.evaluate(*model, target_domain, target, Split::Valid, "eval");
    out.result.test = context.evaluate(*model, target_domain, target, Split::Test, "eval");
    out.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    rec.record_result(out.result, out.seconds);
    rec.finish();
    out.status = RunStatus::Finished;
    print_results(out.result, info.select_metric);
    log->info("run {} (eval of run {}) finished in {:.1f}s; stored in {}", rec.id(), id, out.seconds,
              rec.store().path());
    return out;
  } catch (const Interrupted& e) {
    rec.fail(RunStatus::Interrupted, e.what());
    throw;
  } catch (const std::exception& e) {
    rec.fail(RunStatus::Failed, e.what());
    rec.log()->error("run {} failed: {}", rec.id(), e.what());
    throw;
  }
}

}  // namespace xrec::engine
