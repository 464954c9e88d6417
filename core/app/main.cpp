// xrec: the command line. One file per subcommand (cmd_*.cpp); this file only dispatches and turns
// exceptions into messages and exit codes (2 = bad input, 1 = failure, 130 = interrupted).
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/version.hpp"

namespace {
const char* kUsage = R"(xrec: transferable sequential recommendation experiments

usage: xrec <command> [options]

commands:
  run CONFIG [key=value ...]   train and evaluate one experiment, recorded in the store
  eval RUN [key=value ...]     re-evaluate a run's checkpoint under another protocol (a new run)
  runs                         list recorded runs
  sweep SPEC [-j N]            run a sweep (grid, variants, random, seeds) as child runs; resumable
  sweep list | show ID         recorded sweeps; a sweep's leaderboard (mean ± std over seeds)
  merge SHARD|DIR... [--db M]  fold shard stores (Slurm array tasks) into the store; idempotent
  query "SQL"                  query the store (read-only unless --write)
  compare RUN_A RUN_B          paired significance test of two runs (per-case ranks)
  report transfer|html         negative-transfer table; one HTML report of charts (docs/report.md)
  plugins list|inspect NAME    show loaded plugins and their components' parameters
  data stats|convert CONFIG    per-domain statistics; write the data as RecBole atomic files
  version                      versions and build facts

common options:
  --db PATH            store file (default: $XREC_DB, else runs/xrec.db)
  --plugin-path DIR    extra plugin folder (repeatable; also $XREC_PLUGIN_PATH)

`xrec <command> --help` for the options of one command.
)";
}  // namespace

int xrec::cli::dispatch(std::vector<std::string> args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  try {
    if (command == "run") return xrec::cli::cmd_run(args);
    if (command == "runs") return xrec::cli::cmd_runs(args);
    if (command == "sweep") return xrec::cli::cmd_sweep(args);
    if (command == "merge") return xrec::cli::cmd_merge(args);
    if (command == "query") return xrec::cli::cmd_query(args);
    if (command == "compare") return xrec::cli::cmd_compare(args);
    if (command == "report") return xrec::cli::cmd_report(args);
    if (command == "plugins") return xrec::cli::cmd_plugins(args);
    if (command == "data") return xrec::cli::cmd_data(args);
    if (command == "eval") return xrec::cli::cmd_eval(args);
    if (command == "version" || command == "--version") {
      std::printf("xrec %s (plugin API %d)\nLibTorch %s, %s, %s, %s\n", XREC_VERSION_STRING, XREC_API_VERSION,
                  XREC_TORCH_VERSION, XREC_COMPILER_ID, XREC_CXX_ABI, XREC_DEVICE_KIND);
      return 0;
    }
    std::fprintf(stderr, "xrec: unknown command '%s'\n\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const xrec::Interrupted& e) {
    std::fprintf(stderr, "xrec %s: interrupted: %s\n", command.c_str(), e.what());
    return 130;
  } catch (const xrec::InputError& e) {
    std::fprintf(stderr, "xrec %s: error: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xrec %s: failed: %s\n", command.c_str(), e.what());
    return 1;
  }
}

int main(int argc, char** argv) { return xrec::cli::dispatch(std::vector<std::string>(argv + 1, argv + argc)); }
