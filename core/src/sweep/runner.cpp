#include "xrec/sweep/runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "xrec/api/errors.hpp"
#include "xrec/api/metrics.hpp"
#include "xrec/config.hpp"
#include "xrec/sha256.hpp"

namespace xrec::sweep {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int Plan::to_run() const {
  return static_cast<int>(std::count_if(trials.begin(), trials.end(), [](const TrialPlan& t) { return t.run; }));
}

std::string trial_key(const std::string& config_hash, const std::string& plugins_sha) {
  return sha256_hex(config_hash + "\n" + plugins_sha);
}

std::string plugins_digest(std::vector<std::pair<std::string, std::string>> plugins, std::string* text) {
  std::sort(plugins.begin(), plugins.end());
  plugins.erase(std::unique(plugins.begin(), plugins.end()), plugins.end());
  std::string list;
  for (auto& [name, sha] : plugins) list += name + ":" + sha + "\n";
  if (text) *text = list;
  return sha256_hex(list);
}

namespace {

std::map<std::string, std::string> parse_plugin_list(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    size_t colon = line.find(':');
    if (colon != std::string::npos) out[line.substr(0, colon)] = line.substr(colon + 1);
    start = end + 1;
  }
  return out;
}

}  // namespace

Plan make_plan(const Spec& spec, const Validator& validate, const Store* store, const Options& options) {
  Plan plan;
  plan.spec = spec;
  plan.points = expand(spec);
  std::vector<int64_t> seeds = spec.seeds;
  const bool own_seed = seeds.empty();
  if (own_seed) seeds.push_back(-1);  // the config's own seed
  std::vector<std::string> errors;
  std::string config_select;
  for (const Point& point : plan.points) {
    for (int64_t seed : seeds) {
      TrialPlan t;
      for (const auto& o : point.overrides) t.overrides.push_back(o.str());
      if (!own_seed) t.overrides.push_back("seed=" + std::to_string(seed));
      PointCheck check;
      try {
        check = validate(spec, t.overrides);
      } catch (const InputError& e) {
        std::string what = "point " + std::to_string(point.index) + " (" + point.label +
                           (own_seed ? "" : ", seed " + std::to_string(seed)) + "): " + e.what();
        if (std::find(errors.begin(), errors.end(), what) == errors.end()) errors.push_back(what);
        continue;
      }
      if (config_select.empty()) config_select = check.select_metric;
      TrialRecord& r = t.record;
      r.point = point.index;
      r.point_label = point.label;
      r.seed = seed;
      r.config_hash = check.config_hash;
      r.plugins_sha = plugins_digest(check.plugins, &r.plugins);
      r.key = trial_key(r.config_hash, r.plugins_sha);
      plan.trials.push_back(std::move(t));
    }
  }
  if (!errors.empty()) {
    std::string msg = std::to_string(errors.size()) + " invalid point(s) in the sweep; nothing was run:";
    for (size_t i = 0; i < errors.size() && i < 20; ++i) msg += "\n  " + errors[i];
    if (errors.size() > 20) msg += "\n  ... and " + std::to_string(errors.size() - 20) + " more";
    throw ConfigError(msg);
  }
  // Seeds of one point whose configs resolve the same (the grid value is the default, say) stay one trial.
  {
    std::set<std::string> seen;
    std::vector<TrialPlan> unique;
    for (auto& t : plan.trials)
      if (seen.insert(t.record.key).second) unique.push_back(std::move(t));
    plan.trials = std::move(unique);
  }
  // Select: the spec's metric (else the config's train.select_metric); mode from the metric's direction.
  plan.select_metric = spec.select_metric.empty() ? config_select : spec.select_metric;
  if (plan.select_metric.empty()) plan.select_metric = "ndcg@10";
  const bool declared_higher = metric_direction(plan.select_metric) == MetricDirection::Higher;
  if (!spec.select_mode.empty() && (spec.select_mode == "max") != declared_higher)
    throw ConfigError((spec.source.empty() ? std::string("select") : spec.source) + ": select.mode '" +
                      spec.select_mode + "' contradicts the metric " + plan.select_metric + ", which is " +
                      (declared_higher ? "maximised" : "minimised") + "; drop mode: or use " +
                      (declared_higher ? "max" : "min"));
  plan.higher_is_better = declared_higher;

  for (const std::string& label : options.rerun)
    if (std::none_of(plan.points.begin(), plan.points.end(), [&](const Point& p) { return p.label == label; })) {
      std::string known;
      for (const Point& p : plan.points) known += (known.empty() ? "" : ", ") + p.label;
      throw InputError("--rerun " + label + ": not a point of the sweep (its points: " + known + ")");
    }
  // Resume: compare with what the store holds for a sweep of this name.
  std::map<std::string, TrialRecord> stored;
  std::map<std::pair<std::string, int64_t>, TrialRecord> stored_by_point;
  if (store) {
    const std::string name = options.name.empty() ? spec.name : options.name;
    if (auto s = store->find_sweep(name); s && s->name == name) {
      plan.sweep_id = s->id;
      for (auto& t : store->trials(s->id)) {
        stored_by_point[{t.point_label, t.seed}] = t;
        stored[t.key] = std::move(t);
      }
    }
  }
  std::set<std::string> changed_notes;
  for (auto& t : plan.trials) {
    auto it = stored.find(t.record.key);
    if (it == stored.end()) {
      t.run = true;
      t.why = "new";
      auto old = stored_by_point.find({t.record.point_label, t.record.seed});
      if (old != stored_by_point.end() && old->second.config_hash == t.record.config_hash &&
          old->second.plugins_sha != t.record.plugins_sha) {
        auto before = parse_plugin_list(old->second.plugins), now = parse_plugin_list(t.record.plugins);
        for (auto& [name, sha] : now)
          if (before.count(name) && before[name] != sha)
            changed_notes.insert("plugin " + name + " changed (sha256 " + before[name].substr(0, 12) + " -> " +
                                 sha.substr(0, 12) + "): its trials run again");
        t.why = "plugin changed";
      }
      continue;
    }
    const TrialRecord& s = it->second;
    t.record.status = s.status;
    t.record.attempts = s.attempts;
    t.record.run_id = s.run_id;
    if (s.status == "finished") {
      t.why = "finished (run " + (s.run_id ? std::to_string(*s.run_id) : std::string("?")) + ")";
      if (std::find(options.rerun.begin(), options.rerun.end(), t.record.point_label) != options.rerun.end()) {
        t.run = true;
        t.why += "; --rerun";
      }
    } else if (options.only_missing) {
      t.run = s.attempts == 0;
      t.why = t.run ? "never ran" : "ran before (" + s.status + "); --only-missing";
    } else if (s.status == "failed") {
      t.run = options.retry_failed || s.attempts < options.max_retries;
      t.why = t.run ? "failed before; retried"
                    : "failed " + std::to_string(s.attempts) + " time(s); --retry-failed to run it again";
    } else {
      t.run = true;  // pending, interrupted (a vanished trial was re-queued as interrupted)
      t.why = s.status == "pending" ? "never ran" : "was " + s.status;
    }
  }
  plan.notes.assign(changed_notes.begin(), changed_notes.end());
  return plan;
}

