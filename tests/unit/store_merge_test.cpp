// Store::merge (core/src/store/merge.cpp): shards of Slurm array tasks folded into a main store with
// remapped ids, idempotent, transactional; trials keep the copy with more attempts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/expect_error.hpp"
#include "support/temp_dir.hpp"
#include "xrec/store.hpp"

using namespace xrec;
using xrec::test::expect_input_error;
using xrec::test::TempDir;

namespace {

RunInfo run_info(const std::string& name, int64_t pid) {
  RunInfo info;
  info.name = name;
  info.config_yaml = "name: " + name + "\n";
  info.config_hash = "hash-" + name;
  info.seed = 1;
  info.threads = 1;
  info.device = "cpu";
  info.select_metric = "ndcg@10";
  info.pid = pid;
  return info;
}

std::string key(char c) { return std::string(64, c); }

// A shard as an array task leaves it: the sweep, every trial (pending), and one run for trial `mine`.
void make_shard(const std::string& path, char mine, int64_t pid, RunStatus status, double ndcg) {
  Store s(path);
  const int64_t sweep = s.open_sweep("demo", "grid: {}", "base.yaml", "basehash", "ndcg@10", true);
  std::vector<TrialRecord> trials;
  for (char c : {'a', 'b', 'c'}) {
    TrialRecord t;
    t.key = key(c);
    t.point = c - 'a';
    t.point_label = std::string("p=") + c;
    t.seed = 1;
    t.config_hash = "h";
    t.plugins_sha = "p";
    trials.push_back(t);
  }
  s.add_trials(sweep, trials);
  s.trial_started(sweep, key(mine), pid);
  RunInfo info = run_info(std::string("run-") + mine, pid);
  info.sweep_id = sweep;
  const int64_t run = s.begin_run(info, {{"train.lr", "0.1"}, {"seed", "1"}});
  s.trial_run(sweep, key(mine), run);
  s.log_metric(run, "", "valid", "ndcg@10", 0, ndcg / 2);
  s.log_final(run, "valid", "ndcg@10", ndcg);
  s.add_plugin(run, "sasrec", "1.0", "/p/libsasrec.so", "sha");
  s.add_artifact(run, "checkpoint", "runs/" + std::to_string(run) + "/best.pt", 10);
  s.finish_run(run, status, status == RunStatus::Finished ? "" : "boom");
  s.trial_ended(sweep, key(mine), status, status == RunStatus::Finished ? "" : "boom");
  s.close_sweep(sweep, RunStatus::Finished);
}

std::string value(const Store& s, const std::string& sql) {
  auto r = s.query(sql);
  return r.rows.empty() || !r.rows[0][0] ? "" : *r.rows[0][0];
}

}  // namespace

