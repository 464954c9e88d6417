// xrec eval RUN [eval.key=value ...] [--stage S] [--db PATH] [--plugin-path DIR]...
#include <cstdio>

#include "cli.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/engine/run_evaluation.hpp"

namespace xrec::cli {

namespace {
const char* kUsage =
    "usage: xrec eval RUN [eval.key=value ...] [--stage S] [--db PATH] [--plugin-path DIR]...\n"
    "  Re-evaluates run RUN's stored checkpoint (<stage>-best.pt in its run folder) on valid and test without\n"
    "  training, under its stored config with the given eval.* overrides (e.g. eval.protocol=sampled,\n"
    "  eval.mask_history=false), and records the result as a new run whose `input` artifact is the checkpoint.\n"
    "  Only eval.* keys can change: the model and the data are the stored run's.\n"
    "  --stage S: the checkpoint of stage S (default: the run's only checkpoint).\n";
}  // namespace

int cmd_eval(const std::vector<std::string>& argv) {
  std::vector<std::string> rest, plugin_dirs;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--plugin-path" && i + 1 < argv.size())
      plugin_dirs.push_back(argv[++i]);
    else if (argv[i].rfind("--plugin-path=", 0) == 0)
      plugin_dirs.push_back(argv[i].substr(14));
    else
      rest.push_back(argv[i]);
  }
  Args args = parse("eval", rest, {"db", "stage"}, {"help"});
  if (args.flag("help") || args.positional.empty()) {
    std::fputs(kUsage, args.flag("help") ? stdout : stderr);
    return args.flag("help") ? 0 : 2;
  }
  engine::EvaluationRequest req;
  req.source_run = parse_run_id(args.positional[0]);
  req.overrides.assign(args.positional.begin() + 1, args.positional.end());
  req.stage = args.option("stage").value_or("");
  req.db_path = db_path(args);
  req.plugin_dirs = plugin_dirs;
  req.command_line = "xrec eval";
  for (auto& a : argv) req.command_line += " " + a;
  engine::evaluate_run(req);
  return 0;
}

}  // namespace xrec::cli
