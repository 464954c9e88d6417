// xrec merge SHARD|DIR... [--db MAIN]: folds shard stores (one per Slurm array task) into the main store.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/store.hpp"

namespace xrec::cli {

namespace fs = std::filesystem;

namespace {
const char* kUsage =
    "usage: xrec merge SHARD.db|DIR... [--db MAIN]\n"
    "  Folds shard stores into the main store (--db, default $XREC_DB or runs/xrec.db) in one transaction:\n"
    "  sweeps (by name), runs with their params, metrics, final metrics, plugins, artifacts and case ranks\n"
    "  (ids renumbered), and sweep trials. A DIR stands for every *.db file under it (e.g. the shards/\n"
    "  folder of `xrec sweep --emit slurm DIR`). Merging a shard again adds nothing; a bad shard leaves the\n"
    "  main store untouched. See docs/scale-out.md.\n";
}  // namespace

// Shards named on the command line: files as given, folders expanded to their *.db files, sorted.
std::vector<std::string> shard_files(const std::vector<std::string>& given) {
  std::vector<std::string> out;
  for (const auto& g : given) {
    std::error_code ec;
    if (fs::is_directory(g, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(g, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec))
        if (it->is_regular_file() && it->path().extension() == ".db") found.push_back(it->path().string());
      if (found.empty()) throw InputError("merge: no shard (*.db) under the folder " + g);
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(g, ec)) {
      out.push_back(g);
    } else {
      throw InputError("merge: no shard store or folder at " + g);
    }
  }
  return out;
}

int cmd_merge(const std::vector<std::string>& argv) {
  Args args = parse("merge", argv, {"db"}, {"help"});
  if (args.flag("help") || args.positional.empty()) {
    std::fputs(kUsage, args.flag("help") ? stdout : stderr);
    return args.flag("help") ? 0 : 2;
  }
  const std::vector<std::string> shards = shard_files(args.positional);
  // Every shard is checked (opened read-only) before the main store is even created.
  for (const auto& s : shards) Store check(s, /*read_only=*/true);
  Store store(db_path(args));
  MergeReport r = store.merge(shards);
  std::printf("merged %d shard(s) into %s: %d run(s) added, %d already there, %d updated; %d sweep(s) added; "
              "%d trial(s) added, %d updated\n",
              r.shards, store.path().c_str(), r.runs_added, r.runs_skipped, r.runs_updated, r.sweeps_added,
              r.trials_added, r.trials_updated);
  return 0;
}

}  // namespace xrec::cli
