// xrec run CONFIG [key=value ...] [--check] [--db PATH] [--sweep ID] [--plugin-path DIR]... [--nproc N]
// xrec run --resume RUN [--db PATH] [--plugin-path DIR]...
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "cli.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/engine/experiment.hpp"

namespace xrec::cli {

namespace fs = std::filesystem;

namespace {

// --nproc N: N copies of this command (without --nproc) as ranks 0..N-1 on this machine, rank 0's
// TCPStore on a free-looking port. Waits for all; when one fails, the others get the group timeout to
// notice (they fail with a clear error and rank 0 records the run failed), then are killed.
int launch_local_ranks(int nproc, const std::vector<std::string>& argv) {
  std::error_code ec;
  const std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec || self.empty()) throw Error("run --nproc: cannot find the xrec executable (/proc/self/exe)");
  std::vector<std::string> args{self, "run"};
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--nproc") {
      ++i;
      continue;
    }
    if (argv[i].rfind("--nproc=", 0) == 0) continue;
    args.push_back(argv[i]);
  }
  const char* port_env = std::getenv("XREC_MASTER_PORT");
  const int port = port_env ? std::atoi(port_env) : 20000 + static_cast<int>(std::random_device{}() % 20000);
  const char* timeout_env = std::getenv("XREC_DIST_TIMEOUT");
  const int timeout_s = timeout_env ? std::max(1, std::atoi(timeout_env)) : 60;
  std::vector<pid_t> pids;
  for (int r = 0; r < nproc; ++r) {
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) throw Error(std::string("run --nproc: fork: ") + std::strerror(errno));
    if (pid == 0) {
      setenv("XREC_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("XREC_RANK", std::to_string(r).c_str(), 1);
      setenv("XREC_MASTER_PORT", std::to_string(port).c_str(), 1);
      if (!std::getenv("XREC_MASTER_ADDR")) setenv("XREC_MASTER_ADDR", "127.0.0.1", 1);
      std::vector<char*> cargv;
      for (auto& a : args) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      execv(cargv[0], cargv.data());
      std::fprintf(stderr, "xrec run --nproc: cannot run %s: %s\n", cargv[0], std::strerror(errno));
      _exit(127);
    }
    pids.push_back(pid);
  }
  std::vector<int> codes(static_cast<size_t>(nproc), -1);
  int left = nproc;
  std::chrono::steady_clock::time_point first_failure{};
  bool failed = false, killed = false;
  while (left > 0) {
    for (int r = 0; r < nproc; ++r) {
      if (codes[static_cast<size_t>(r)] >= 0) continue;
      int ws = 0;
      if (waitpid(pids[static_cast<size_t>(r)], &ws, WNOHANG) != pids[static_cast<size_t>(r)]) continue;
      const int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
      codes[static_cast<size_t>(r)] = code;
      --left;
      if (code != 0) {
        std::fprintf(stderr, "xrec run --nproc: rank %d %s\n", r,
                     WIFEXITED(ws) ? ("exited with code " + std::to_string(code)).c_str()
                                   : ("was killed by signal " + std::to_string(WTERMSIG(ws))).c_str());
        if (!failed) first_failure = std::chrono::steady_clock::now();
        failed = true;
      }
    }
    if (failed && !killed && std::chrono::steady_clock::now() - first_failure > std::chrono::seconds(timeout_s + 15)) {
      for (int r = 0; r < nproc; ++r)
        if (codes[static_cast<size_t>(r)] < 0) kill(pids[static_cast<size_t>(r)], SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (codes[0] != 0) return codes[0];
  for (int c : codes)
    if (c != 0) return 1;
  return 0;
}

}  // namespace

int cmd_run(const std::vector<std::string>& argv) {
  // --plugin-path may repeat, so collect it before the generic parser (which keeps the last value).
  std::vector<std::string> rest, plugin_dirs;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--plugin-path" && i + 1 < argv.size()) plugin_dirs.push_back(argv[++i]);
    else if (argv[i].rfind("--plugin-path=", 0) == 0) plugin_dirs.push_back(argv[i].substr(14));
    else rest.push_back(argv[i]);
  }
  Args args = parse("run", rest, {"db", "sweep", "resume", "nproc", "expect-config"}, {"help", "check"});
  if (auto r = args.option("resume"); r && !args.flag("help")) {
    size_t used = 0;
    int64_t id = 0;
    try {
      id = std::stoll(*r, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != r->size() || id < 1) throw InputError("--resume: expected a run id, got '" + *r + "'");
    if (!args.positional.empty() || args.flag("check") || args.option("sweep"))
      throw InputError("--resume " + *r + " continues the run with its stored config: give no CONFIG, overrides, "
                       "--check or --sweep (got '" + (args.positional.empty() ? std::string("--check/--sweep")
                                                                                : args.positional[0]) + "')");
    engine::ExperimentRequest req;
    req.db_path = db_path(args);
    req.plugin_dirs = plugin_dirs;
    req.resume_run = id;
    req.command_line = "xrec run";
    for (auto& a : argv) req.command_line += " " + a;
    engine::run_experiment(req);
    return 0;
  }
  if (args.flag("help") || args.positional.empty()) {
    std::fputs(
        "usage: xrec run CONFIG [key.path=value ...] [--check] [--db PATH] [--plugin-path DIR]... [--nproc N]\n"
        "       xrec run --resume RUN [--db PATH] [--plugin-path DIR]...\n"
        "  Trains and evaluates the experiment CONFIG describes and records it in the store.\n"
        "  key.path=value overrides any config value (parsed as YAML: train.lr=1e-3 eval.ks=[5,10]).\n"
        "  --check: validate the config (plugins, every key, the device) and print it resolved, with every\n"
        "           default filled in; nothing is trained and the store is not touched.\n"
        "  --resume RUN: continue an interrupted (or failed) run under its id with its stored config: completed\n"
        "           stages load their checkpoints, the interrupted stage continues after its last epoch.\n"
        "  --nproc N: data-parallel training over N local processes (c10d Gloo): each takes 1/N of every\n"
        "           batch, gradients are all-reduced; rank 0 alone records the run. Under srun, the ranks\n"
        "           come from SLURM_PROCID / SLURM_NTASKS. See docs/scale-out.md.\n",
        args.flag("help") ? stdout : stderr);
    return args.flag("help") ? 0 : 2;
  }
  if (auto n = args.option("nproc")) {
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(*n, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != n->size() || v < 1) throw InputError("--nproc: expected a process count >= 1, got '" + *n + "'");
    if (std::getenv("XREC_WORLD_SIZE")) throw InputError("--nproc: this process is already a rank (XREC_WORLD_SIZE is set)");
    if (v > 1 && !args.flag("check")) return launch_local_ranks(v, argv);
  }
  engine::ExperimentRequest req;
  req.config_path = args.positional[0];
  for (size_t i = 1; i < args.positional.size(); ++i) {
    if (args.positional[i].find('=') == std::string::npos)
      throw InputError("'" + args.positional[i] + "' is not an override (expected key.path=value)");
    req.overrides.push_back(args.positional[i]);
  }
  req.db_path = db_path(args);
  req.plugin_dirs = plugin_dirs;
  req.check_only = args.flag("check");
  // --sweep ID: the run is a trial of that sweep (set by `xrec sweep` on the runs it starts).
  if (auto s = args.option("sweep")) {
    size_t used = 0;
    try {
      req.sweep_id = std::stoll(*s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s->size() || *req.sweep_id < 1) throw InputError("--sweep: expected a sweep id, got '" + *s + "'");
  }
  // --expect-config HASH: set by `xrec sweep` on its trials (the config hash the trial was planned with).
  if (auto h = args.option("expect-config")) req.expect_config_hash = *h;
  req.command_line = "xrec run";
  for (auto& a : argv) req.command_line += " " + a;
  engine::run_experiment(req);
  return 0;
}

}  // namespace xrec::cli