std::string file_tail(const std::string& path, size_t max_lines, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = std::max<std::streamoff>(0, size - static_cast<std::streamoff>(max_bytes * 4));
  in.seekg(from);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Whole lines only (the first one read may be cut), the last max_lines of them.
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (from > 0 && !lines.empty()) lines.erase(lines.begin());
  while (!lines.empty() && (lines.back().empty() || lines.back() == "\r")) lines.pop_back();
  std::string tail;
  for (size_t i = lines.size() > max_lines ? lines.size() - max_lines : 0; i < lines.size(); ++i)
    tail += (tail.empty() ? "" : "\n") + lines[i];
  if (tail.size() > max_bytes) tail = "..." + tail.substr(tail.size() - max_bytes);
  return tail;
}

std::string describe_signal(int sig) {
  const char* name = sig == SIGSEGV   ? "SIGSEGV"
                     : sig == SIGABRT ? "SIGABRT"
                     : sig == SIGKILL ? "SIGKILL"
                     : sig == SIGINT  ? "SIGINT"
                     : sig == SIGTERM ? "SIGTERM"
                     : sig == SIGBUS  ? "SIGBUS"
                     : sig == SIGFPE  ? "SIGFPE"
                     : sig == SIGILL  ? "SIGILL"
                                      : nullptr;
  std::string s = "killed by signal " + std::to_string(sig);
  if (name) s += std::string(" (") + name + ")";
  if (sig == SIGKILL) s += "; out of memory, or killed from outside";
  return s;
}

