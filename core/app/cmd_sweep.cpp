// xrec sweep SPEC|BASE [key=value ...] [--grid key=v1,v2]... [--seeds 1,2,3] [-j N] ...; sweep list; sweep show
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "cli.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/config.hpp"
#include "xrec/engine/schema.hpp"
#include "xrec/data/data_pipeline.hpp"
#include "xrec/engine/builtins.hpp"
#include "xrec/engine/experiment.hpp"
#include "xrec/engine/startup.hpp"
#include "xrec/loader.hpp"
#include "xrec/registry.hpp"
#include "xrec/store.hpp"
#include "xrec/sweep/leaderboard.hpp"
#include "xrec/sweep/runner.hpp"
#include "xrec/sweep/slurm.hpp"

namespace xrec::cli {

namespace fs = std::filesystem;

namespace {

const char* kSweepUsage =
    "usage: xrec sweep SPEC.yaml|CONFIG.yaml [key=value ...] [--grid key=v1,v2]... [--seeds 1,2,3]\n"
    "                  [-j N] [--threads K] [--timeout SECONDS] [--name NAME] [--select METRIC[:max|min]]\n"
    "                  [--dry-run] [--check-data] [--retry-failed] [--max-retries N] [--only-missing]\n"
    "                  [--rerun LABEL[,LABEL...]] [--exec]\n"
    "                  [--db PATH] [--plugin-path DIR]...\n"
    "       xrec sweep SPEC ... --emit slurm DIR | --slurm [--slurm-dir DIR] [--partition P] [--time T]\n"
    "                  [--cpus-per-task N] [--mem M] [--array-parallelism N]\n"
    "       xrec sweep list [--db PATH]\n"
    "       xrec sweep show ID|NAME [--metrics all|KEY,...] [--csv | --json] [--db PATH]\n"
    "  Runs every point of a sweep (a spec file with base:/grid:/variants:/random:/seeds:, or a config plus\n"
    "  --grid/--seeds) as its own `xrec run` process, N at a time, each point once per seed. Every point is\n"
    "  validated first (--check-data: their data sections are loaded too, once per distinct data config, so a\n"
    "  missing file, column or feature stops the sweep before any trial; with --dry-run, a full preflight).\n"
    "  Running the same sweep (--name, default: the spec file's name) again skips finished\n"
    "  trials, re-runs interrupted and failed ones (failed: up to --max-retries attempts, default 3, or\n"
    "  always with --retry-failed) and runs new ones; --only-missing runs only trials that never ran.\n"
    "  --rerun runs the named points' finished trials again (after a fix that changed what they compute but\n"
    "  not their config or plugins); the earlier runs stay in the store, the new ones become the trials'.\n"
    "  -j N: trials at once (default 1); threads per trial default to cores / N. --timeout: per trial.\n"
    "  Each trial is a forked child of the driver (LibTorch and plugins already loaded); --exec starts a\n"
    "  fresh `xrec run` process per trial instead.\n"
    "  --emit slurm DIR writes DIR/plan.yaml (the frozen trials) and DIR/job.sh (a job array, task i runs\n"
    "  trial i into its own shard DIR/shards/*.db); --slurm also submits it with sbatch, follows it with\n"
    "  squeue and merges the shards into the store (DIR: --emit's, else <store folder>/<store stem>/slurm/<name>).\n"
    "  Resume flags pick the array's tasks. See docs/sweeps.md and docs/scale-out.md.\n";

// The start-up a sweep validates its points with: plugins loaded once, then Config::load + resolve per
// trial. Kept in this one place so it can switch to the shared run start-up (engine run parts).
class PointValidator {
 public:
  PointValidator(const sweep::Spec& spec, const std::vector<std::string>& plugin_dirs) : loader_(registry_) {
    engine::register_builtin_components(registry_);
    std::vector<std::string> dirs = plugin_dirs;
    for (auto& d : load(spec, {}).plugin_paths()) dirs.push_back(d);
    for (auto& d : default_plugin_dirs()) dirs.push_back(d);
    loader_.load_dirs(dirs);
    for (auto& p : loader_.problems())
      std::fprintf(stderr, "xrec sweep: warning: skipped plugin %s: %s\n", p.path.c_str(), p.message.c_str());
  }
  std::string config_hash(const sweep::Spec& spec, const std::vector<std::string>& overrides) const {
    return load(spec, overrides).resolve(registry_, engine::run_schema()).hash;
  }
  sweep::PointCheck operator()(const sweep::Spec& spec, const std::vector<std::string>& overrides) const {
    ResolvedConfig resolved = load(spec, overrides).resolve(registry_, engine::run_schema());
    engine::check_run_config(resolved);  // the same host checks as `xrec run` (method, select metric, threads)
    if (check_data_) load_data_once(resolved);
    sweep::PointCheck check;
    check.config_hash = resolved.hash;
    for (const auto& c : resolved.components)
      if (const LoadedPlugin* p = loader_.provider(c.kind, c.type)) check.plugins.emplace_back(p->name, p->sha256);
    check.select_metric = resolved.section("train").str("select_metric");
    return check;
  }
  // --check-data: also load every point's data sections (once per distinct data configuration), as `xrec run`
  // would, so a missing file, column or feature fails the preflight instead of a trial hours later.
  void check_data(bool on) { check_data_ = on; }

