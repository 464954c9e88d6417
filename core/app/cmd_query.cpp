// xrec query "SQL" [--db PATH] [--csv|--json] [--write]: one SQL statement against the run store, read-only
// unless --write.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/store.hpp"

namespace xrec::cli {

namespace {
const char* kUsage =
    "usage: xrec query \"SQL\" [--db PATH] [--csv | --json] [--write]\n"
    "  Runs one SQL statement against the run store and prints the result as a table, CSV (RFC 4180) or\n"
    "  JSON (an array of objects). The store is opened read-only unless --write is given.\n"
    "  Tables: runs, params, metrics, final_metrics, plugins, artifacts, sweeps; views: best_epoch,\n"
    "  run_overview (see docs/sql.md). Example:\n"
    "    xrec query \"SELECT run_id, stage, step, valid_value, test_value FROM best_epoch\"\n";
}  // namespace

int cmd_query(const std::vector<std::string>& argv) {
  Args args = parse("query", argv, {"db"}, {"csv", "json", "write", "help"});
  if (args.flag("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.positional.size() != 1) {
    std::fprintf(stderr, "xrec query: expected one SQL statement (quote it), got %zu arguments\n%s",
                 args.positional.size(), kUsage);
    return 2;
  }
  if (args.flag("csv") && args.flag("json")) throw InputError("--csv and --json exclude each other");
  const std::string path = db_path(args);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    // Exit 1, not 2: the command is right, the store is not there (yet).
    std::fprintf(stderr, "xrec query: error: no store at %s (run `xrec run CONFIG` first or pass --db)\n",
                 path.c_str());
    return 1;
  }
  const bool write = args.flag("write");
  Store store(path, /*read_only=*/!write);
  QueryResult result = store.query(args.positional[0], /*read_only=*/!write);
  if (args.flag("csv")) {
    std::cout << to_csv(result);
  } else if (args.flag("json")) {
    std::cout << to_json(result);
  } else if (result.columns.empty()) {
    std::cout << result.changes << (result.changes == 1 ? " row" : " rows") << " changed\n";
  } else {
    print_table(result.columns, result.rows);
  }
  return 0;
}

}  // namespace xrec::cli