namespace {

volatile std::sig_atomic_t g_interrupts = 0;
void on_interrupt(int) { g_interrupts = g_interrupts + 1; }

// Installs the Ctrl-C handler for the scope of a sweep and restores the previous ones.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupts = 0;
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

struct Live {
  size_t index = 0;  // into plan.trials
  pid_t pid = 0;
  Clock::time_point started;
  std::string log;
  int64_t run_id = 0;
  bool timed_out = false;
};

std::string fmt_duration(double s) {
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

std::optional<int64_t> run_of(const Store& store, int64_t sweep, pid_t pid) {
  auto r = store.query("SELECT id FROM runs WHERE sweep_id = " + std::to_string(sweep) +
                       " AND pid = " + std::to_string(pid) + " ORDER BY id DESC LIMIT 1");
  if (r.rows.empty() || !r.rows[0][0]) return std::nullopt;
  return std::stoll(*r.rows[0][0]);
}

std::pair<std::string, std::string> run_status(const Store& store, int64_t run) {
  auto r = store.query("SELECT status, coalesce(error, '') FROM runs WHERE id = " + std::to_string(run));
  if (r.rows.empty()) return {"", ""};
  return {r.rows[0][0].value_or(""), r.rows[0][1].value_or("")};
}

std::optional<double> valid_metric(const Store& store, int64_t run, const std::string& metric) {
  std::string quoted;
  for (char ch : metric) quoted += ch == '\'' ? std::string("''") : std::string(1, ch);
  auto r = store.query("SELECT value FROM final_metrics WHERE run_id = " + std::to_string(run) +
                       " AND split = 'valid' AND key = '" + quoted + "'");
  if (r.rows.empty() || !r.rows[0][0]) return std::nullopt;
  return std::stod(*r.rows[0][0]);
}

}  // namespace

Summary execute(const Plan& plan, Store& store, const Options& options) {
  Summary summary;
  const Spec& spec = plan.spec;
  const std::string name = options.name.empty() ? spec.name : options.name;
  store.reconcile_stale_runs();
  const std::string base_text = spec.base_inline.empty() ? "" : spec.base_inline;
  summary.sweep_id = store.open_sweep(name, spec.text, base_text.empty() ? spec.base_path : base_text,
                                      spec.base_path.empty() ? sha256_hex(base_text) : sha256_file(spec.base_path),
                                      plan.select_metric, plan.higher_is_better);
  const int64_t sweep = summary.sweep_id;
  store.set_sweep_reference(sweep, spec.reference);
  std::vector<TrialRecord> records;
  for (const auto& t : plan.trials) records.push_back(t.record);
  store.add_trials(sweep, records);

  // Trial logs and an inline base live in the store's own folder, <store folder>/<store stem>/sweeps/<id>/:
  // sweep ids restart at 1 in every store, so a folder shared by two stores would mix their trials (it did:
  // a second store's sweep 1 overwrote the first's inline base while it ran).
  const fs::path folder = store_files_dir(options.db_path) / "sweeps" / std::to_string(sweep);
  fs::create_directories(folder);
  std::string base_path = spec.base_path;
  if (!spec.base_inline.empty()) {
    base_path = (folder / "base.yaml").string();
    std::ofstream(base_path) << spec.base_inline;
  }

  const int jobs = std::max(1, options.jobs);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = options.threads > 0 ? options.threads
                      : spec.threads > 0  ? static_cast<int>(spec.threads)
                                          : std::max(1, static_cast<int>(cores) / jobs);
  const double timeout = options.timeout_s > 0 ? options.timeout_s : spec.timeout_s;

  std::vector<size_t> queue;
  for (size_t i = 0; i < plan.trials.size(); ++i)
    if (plan.trials[i].run)
      queue.push_back(i);
    else
      ++summary.skipped;
  const size_t total = queue.size();

  InterruptGuard guard;
  std::vector<Live> live;
  size_t next = 0;
  int done = 0;
  double busy_seconds = 0;
  std::optional<double> best;
  std::string best_label;
  auto last_beat = Clock::now();
  auto last_progress = Clock::now();
  Clock::time_point interrupted_at{};
  bool kill_sent = false;
  const auto sweep_started = Clock::now();

  auto progress = [&](bool final_line) {
    const size_t running = live.size();
    std::string line = "sweep " + name + ": " + std::to_string(summary.finished) + " done, " +
                       std::to_string(summary.failed) + " failed, " + std::to_string(running) + " running, " +
                       std::to_string(total - next) + " queued";
    if (done > 0 && !summary.stopped && static_cast<size_t>(done) < total) {
      const double per_trial = busy_seconds / done;
      const double left = per_trial * static_cast<double>(total - static_cast<size_t>(done)) / jobs;
      line += ", ETA " + fmt_duration(left);
    }
    if (best) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.4f", *best);
      line += ", best " + plan.select_metric + " " + buf + " (" + best_label + ")";
    }
    if (options.progress_tty) {
      std::fprintf(stdout, "\r\033[K%s", line.c_str());
      if (final_line) std::fputc('\n', stdout);
    } else if (final_line) {
      std::fprintf(stdout, "%s\n", line.c_str());
    }
    std::fflush(stdout);
  };
  auto say = [&](const std::string& text) {
    if (options.progress_tty) std::fputs("\r\033[K", stdout);
    std::fprintf(stdout, "%s\n", text.c_str());
    std::fflush(stdout);
  };