 private:
  void load_data_once(const ResolvedConfig& resolved) const {
    std::string key;
    for (const auto& [k, v] : resolved.flat)
      if (k.rfind("data.", 0) == 0 || k.rfind("split.", 0) == 0 || k == "data_root" || k == "seed")
        key += k + "=" + v + "\n";
    if (!data_checked_.insert(key).second) return;
    const Params& top = resolved.section("");
    PluginContext ctx;
    ctx.seed = static_cast<uint64_t>(top.integer("seed"));
    ctx.data_roots = engine::data_roots(top.str("data_root"));
    ctx.log = spdlog::default_logger()->clone("data");
    ctx.log->set_level(spdlog::level::warn);
    const std::vector<const ComponentConfig*> sections = engine::data_sections(resolved);
    for (size_t i = 0; i < sections.size(); ++i) {
      const ComponentConfig* section = sections[i];
      try {
        const engine::LoadedDomain d = engine::load_domain(registry_, *section, ctx);
        // Split too, as a run would: a split the domain cannot take (`given` without shipped files) fails here.
        engine::make_task(d.data, i == 0 ? "target" : "source", i, resolved, ctx.seed, *section);
        const std::string name = section->params.has("catalog") && !section->params.str("catalog").empty()
                                     ? section->params.str("catalog")
                                     : section->type;
        std::printf("data ok: %s (%s, %zu users)\n", name.c_str(), d.from_cache ? "data cache" : "read from files",
                    d.data.sequences.size());
      } catch (const std::exception& e) {
        throw InputError(std::string("--check-data: ") + e.what());
      }
    }
  }
  static Config load(const sweep::Spec& spec, const std::vector<std::string>& overrides) {
    if (!spec.base_inline.empty()) return Config::parse(spec.base_inline, spec.source + " (base:)", overrides);
    return Config::load(spec.base_path, overrides);
  }
  Registry registry_;
  PluginLoader loader_;
  bool check_data_ = false;
  mutable std::set<std::string> data_checked_;
};

int sweep_list(const Args& args) {
  Store store(db_path(args), true);
  auto r = store.query(
      "SELECT s.id, s.name, s.status, s.created_at AS created, s.select_metric AS metric,"
      " count(t.trial_key) AS trials, sum(t.status = 'finished') AS finished, sum(t.status = 'failed') AS failed,"
      " sum(t.status IN ('pending', 'interrupted')) AS open FROM sweeps AS s LEFT JOIN trials AS t"
      " ON t.sweep_id = s.id GROUP BY s.id ORDER BY s.id");
  if (r.rows.empty()) {
    std::printf("no sweeps in %s\n", store.path().c_str());
    return 0;
  }
  print_table(r.columns, r.rows);
  return 0;
}

int sweep_show(const Args& args) {
  if (args.positional.size() != 2) throw InputError("sweep show: expected one sweep id or name (xrec sweep list)");
  Store store(db_path(args), true);
  auto sweep = store.find_sweep(args.positional[1]);
  if (!sweep)
    throw InputError("sweep show: no sweep '" + args.positional[1] + "' in " + store.path() + " (xrec sweep list)");
  sweep::Leaderboard board = sweep::leaderboard(store, *sweep);
  if (args.flag("csv") && args.flag("json")) throw InputError("sweep show: --csv and --json exclude each other");
  if (args.flag("csv")) {
    std::cout << to_csv(sweep::leaderboard_table(board, false));
    return 0;
  }
  if (args.flag("json")) {
    std::cout << to_json(sweep::leaderboard_table(board, false));
    return 0;
  }
  std::printf("sweep %lld '%s' (%s), select %s (%s) on validation; mean ± std over seeds\n",
              static_cast<long long>(sweep->id), sweep->name.c_str(), sweep->status.c_str(),
              sweep->select_metric.c_str(), sweep->select_higher_is_better ? "max" : "min");
  std::vector<std::string> keys = sweep::default_test_keys(board);
  if (auto m = args.option("metrics")) keys = *m == "all" ? std::vector<std::string>{} : sweep::split_values(*m);
  auto table = sweep::leaderboard_table(board, true, keys);
  print_table(table.columns, table.rows);
  return 0;
}

int to_int(const std::string& option, const std::string& v, int low) {
  size_t used = 0;
  int n = 0;
  try {
    n = std::stoi(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (v.empty() || used != v.size() || n < low)
    throw InputError(option + ": expected an integer >= " + std::to_string(low) + ", got '" + v + "'");
  return n;
}

// --emit slurm DIR / --slurm: fold in the shards of earlier submissions (so resume sees them), plan again,
// write the array, and with --slurm submit, follow and merge.
template <class Validate>
int sweep_slurm(const Args& args, const sweep::Spec& spec, sweep::Plan plan, const sweep::Options& opt,
                std::string dir, const Validate& validator) {
  const std::string name = opt.name;
  if (dir.empty()) dir = args.option("slurm-dir").value_or("");
  if (dir.empty()) dir = (store_files_dir(opt.db_path) / "slurm" / name).string();
  sweep::SlurmOptions slurm;
  slurm.partition = args.option("partition").value_or("");
  slurm.time = args.option("time").value_or("");
  slurm.mem = args.option("mem").value_or("");
  if (auto c = args.option("cpus-per-task")) slurm.cpus_per_task = to_int("--cpus-per-task", *c, 1);
  if (auto p = args.option("array-parallelism")) slurm.array_parallelism = to_int("--array-parallelism", *p, 1);
  double poll = 5;
  if (auto p = args.option("poll")) poll = to_int("--poll", *p, 1);
  auto merge_shards = [&]() -> bool {
    std::error_code ec;
    const fs::path shards = fs::path(dir) / "shards";
    std::vector<std::string> files;
    if (fs::is_directory(shards, ec))
      for (auto& e : fs::directory_iterator(shards, ec))
        if (e.path().extension() == ".db") files.push_back(e.path().string());
    if (files.empty()) return false;
    std::sort(files.begin(), files.end());
    Store store(opt.db_path);
    MergeReport r = store.merge(files);
    std::printf("merged %d shard(s) of %s into %s: %d run(s) added, %d trial(s) added, %d updated\n", r.shards,
                dir.c_str(), store.path().c_str(), r.runs_added, r.trials_added, r.trials_updated);
    return true;
  };
  if (merge_shards()) {
    Store store(opt.db_path, true);
    plan = sweep::make_plan(
        spec, [&](const sweep::Spec& s, const std::vector<std::string>& o) { return validator(s, o); }, &store, opt);
  }
  std::vector<size_t> ids = sweep::emit_slurm(plan, opt, slurm, dir);
  std::printf("sweep '%s': %zu trial(s), %zu in the array (%s); wrote %s/plan.yaml and %s/job.sh\n", name.c_str(),
              plan.trials.size(), ids.size(), ids.empty() ? "nothing to run" : sweep::array_ranges(ids).c_str(),
              dir.c_str(), dir.c_str());
  for (auto& t : plan.trials)
    if (!t.run) std::printf("  skip %s%s: %s\n", t.record.point_label.c_str(),
                            t.record.seed >= 0 ? (" seed " + std::to_string(t.record.seed)).c_str() : "",
                            t.why.c_str());
  if (!args.flag("slurm")) {
    if (!ids.empty())
      std::printf("submit: sbatch %s/job.sh; then: xrec merge %s/shards --db %s\n", dir.c_str(), dir.c_str(),
                  opt.db_path.c_str());
    return 0;
  }
  if (ids.empty()) return 0;
  const std::string job = sweep::slurm_submit(dir);
  std::printf("submitted job array %s (%zu task(s)); following it with squeue every %.0f s\n", job.c_str(),
              ids.size(), poll);
  std::fflush(stdout);
  sweep::slurm_follow(job, poll, [&](int left) {
    std::printf("job %s: %d task(s) pending or running\n", job.c_str(), left);
    std::fflush(stdout);
  });
  merge_shards();
  // What the submitted tasks left: a task that never wrote its shard is missing.
  Store store(opt.db_path, true);
  int failed = 0, missing = 0;
  auto sw = store.find_sweep(name);
  std::map<std::string, TrialRecord> stored;
  if (sw && sw->name == name)
    for (auto& t : store.trials(sw->id)) stored[t.key] = t;
  for (size_t i : ids) {
    const auto& rec = plan.trials[i].record;
    auto it = stored.find(rec.key);
    const std::string st = it == stored.end() ? "missing" : it->second.status;
    if (st == "finished") continue;
    const bool never = st == "missing" || st == "pending";
    (never ? missing : failed)++;
    std::printf("  task %zu (%s%s): %s%s\n", i, rec.point_label.c_str(),
                rec.seed >= 0 ? (" seed " + std::to_string(rec.seed)).c_str() : "", never ? "missing" : st.c_str(),
                it != stored.end() && !it->second.error.empty()
                    ? (": " + it->second.error.substr(0, it->second.error.find('\n'))).c_str()
                    : "");
  }
  std::printf("job %s: %zu task(s), %d failed, %d missing%s\n", job.c_str(), ids.size(), failed, missing,
              failed + missing ? "; resubmit with the same command (--retry-failed, --only-missing)" : "");
  return failed + missing > 0 ? 1 : 0;
}

}  // namespace

int cmd_sweep(const std::vector<std::string>& argv) {
  // Repeatable options and -j first; the generic parser keeps the last value.
  std::vector<std::string> rest, plugin_dirs, grids;
  std::string emit_dir, task_dir, task_index;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    auto value = [&](const std::string& name) {
      if (i + 1 >= argv.size()) throw InputError(name + " needs a value");
      return argv[++i];
    };
    if (a == "--plugin-path")
      plugin_dirs.push_back(value(a));
    else if (a.rfind("--plugin-path=", 0) == 0)
      plugin_dirs.push_back(a.substr(14));
    else if (a == "--grid")
      grids.push_back(value(a));
    else if (a == "--emit") {
      const std::string kind = value(a);
      if (kind != "slurm") throw InputError("--emit " + kind + ": the only target is slurm (--emit slurm DIR)");
      emit_dir = value("--emit slurm");
    } else if (a == "--task") {  // an array task of an emitted sweep (job.sh calls it)
      task_dir = value(a);
      task_index = value("--task DIR");
    }
    else if (a.rfind("--grid=", 0) == 0)
      grids.push_back(a.substr(7));
    else if (a == "-j")
      rest.push_back("--jobs=" + value(a));
    else if (a.rfind("-j", 0) == 0 && a.size() > 2 && a[2] != '-')
      rest.push_back("--jobs=" + a.substr(2));
    else
      rest.push_back(a);
  }
  Args args =
      parse("sweep", rest,
            {"db", "jobs", "threads", "timeout", "name", "seeds", "select", "max-retries", "rerun", "metrics", "slurm-dir",
             "partition", "time", "cpus-per-task", "mem", "array-parallelism", "poll"},
            {"help", "dry-run", "check-data", "retry-failed", "only-missing", "exec", "csv", "json", "slurm"});
  if (!task_dir.empty()) {
    std::error_code ec;
    const std::string self = fs::read_symlink("/proc/self/exe", ec).string();
    if (ec || self.empty()) throw Error("sweep --task: cannot find the xrec executable (/proc/self/exe)");
    return sweep::run_slurm_task(task_dir, static_cast<size_t>(to_int("--task DIR I", task_index, 0)), self);
  }
  if (args.flag("help") || args.positional.empty()) {
    std::fputs(kSweepUsage, args.flag("help") ? stdout : stderr);
    return args.flag("help") ? 0 : 2;
  }
  for (const char* o : {"slurm-dir", "partition", "time", "cpus-per-task", "mem", "array-parallelism", "poll"})
    if (args.option(o) && emit_dir.empty() && !args.flag("slurm"))
      throw InputError(std::string("--") + o + " is for a sweep on Slurm: add --emit slurm DIR or --slurm");
  if (args.positional[0] == "list") return sweep_list(args);
  if (args.positional[0] == "show") return sweep_show(args);

  const std::string& first = args.positional[0];
  std::error_code ec;
  if (!fs::is_regular_file(first, ec)) throw InputError("sweep: no spec or config file at " + first);
  sweep::Spec spec;
  if (sweep::is_spec_file(first)) {
    spec = sweep::load_spec(first);
  } else {
    spec.base_path = first;
    spec.name = fs::path(first).stem().string();
    spec.source = "<command line>";
  }
  std::string cli_text;
  for (auto& a : argv) cli_text += (cli_text.empty() ? "" : " ") + a;
  if (spec.text.empty()) spec.text = "# xrec sweep " + cli_text + "\n";
  for (size_t i = 1; i < args.positional.size(); ++i)
    spec.final_overrides.push_back(sweep::parse_override(args.positional[i], "sweep"));
  for (auto& g : grids) sweep::add_grid_arg(spec, g);
  if (auto s = args.option("seeds")) sweep::set_seeds_arg(spec, *s);
  if (auto s = args.option("select")) {
    const size_t colon = s->find(':');
    spec.select_metric = s->substr(0, colon);
    if (colon != std::string::npos) spec.select_mode = s->substr(colon + 1);
    if (spec.select_metric.empty() ||
        (colon != std::string::npos && spec.select_mode != "max" && spec.select_mode != "min"))
      throw InputError("--select " + *s + ": expected METRIC or METRIC:max / METRIC:min");
  }
  if (!args.positional.empty() && spec.text.rfind("# xrec sweep", 0) != 0)
    spec.text += "\n# command line: " + cli_text + "\n";

  sweep::Options opt;
  opt.name = args.option("name").value_or(spec.name);
  opt.jobs = args.option("jobs") ? to_int("-j", *args.option("jobs"), 1) : 1;
  opt.threads = args.option("threads") ? to_int("--threads", *args.option("threads"), 1) : 0;
  if (auto t = args.option("timeout")) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(*t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != t->size() || !(v > 0)) throw InputError("--timeout: expected seconds > 0, got '" + *t + "'");
    opt.timeout_s = v;
  }
  opt.retry_failed = args.flag("retry-failed");
  opt.only_missing = args.flag("only-missing");
  if (auto r = args.option("rerun")) {
    for (auto& label : sweep::split_values(*r))  // labels such as `x=[1, 2]` keep their inner commas
      if (!label.empty()) opt.rerun.push_back(label);
    if (opt.rerun.empty()) throw InputError("--rerun: expected point labels, e.g. --rerun relearn,finetune");
  }
  if (auto m = args.option("max-retries")) opt.max_retries = to_int("--max-retries", *m, 1);
  opt.db_path = db_path(args);
  opt.plugin_dirs = plugin_dirs;
  opt.xrec_binary = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec || opt.xrec_binary.empty()) throw Error("sweep: cannot find the xrec executable (/proc/self/exe)");
  opt.progress_tty = isatty(STDOUT_FILENO) != 0;
  // A trial is a forked child of this driver that runs `xrec run` in-process: LibTorch and the plugins are
  // already loaded here, so a trial skips that fixed cost (docs/sweeps.md). --exec starts a fresh xrec
  // process per trial instead.
  if (!args.flag("exec"))
    opt.in_process = [](const std::vector<std::string>& run_args) {
      const int code = dispatch(run_args);
      spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
      return code;
    };

