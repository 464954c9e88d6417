#pragma once
// Small argument parsing shared by the subcommands: `xrec <command> [options] [positional...]`.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace xrec::cli {

// Parsed arguments of one subcommand. Options take a value (--db PATH or --db=PATH); flags do not.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::set<std::string> flags;

  bool flag(const std::string& name) const { return flags.count(name) > 0; }
  std::optional<std::string> option(const std::string& name) const;
};

// Parses `argv` given the names of value options and of flags (without "--"). Throws xrec::InputError
// on an unknown option or a missing value, naming the command.
Args parse(const std::string& command, const std::vector<std::string>& argv,
           const std::set<std::string>& value_options, const std::set<std::string>& flag_options);

// The store path: --db, else $XREC_DB, else runs/xrec.db (relative to the working directory). An empty
// value given explicitly (--db=, XREC_DB="") is refused: SQLite would open a temporary store and lose
// the run.
std::string db_path(const Args& args);

// A run id argument: a whole number >= 1, else InputError.
int64_t parse_run_id(const std::string& text);

// `xrec ARGS...` (the arguments without the binary): runs the command, turns exceptions into messages and
// returns the exit code (2 = bad input, 1 = failure, 130 = interrupted). main() and sweep trials run in
// the driver's forked child call it.
int dispatch(std::vector<std::string> args);

// Subcommands: each returns the process exit code.
int cmd_run(const std::vector<std::string>& argv);
int cmd_runs(const std::vector<std::string>& argv);
int cmd_query(const std::vector<std::string>& argv);
int cmd_compare(const std::vector<std::string>& argv);
int cmd_plugins(const std::vector<std::string>& argv);
int cmd_data(const std::vector<std::string>& argv);
int cmd_eval(const std::vector<std::string>& argv);
int cmd_sweep(const std::vector<std::string>& argv);
int cmd_report(const std::vector<std::string>& argv);
int cmd_merge(const std::vector<std::string>& argv);
// SHARD.db|DIR arguments of `xrec merge`: folders expand to their *.db files (cmd_merge.cpp).
std::vector<std::string> shard_files(const std::vector<std::string>& given);

// Prints a table with aligned columns (used by runs, query, plugins list).
void print_table(const std::vector<std::string>& columns,
                 const std::vector<std::vector<std::optional<std::string>>>& rows);

}  // namespace xrec::cli