  auto launch = [&](size_t index) {
    const TrialPlan& t = plan.trials[index];
    Live l;
    l.index = index;
    l.log = (folder / ("trial-" + t.record.key.substr(0, 12) + "-" + std::to_string(t.record.attempts + 1) + ".log"))
                .string();
    std::vector<std::string> args{options.xrec_binary, "run", base_path};
    std::vector<std::string> run_overrides = t.overrides;
    bool sets_threads = false;
    for (const auto& o : t.overrides) sets_threads = sets_threads || o.rfind("threads=", 0) == 0;
    if (!sets_threads) run_overrides.push_back("threads=" + std::to_string(threads));
    args.insert(args.end(), run_overrides.begin(), run_overrides.end());
    // The trial must run the config it was planned with (Options::config_hash).
    std::string stale;
    if (options.config_hash) {
      try {
        const std::string now = options.config_hash(t.overrides);
        if (now != t.record.config_hash)
          stale = "point " + std::to_string(t.record.point) + " (" + t.record.point_label + ") resolves to config " +
                  now.substr(0, 12) + " now, not the planned " + t.record.config_hash.substr(0, 12) +
                  ": a base or included file changed since the sweep started; run the sweep again to plan it anew";
        else {
          args.push_back("--expect-config");
          args.push_back(options.config_hash(run_overrides));
        }
      } catch (const std::exception& e) {
        stale = "point " + std::to_string(t.record.point) + " (" + t.record.point_label +
                ") no longer resolves: " + e.what();
      }
    }
    args.push_back("--db");
    args.push_back(options.db_path);
    args.push_back("--sweep");
    args.push_back(std::to_string(sweep));
    for (const auto& d : options.plugin_dirs) {
      args.push_back("--plugin-path");
      args.push_back(d);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) throw Error(std::string("cannot start a trial: fork: ") + std::strerror(errno));
    if (pid == 0) {
      // Own process group: a terminal's Ctrl-C reaches the driver only, which forwards it; a timeout kills
      // the whole group.
      setpgid(0, 0);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      int fd = open(l.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      int null_fd = open("/dev/null", O_RDONLY);
      if (null_fd >= 0) {
        dup2(null_fd, 0);
        close(null_fd);
      }
      if (!stale.empty()) {  // fails like a trial whose config is refused (exit 2), the reason in its log
        std::fprintf(stderr, "xrec sweep: trial not started: %s\n", stale.c_str());
        std::fflush(stderr);
        _exit(2);
      }
      if (options.in_process) {
        int code = 1;
        try {
          code = options.in_process(std::vector<std::string>(args.begin() + 1, args.end()));
        } catch (const std::exception& e) {
          std::fprintf(stderr, "xrec sweep: trial failed: %s\n", e.what());
        } catch (...) {
          std::fprintf(stderr, "xrec sweep: trial failed\n");
        }
        std::fflush(stdout);
        std::fflush(stderr);
        _exit(code);  // the driver's objects (its store connection above all) are not ours to destroy
      }
      execv(argv[0], argv.data());
      std::fprintf(stderr, "xrec sweep: cannot run %s: %s\n", argv[0], std::strerror(errno));
      _exit(127);
    }
    setpgid(pid, pid);  // also from the parent, so a signal sent right away finds the group
    l.pid = pid;
    l.started = Clock::now();
    store.trial_started(sweep, t.record.key, pid);
    live.push_back(std::move(l));
  };

  auto finish = [&](Live& l, int wstatus) {
    const TrialPlan& t = plan.trials[l.index];
    const double seconds = std::chrono::duration<double>(Clock::now() - l.started).count();
    if (!l.run_id)
      if (auto r = run_of(store, sweep, l.pid)) {
        l.run_id = *r;
        store.trial_run(sweep, t.record.key, *r);
      }
    RunStatus status = RunStatus::Failed;
    std::string error;
    const std::string tail = file_tail(l.log);
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && l.run_id) {
      auto [st, err] = run_status(store, l.run_id);
      status = st == "finished" ? RunStatus::Finished : RunStatus::Failed;
      if (st != "finished") error = "the run ended '" + st + "' although the process exited 0";
    } else if (WIFEXITED(wstatus)) {
      const int code = WEXITSTATUS(wstatus);
      status = code == 130 ? RunStatus::Interrupted : RunStatus::Failed;
      error = "exit code " + std::to_string(code);
      if (l.run_id) {
        auto [st, err] = run_status(store, l.run_id);
        if (st == "interrupted") status = RunStatus::Interrupted;
        if (!err.empty()) error += ": " + err;
      }
      if (!tail.empty()) error += "\n" + tail;
    } else if (WIFSIGNALED(wstatus)) {
      const int sig = WTERMSIG(wstatus);
      if (l.timed_out)
        error = "timed out after " + fmt_duration(timeout) + " (--timeout); killed";
      else
        error = describe_signal(sig);
      status = (!l.timed_out && g_interrupts > 0 && (sig == SIGINT || sig == SIGKILL)) ? RunStatus::Interrupted
                                                                                       : RunStatus::Failed;
      if (!tail.empty()) error += "\nlog tail:\n" + tail;
    }
    if (l.run_id && status != RunStatus::Finished) store.close_orphan_run(l.run_id, status, error);
    store.trial_ended(sweep, t.record.key, status, status == RunStatus::Finished ? "" : error);
    ++done;
    busy_seconds += seconds;
    std::string what = "[" + std::to_string(done) + "/" + std::to_string(total) + "] " + t.record.point_label +
                       (t.record.seed >= 0 ? " seed " + std::to_string(t.record.seed) : "") + ": " + to_string(status) +
                       " in " + fmt_duration(seconds) + (l.run_id ? " (run " + std::to_string(l.run_id) + ")" : "");
    if (status == RunStatus::Finished) {
      ++summary.finished;
      if (auto v = valid_metric(store, l.run_id, plan.select_metric)) {
        char buf[64];
        std::snprintf(buf, sizeof buf, ", valid %s %.4f", plan.select_metric.c_str(), *v);
        what += buf;
        if (!best || (plan.higher_is_better ? *v > *best : *v < *best)) {
          best = *v;
          best_label = t.record.point_label;
        }
      }
    } else {
      if (status == RunStatus::Interrupted)
        ++summary.interrupted;
      else
        ++summary.failed;
      std::string first = error.substr(0, error.find('\n'));
      what += ": " + first + " (log: " + l.log + ")";
    }
    say(what);
  };