TEST(StoreMerge, FoldsShardsWithRemappedIdsAndIsIdempotent) {
  TempDir dir("merge");
  make_shard(dir.file("a.db"), 'a', 111, RunStatus::Finished, 0.3);
  make_shard(dir.file("b.db"), 'b', 222, RunStatus::Failed, 0.1);
  Store main(dir.file("main.db"));
  // A run already in MAIN takes id 1, so shard run ids (1 each) must be remapped.
  const int64_t own = main.begin_run(run_info("own", 0), {});
  main.finish_run(own, RunStatus::Finished);

  MergeReport r = main.merge({dir.file("a.db"), dir.file("b.db")});
  EXPECT_EQ(r.shards, 2);
  EXPECT_EQ(r.runs_added, 2);
  EXPECT_EQ(r.sweeps_added, 1);
  EXPECT_EQ(r.trials_added, 3);    // a, b, c from the first shard
  EXPECT_EQ(r.trials_updated, 1);  // b: the second shard ran it
  EXPECT_EQ(value(main, "SELECT count(*) FROM runs"), "3");
  EXPECT_EQ(value(main, "SELECT group_concat(id || ':' || name || ':' || status, ' ') FROM (SELECT * FROM runs ORDER BY id)"),
            "1:own:finished 2:run-a:finished 3:run-b:failed");
  EXPECT_EQ(value(main, "SELECT count(DISTINCT sweep_id) FROM runs WHERE sweep_id IS NOT NULL"), "1");
  EXPECT_EQ(value(main, "SELECT value FROM final_metrics WHERE run_id = 2 AND key = 'ndcg@10'"), "0.3");
  EXPECT_EQ(value(main, "SELECT value FROM metrics WHERE run_id = 3"), "0.05");
  EXPECT_EQ(value(main, "SELECT value FROM params WHERE run_id = 3 AND key = 'train.lr'"), "0.1");
  EXPECT_EQ(value(main, "SELECT sha256 FROM plugins WHERE run_id = 2"), "sha");
  EXPECT_EQ(value(main, "SELECT count(*) FROM artifacts WHERE run_id IN (2, 3)"), "2");
  EXPECT_EQ(value(main, "SELECT group_concat(point_label || ':' || status || ':' || attempts || ':' ||"
                        " coalesce(run_id, '-'), ' ') FROM (SELECT * FROM trials ORDER BY point)"),
            "p=a:finished:1:2 p=b:failed:1:3 p=c:pending:0:-");
  EXPECT_EQ(value(main, "SELECT driver_pid IS NULL FROM sweeps"), "1");

  // Again: nothing added, nothing changed.
  MergeReport again = main.merge({dir.file("b.db"), dir.file("a.db")});
  EXPECT_EQ(again.runs_added, 0);
  EXPECT_EQ(again.runs_skipped, 2);
  EXPECT_EQ(again.trials_added + again.trials_updated + again.sweeps_added, 0);
  EXPECT_EQ(value(main, "SELECT count(*) FROM runs"), "3");
  EXPECT_EQ(value(main, "SELECT count(*) FROM metrics"), "2");
  EXPECT_EQ(value(main, "SELECT count(*) FROM trials"), "3");
}

TEST(StoreMerge, ARetriedTaskReplacesItsTrialWithTheNewAttempt) {
  TempDir dir("merge-retry");
  make_shard(dir.file("b.db"), 'b', 222, RunStatus::Failed, 0.1);
  Store main(dir.file("main.db"));
  main.merge({dir.file("b.db")});
  {
    // The resubmitted task opens the same shard: attempt 2 finishes.
    Store s(dir.file("b.db"));
    const int64_t sweep = s.open_sweep("demo", "grid: {}", "base.yaml", "basehash", "ndcg@10", true);
    s.trial_started(sweep, key('b'), 333);
    RunInfo info = run_info("run-b2", 333);
    info.sweep_id = sweep;
    const int64_t run = s.begin_run(info, {});
    s.trial_run(sweep, key('b'), run);
    s.finish_run(run, RunStatus::Finished);
    s.trial_ended(sweep, key('b'), RunStatus::Finished);
    s.close_sweep(sweep, RunStatus::Finished);
  }
  MergeReport r = main.merge({dir.file("b.db")});
  EXPECT_EQ(r.runs_added, 1);
  EXPECT_EQ(r.runs_skipped, 1);
  EXPECT_EQ(r.trials_updated, 1);
  EXPECT_EQ(value(main, "SELECT t.status || ':' || t.attempts || ':' || r.name FROM trials t JOIN runs r"
                        " ON r.id = t.run_id WHERE t.point_label = 'p=b'"),
            "finished:2:run-b2");
  EXPECT_EQ(value(main, "SELECT count(*) FROM runs WHERE sweep_id IS NOT NULL"), "2");  // both attempts kept
}

TEST(StoreMerge, ABadShardLeavesTheMainStoreUntouched) {
  TempDir dir("merge-bad");
  make_shard(dir.file("a.db"), 'a', 111, RunStatus::Finished, 0.3);
  dir.write("junk.db", "this is not sqlite, just text long enough to be read as a header ............");
  Store main(dir.file("main.db"));
  EXPECT_THROW(main.merge({dir.file("a.db"), dir.file("junk.db")}), InputError);
  EXPECT_EQ(value(main, "SELECT count(*) FROM runs"), "0");
  EXPECT_EQ(value(main, "SELECT count(*) FROM sweeps"), "0");
  expect_input_error([&] { main.merge({dir.file("missing.db")}); }, {"no shard store at", "missing.db"});
  expect_input_error([&] { main.merge({dir.file("main.db")}); }, {"is the main store itself"});
  EXPECT_EQ(value(main, "SELECT count(*) FROM runs"), "0");
}
