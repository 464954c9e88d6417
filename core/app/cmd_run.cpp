// xrec run CONFIG [key=value ...] [--check] [--db PATH] [--sweep ID] [--plugin-path DIR]...
// xrec run --resume RUN [--db PATH] [--plugin-path DIR]...
#include <cstdio>

#include "cli.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/engine/experiment.hpp"

namespace xrec::cli {

int cmd_run(const std::vector<std::string>& argv) {
  // --plugin-path may repeat, so collect it before the generic parser (which keeps the last value).
  std::vector<std::string> rest, plugin_dirs;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--plugin-path" && i + 1 < argv.size()) plugin_dirs.push_back(argv[++i]);
    else if (argv[i].rfind("--plugin-path=", 0) == 0) plugin_dirs.push_back(argv[i].substr(14));
    else rest.push_back(argv[i]);
  }
  Args args = parse("run", rest, {"db", "sweep", "resume"}, {"help", "check"});
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
        "usage: xrec run CONFIG [key.path=value ...] [--check] [--db PATH] [--plugin-path DIR]...\n"
        "       xrec run --resume RUN [--db PATH] [--plugin-path DIR]...\n"
        "  Trains and evaluates the experiment CONFIG describes and records it in the store.\n"
        "  key.path=value overrides any config value (parsed as YAML: train.lr=1e-3 eval.ks=[5,10]).\n"
        "  --check: validate the config (plugins, every key, the device) and print it resolved, with every\n"
        "           default filled in; nothing is trained and the store is not touched.\n"
        "  --resume RUN: continue an interrupted (or failed) run under its id with its stored config: completed\n"
        "           stages load their checkpoints, the interrupted stage continues after its last epoch.\n",
        args.flag("help") ? stdout : stderr);
    return args.flag("help") ? 0 : 2;
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
  req.command_line = "xrec run";
  for (auto& a : argv) req.command_line += " " + a;
  engine::run_experiment(req);
  return 0;
}

}  // namespace xrec::cli