  try {
    while (next < queue.size() || !live.empty()) {
      if (g_interrupts > 0 && !summary.stopped) {
        summary.stopped = true;
        interrupted_at = Clock::now();
        say("sweep " + name + ": interrupted; stopping " + std::to_string(live.size()) + " running trial(s)");
        for (auto& l : live) kill(-l.pid, SIGINT);
      }
      if (summary.stopped && !kill_sent &&
          (g_interrupts > 1 || Clock::now() - interrupted_at > std::chrono::seconds(30))) {
        for (auto& l : live) kill(-l.pid, SIGKILL);
        kill_sent = true;
      }
      while (!summary.stopped && live.size() < static_cast<size_t>(jobs) && next < queue.size()) launch(queue[next++]);
      if (summary.stopped && live.empty()) break;
      // Reap what ended; time out what ran too long; learn run ids of new trials.
      bool reaped = false;
      for (size_t i = 0; i < live.size();) {
        int wstatus = 0;
        pid_t r = waitpid(live[i].pid, &wstatus, WNOHANG);
        if (r == live[i].pid) {
          finish(live[i], wstatus);
          live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
          reaped = true;
          continue;
        }
        Live& l = live[i];
        if (timeout > 0 && !l.timed_out && std::chrono::duration<double>(Clock::now() - l.started).count() > timeout) {
          l.timed_out = true;
          kill(-l.pid, SIGKILL);  // a hung trial may not answer SIGINT
        }
        if (!l.run_id)
          if (auto run = run_of(store, sweep, l.pid)) {
            l.run_id = *run;
            store.trial_run(sweep, plan.trials[l.index].record.key, *run);
          }
        ++i;
      }
      if (Clock::now() - last_beat > std::chrono::seconds(5)) {
        store.sweep_heartbeat(sweep);
        last_beat = Clock::now();
      }
      if (Clock::now() - last_progress > std::chrono::milliseconds(250)) {
        progress(false);
        last_progress = Clock::now();
      }
      // A freed slot is filled at once; otherwise poll often enough that a short trial's end is noticed
      // within a few tens of milliseconds (each poll is a waitpid per trial).
      if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (...) {
    for (auto& l : live) {
      kill(-l.pid, SIGKILL);
      int ws = 0;
      waitpid(l.pid, &ws, 0);
      try {
        store.trial_ended(sweep, plan.trials[l.index].record.key, RunStatus::Interrupted, "the sweep driver failed");
        if (l.run_id) store.close_orphan_run(l.run_id, RunStatus::Interrupted, "the sweep driver failed");
      } catch (...) {
      }
    }
    try {
      store.close_sweep(sweep, RunStatus::Failed);
    } catch (...) {
    }
    throw;
  }
  progress(true);
  const double wall = std::chrono::duration<double>(Clock::now() - sweep_started).count();
  say("sweep " + name + " (id " + std::to_string(sweep) + "): " + std::to_string(summary.finished) + " finished, " +
      std::to_string(summary.failed) + " failed, " + std::to_string(summary.interrupted) + " interrupted, " +
      std::to_string(summary.skipped) + " skipped, in " + fmt_duration(wall) + "; `xrec sweep show " +
      std::to_string(sweep) + "` for the leaderboard");
  // A sweep whose every trial was tried is finished; its failed trials are counted in `trials`.
  store.close_sweep(sweep, summary.stopped ? RunStatus::Interrupted : RunStatus::Finished);
  return summary;
}

}  // namespace xrec::sweep