  // 1. Validate every trial (nothing is written before this passes).
  PointValidator validator(spec, plugin_dirs);
  validator.check_data(args.flag("check-data"));
  opt.config_hash = [&validator, &spec](const std::vector<std::string>& overrides) {
    return validator.config_hash(spec, overrides);
  };
  // Planning reads the store without writing it (a bad spec or point leaves no file behind). A store of an
  // older schema is read as it is (the run migrates it): its finished trials are skipped like any others.
  // Only a store older than the sweep tables holds no trials.
  std::unique_ptr<Store> existing;
  if (fs::exists(opt.db_path, ec)) {
    existing = std::make_unique<Store>(opt.db_path, true);
    if (existing->schema_version() < Store::kFirstTrialsSchemaVersion) existing.reset();
  }
  sweep::Plan plan = sweep::make_plan(
      spec, [&](const sweep::Spec& s, const std::vector<std::string>& o) { return validator(s, o); }, existing.get(),
      opt);
  existing.reset();
  for (auto& note : plan.notes) std::printf("note: %s\n", note.c_str());

  if (args.flag("dry-run")) {
    std::printf("sweep '%s': %zu point(s) x %zu seed(s) = %zu trial(s); %d to run; select %s (%s) on validation\n",
                opt.name.c_str(), plan.points.size(), std::max<size_t>(1, spec.seeds.size()), plan.trials.size(),
                plan.to_run(), plan.select_metric.c_str(), plan.higher_is_better ? "max" : "min");
    std::vector<std::string> columns{"point", "overrides", "seed", "key", "action"};
    std::vector<std::vector<std::optional<std::string>>> rows;
    for (const auto& t : plan.trials)
      rows.push_back({std::to_string(t.record.point), t.record.point_label,
                      t.record.seed >= 0 ? std::to_string(t.record.seed) : std::string("(config)"),
                      t.record.key.substr(0, 12), std::string(t.run ? "run: " : "skip: ") + t.why});
    print_table(columns, rows);
    return 0;
  }
  if (!emit_dir.empty() || args.flag("slurm")) return sweep_slurm(args, spec, plan, opt, emit_dir, validator);
  Store store(opt.db_path);
  sweep::Summary summary = sweep::execute(plan, store, opt);
  if (summary.stopped) throw Interrupted("sweep '" + opt.name + "' stopped; run the same command again to resume");
  return summary.failed > 0 ? 1 : 0;
}

}  // namespace xrec::cli
