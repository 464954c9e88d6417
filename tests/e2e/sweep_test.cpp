// `xrec sweep` end to end: real child `xrec run` processes on a small fixture dataset, with the fixture
// transfer strategy `fault` (tests/fixtures/plugins/fault.cpp) crashing, hanging or sleeping on request.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <future>
#include <thread>

#include "harness.hpp"

using namespace xrec::test;

namespace {

const std::string kFaultPlugins = std::string(XREC_TEST_FIXTURE_PLUGINS) + "/fault";

std::string write_base(const TempDir& dir) {
  const std::string data = dir.write("successor.txt", successor_dataset(60, 30, 10));
  return dir.write("base.yaml", R"(name: sweep-e2e
seed: 7
threads: 1
device: cpu
data:
  target:
    type: user_sequences
    path: )" + data + R"(
backbone:
  type: sasrec
  hidden: 8
  layers: 1
  heads: 1
  max_len: 6
transfer:
  type: fault
  mode: ok
train:
  epochs: 1
  batch_size: 16
eval:
  protocol: full
  ks: [5, 10]
)");
}

Result sweep(const std::string& args) { return xrec_cmd("sweep " + args + " --plugin-path " + kFaultPlugins); }

std::string count(const std::string& db, const std::string& sql) { return one_value(db, sql); }

// Polls `sql` (a single value) until it is non-empty and not "0", up to `seconds`.
std::string wait_for(const std::string& db, const std::string& sql, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (fs::exists(db)) {
      try {
        std::string v = one_value(db, sql);
        if (!v.empty() && v != "0") return v;
      } catch (const std::exception&) {
        // the store is being created
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

}  // namespace

TEST(SweepE2E, CrashKillAndHangFailOnlyTheirTrialsAndAResumeRedoesOnlyThem) {
  TempDir dir("sweep-faults");
  write_base(dir);
  const std::string spec = dir.write("faults.yaml", R"(base: base.yaml
overrides: {transfer.seconds: 120}
grid:
  transfer.mode: [ok, segv, hang, sleep]
)");
  const std::string db = dir.file("store/xrec.db");
  auto running = std::async(std::launch::async, [&] { return sweep(spec + " -j 4 --timeout 25 --db " + db); });
  // SIGKILL the sleeping trial once its run exists (an out-of-memory kill looks the same).
  const std::string pid = wait_for(
      db,
      "SELECT pid FROM trials WHERE point_label = 'transfer.mode=sleep' AND status = 'running' AND run_id IS NOT NULL",
      60);
  ASSERT_FALSE(pid.empty()) << "the sleep trial never started";
  ASSERT_EQ(kill(static_cast<pid_t>(std::stol(pid)), SIGKILL), 0);
  Result r = running.get();
  EXPECT_EQ(r.code, 1) << r.output;  // some trials failed; the sweep went on
  auto status = [&](const std::string& mode, const std::string& table_status) {
    return count(db, "SELECT " + table_status +
                         " FROM trials t LEFT JOIN runs r ON r.id = t.run_id"
                         " WHERE t.point_label = 'transfer.mode=" +
                         mode + "'");
  };
  EXPECT_EQ(status("ok", "t.status || '/' || r.status"), "finished/finished") << r.output;
  EXPECT_EQ(status("segv", "t.status || '/' || r.status"), "failed/failed") << r.output;
  EXPECT_EQ(status("hang", "t.status || '/' || r.status"), "failed/failed") << r.output;
  EXPECT_EQ(status("sleep", "t.status || '/' || r.status"), "failed/failed") << r.output;
  EXPECT_NE(status("segv", "r.error").find("signal 11 (SIGSEGV)"), std::string::npos);
  EXPECT_NE(status("segv", "r.error").find("log tail"), std::string::npos);
  EXPECT_NE(status("hang", "r.error").find("timed out after 25.0s"), std::string::npos);
  EXPECT_NE(status("sleep", "r.error").find("signal 9 (SIGKILL)"), std::string::npos);
  EXPECT_EQ(count(db, "SELECT count(*) FROM runs WHERE status = 'running'"), "0");
  EXPECT_EQ(count(db, "SELECT count(*) FROM runs WHERE sweep_id IS NOT NULL"), "4");
  EXPECT_EQ(count(db, "SELECT status FROM sweeps"), "finished");

  // Running it again re-does exactly the three failed trials.
  Result plan = sweep(spec + " --dry-run --db " + db);
  ASSERT_EQ(plan.code, 0) << plan.output;
  EXPECT_NE(plan.output.find("4 trial(s); 3 to run"), std::string::npos) << plan.output;
  Result again = sweep(spec + " -j 3 --timeout 4 --db " + db);
  EXPECT_EQ(again.code, 1) << again.output;
  EXPECT_NE(again.output.find("1 skipped"), std::string::npos) << again.output;
  EXPECT_EQ(count(db, "SELECT group_concat(attempts, ',') FROM (SELECT attempts FROM trials ORDER BY point)"),
            "1,2,2,2");
  EXPECT_EQ(count(db, "SELECT count(*) FROM runs"), "7");
}

TEST(SweepE2E, EightConcurrentTrialsLoseNoRow) {
  TempDir dir("sweep-eight");
  write_base(dir);
  const std::string db = dir.file("xrec.db");
  Result r = sweep(dir.file("base.yaml") + " --seeds 1,2,3,4,5,6,7,8 -j 8 --name eight --db " + db);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(count(db, "SELECT count(*) FROM runs WHERE status = 'finished' AND sweep_id = 1"), "8");
  EXPECT_EQ(count(db, "SELECT count(*) FROM trials WHERE status = 'finished' AND run_id IS NOT NULL"), "8");
  EXPECT_EQ(count(db, "SELECT count(DISTINCT seed) FROM runs"), "8");
  // Every run has the same number of params, metric rows and final metrics as every other (none lost).
  for (const char* table : {"params", "metrics", "final_metrics", "plugins"}) {
    const std::string per_run = std::string("SELECT count(*) AS n FROM ") + table + " GROUP BY run_id";
    EXPECT_EQ(count(db, "SELECT count(*) FROM (" + per_run + ")"), "8") << table;
    EXPECT_EQ(count(db, "SELECT count(DISTINCT n) FROM (" + per_run + ")"), "1") << table;
    EXPECT_NE(count(db, "SELECT min(n) FROM (" + per_run + ")"), "0") << table;
  }
  EXPECT_EQ(count(db, "SELECT count(*) FROM params WHERE key = 'seed'"), "8");
  EXPECT_EQ(count(db, "SELECT trials || '/' || finished FROM sweep_points"), "8/8");
  Result show = xrec_cmd("sweep show eight --db " + db);
  ASSERT_EQ(show.code, 0) << show.output;
  EXPECT_NE(show.output.find(" ± "), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("8/8"), std::string::npos) << show.output;
  Result json = xrec_cmd("sweep show 1 --json --db " + db);
  EXPECT_NE(json.output.find("\"valid_ndcg@10_mean\": "), std::string::npos) << json.output;
  Result list = xrec_cmd("sweep list --db " + db);
  EXPECT_NE(list.output.find("eight"), std::string::npos) << list.output;
}

// Trials are forked from the driver (LibTorch and plugins already loaded) unless --exec: both must give the
// same results, a training trial included (the fork must not carry RNG, thread or logger state over).
TEST(SweepE2E, ForkedAndExecdTrialsGiveTheSameMetrics) {
  TempDir dir("sweep-fork");
  write_base(dir);
  const std::string base = dir.file("base.yaml") + " transfer.type=scratch train.epochs=2 --seeds 1,2 -j 2";
  const std::string forked = dir.file("forked.db"), execd = dir.file("execd.db");
  ASSERT_EQ(sweep(base + " --db " + forked).code, 0);
  ASSERT_EQ(sweep(base + " --exec --db " + execd).code, 0);
  const std::string sql =
      "SELECT group_concat(v, ' ') FROM (SELECT r.seed || ':' || f.split || ':' || f.key || '=' || "
      "printf('%.9f', f.value) AS v FROM runs r JOIN final_metrics f ON f.run_id = r.id "
      "WHERE f.split IN ('valid', 'test') ORDER BY r.seed, f.split, f.key)";
  const std::string a = count(forked, sql), b = count(execd, sql);
  EXPECT_NE(a.find("1:test:ndcg@10="), std::string::npos) << a;
  EXPECT_EQ(a, b);
  // Per-epoch training losses too.
  const std::string losses =
      "SELECT group_concat(v, ' ') FROM (SELECT r.seed || ':' || m.step || '=' || printf('%.9f', m.value) AS v "
      "FROM runs r JOIN metrics m ON m.run_id = r.id WHERE m.key = 'loss' ORDER BY r.seed, m.step)";
  EXPECT_EQ(count(forked, losses), count(execd, losses));
  EXPECT_NE(count(forked, losses), "");
}

TEST(SweepE2E, CtrlCInterruptsTrialsAndTheSweepAndAResumeFinishesThem) {
  TempDir dir("sweep-int");
  write_base(dir);
  const std::string spec = dir.write("slow.yaml",
                                     "base: base.yaml\noverrides: {transfer.mode: sleep, transfer.seconds: 6}\n"
                                     "seeds: [1, 2, 3]\n");
  const std::string db = dir.file("xrec.db");
  const std::string cmd = "cd '" + dir.root() + "' && XREC_PLUGIN_PATH='" + XREC_TEST_PLUGIN_DIR + "' exec '" +
                          XREC_TEST_XREC_BIN + "' sweep " + spec + " -j 2 --db " + db + " --plugin-path " +
                          kFaultPlugins + " > sweep.out 2>&1";
  pid_t driver = fork();
  if (driver == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_FALSE(
      wait_for(db, "SELECT count(*) = 2 FROM trials WHERE status = 'running' AND run_id IS NOT NULL", 60).empty());
  kill(driver, SIGINT);
  int ws = 0;
  waitpid(driver, &ws, 0);
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 130);
  EXPECT_EQ(count(db, "SELECT status FROM sweeps"), "interrupted");
  EXPECT_EQ(count(db, "SELECT count(*) FROM trials WHERE status = 'interrupted'"), "2");
  EXPECT_EQ(count(db, "SELECT count(*) FROM trials WHERE status = 'pending'"), "1");
  EXPECT_EQ(count(db, "SELECT count(*) FROM runs WHERE status = 'interrupted'"), "2");
  Result resumed = sweep(spec + " -j 3 --db " + db);
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(count(db, "SELECT count(*) FROM trials WHERE status = 'finished'"), "3");
  EXPECT_EQ(count(db, "SELECT status FROM sweeps"), "finished");
  EXPECT_EQ(count(db, "SELECT count(*) FROM sweeps"), "1");  // the same sweep, resumed
}

TEST(SweepE2E, BadSpecsAndBadPointsStopBeforeAnythingRuns) {
  TempDir dir("sweep-bad");
  write_base(dir);
  const std::string db = dir.file("xrec.db");
  const std::string seeds = dir.write("seeds.yaml", "base: base.yaml\nseeds: [1, two]\n");
  Result r = sweep(seeds + " --db " + db);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("seeds.yaml:2:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'two' is not an integer"), std::string::npos) << r.output;
  const std::string point = dir.write("point.yaml", "base: base.yaml\ngrid:\n  transfer.mode: [ok, explode]\n");
  r = sweep(point + " --db " + db);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("point 1 (transfer.mode=explode)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("transfer.mode"), std::string::npos) << r.output;
  r = sweep(dir.file("base.yaml") + " --grid train.lr=0.1,-1 --db " + db);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("point 1 (train.lr=-1)"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(db)) << "nothing may be written for a bad sweep";
  // --dry-run lists the trials and writes nothing either.
  r = sweep(dir.file("base.yaml") + " --grid train.lr=0.1,0.01 --seeds 1,2 --dry-run --db " + db);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("2 point(s) x 2 seed(s) = 4 trial(s); 4 to run"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(db));
}

// --check-data loads every point's data sections before anything runs: a point whose data cannot load (here a
// source asking for text features its dataset does not have) stops the sweep with the loader's message,
// where a plain --dry-run only validates the config. Each distinct data configuration loads once.
TEST(SweepE2E, CheckDataLoadsEveryPointsDataBeforeAnythingRuns) {
  TempDir dir("sweep-check-data");
  write_base(dir);
  const std::string spec = dir.write("data.yaml", R"(base: base.yaml
variants:
  - {name: plain}
  - {name: also-plain, train.lr: 0.01}
  - {name: text, data.target.text_features: 8}
)");
  const std::string db = dir.file("store/xrec.db");
  Result plan = sweep(spec + " --dry-run --db " + db);
  EXPECT_EQ(plan.code, 0) << plan.output;
  Result checked = sweep(spec + " --dry-run --check-data --db " + db);
  EXPECT_EQ(checked.code, 2) << checked.output;
  EXPECT_NE(checked.output.find("--check-data:"), std::string::npos) << checked.output;
  EXPECT_NE(checked.output.find("text_features: 8 asks for text features"), std::string::npos) << checked.output;
  EXPECT_NE(checked.output.find("point 2 (text)"), std::string::npos) << checked.output;
  EXPECT_FALSE(fs::exists(db));
  // The data is split as a run would split it: a split the dataset cannot take fails the check too.
  const std::string split = dir.write("split.yaml", "base: base.yaml\nvariants:\n  - {name: given, split.method: given}\n");
  Result unsplit = sweep(split + " --dry-run --check-data --db " + db);
  EXPECT_EQ(unsplit.code, 2) << unsplit.output;
  EXPECT_NE(unsplit.output.find("split.method is 'given' but dataset"), std::string::npos) << unsplit.output;
  EXPECT_FALSE(fs::exists(db));
  // Without the bad point: the two points share one data configuration, loaded once, and nothing is written.
  const std::string good = dir.write("good.yaml", R"(base: base.yaml
variants:
  - {name: plain}
  - {name: also-plain, train.lr: 0.01}
)");
  Result ok = sweep(good + " --dry-run --check-data --db " + db);
  EXPECT_EQ(ok.code, 0) << ok.output;
  size_t loads = 0;
  for (size_t at = ok.output.find("data ok: "); at != std::string::npos; at = ok.output.find("data ok: ", at + 1))
    ++loads;
  EXPECT_EQ(loads, 1u) << ok.output;
  EXPECT_FALSE(fs::exists(db));
}

namespace {
// A spec with an inline base (written by the driver into the store's folder) whose two trials sleep.
std::string inline_spec(const TempDir& dir, const std::string& file, const std::string& name, double seconds) {
  const std::string data = dir.write("successor-" + name + ".txt", successor_dataset(40, 20, 8));
  return dir.write(file, "name: " + name + "\nbase:\n  name: " + name + R"(
  seed: 7
  threads: 1
  device: cpu
  data: {target: {type: user_sequences, path: )" + data + R"(}}
  backbone: {type: sasrec, hidden: 8, layers: 1, heads: 1, max_len: 6}
  transfer: {type: fault, mode: sleep, seconds: )" + std::to_string(seconds) + R"(}
  train: {epochs: 1, batch_size: 16}
  eval: {protocol: full, ks: [5, 10]}
variants:
  - {name: first}
  - {name: second, train.lr: 0.01}
)");
}
}  // namespace

// Two stores in one folder each keep their sweep files in their own folder (<stem>/sweeps/<id>/): before,
// both stores' sweep 1 wrote <folder>/sweeps/1/base.yaml, and a second sweep started while the first ran
// overwrote the first's inline base, whose later trials then ran (and were recorded as) the other config.
TEST(SweepE2E, TwoStoresInOneFolderKeepTheirSweepFilesApart) {
  TempDir dir("sweep-two-stores");
  const std::string a = inline_spec(dir, "a.yaml", "study-a", 2.0), b = inline_spec(dir, "b.yaml", "study-b", 0.0);
  const std::string db_a = dir.file("runs/a.db"), db_b = dir.file("runs/b.db");
  auto running = std::async(std::launch::async, [&] { return sweep(a + " -j 1 --db " + db_a); });
  ASSERT_FALSE(wait_for(db_a, "SELECT count(*) FROM runs", 60).empty()) << "sweep a never started a run";
  Result rb = sweep(b + " -j 1 --db " + db_b);  // while a's first trial sleeps
  ASSERT_EQ(rb.code, 0) << rb.output;
  Result ra = running.get();
  ASSERT_EQ(ra.code, 0) << ra.output;
  EXPECT_EQ(one_value(db_a, "SELECT group_concat(DISTINCT name) FROM runs"), "study-a");
  EXPECT_EQ(one_value(db_b, "SELECT group_concat(DISTINCT name) FROM runs"), "study-b");
  EXPECT_EQ(one_value(db_a, "SELECT count(*) FROM sweep_trials WHERE status = 'finished'"), "2");
  EXPECT_TRUE(fs::exists(dir.file("runs/a/sweeps/1/base.yaml")));
  EXPECT_TRUE(fs::exists(dir.file("runs/b/sweeps/1/base.yaml")));
  EXPECT_FALSE(fs::exists(dir.file("runs/sweeps")));
}

// A trial runs the config it was planned with: when its config file changes under the driver (here the
// inline base rewritten while the first trial runs, as an editor or another sweep would), the next trial is
// refused before anything is recorded and fails naming both hashes; the finished trial stays.
TEST(SweepE2E, ATrialWhoseConfigChangedUnderTheDriverIsRefused) {
  TempDir dir("sweep-changed-base");
  const std::string spec = inline_spec(dir, "a.yaml", "study-a", 2.0);
  const std::string db = dir.file("runs/a.db");
  auto running = std::async(std::launch::async, [&] { return sweep(spec + " -j 1 --db " + db); });
  ASSERT_FALSE(wait_for(db, "SELECT count(*) FROM runs", 60).empty()) << "the sweep never started a run";
  const std::string base = dir.file("runs/a/sweeps/1/base.yaml");
  ASSERT_TRUE(fs::exists(base));
  std::string text = file_text(base);
  const size_t at = text.find("name: study-a");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, std::string("name: study-a").size(), "name: replaced");
  std::ofstream(base, std::ios::trunc) << text;
  Result r = running.get();
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM runs"), "1");  // the refused trial recorded nothing
  EXPECT_EQ(one_value(db, "SELECT name FROM runs"), "study-a");
  const std::string error = one_value(db, "SELECT error FROM trials WHERE status = 'failed'");
  EXPECT_NE(error.find("--expect-config"), std::string::npos) << error;
  EXPECT_NE(error.find("the sweep planned for this trial"), std::string::npos) << error;
}

// A store written by an older xrec (here: the latest migration's record removed, so that this binary sees the
// schema before it) keeps its finished trials: before, planning ignored a store of an older schema, listed
// every trial as new and re-ran the whole sweep after an upgrade.
TEST(SweepE2E, AStoreOfAnOlderSchemaKeepsItsFinishedTrials) {
  TempDir dir("sweep-older-schema");
  const std::string spec = inline_spec(dir, "a.yaml", "study-a", 0.0);
  const std::string db = dir.file("runs/a.db");
  Result first = sweep(spec + " -j 1 --db " + db);
  ASSERT_EQ(first.code, 0) << first.output;
  ASSERT_EQ(one_value(db, "SELECT count(*) FROM runs"), "2");
  const int latest = xrec::Store::latest_schema_version();
  ASSERT_GT(latest, xrec::Store::kFirstTrialsSchemaVersion);
  {
    xrec::Store store(db);
    store.query("DELETE FROM schema_version WHERE version = " + std::to_string(latest), /*read_only=*/false);
  }
  {
    xrec::Store older(db, /*read_only=*/true);
    ASSERT_EQ(older.schema_version(), latest - 1);
  }
  Result dry = sweep(spec + " --dry-run --db " + db);
  ASSERT_EQ(dry.code, 0) << dry.output;
  EXPECT_NE(dry.output.find("0 to run"), std::string::npos) << dry.output;
  EXPECT_EQ(dry.output.find("run: new"), std::string::npos) << dry.output;
  Result again = sweep(spec + " -j 1 --db " + db);  // migrates the store (re-applies the latest migration)
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM runs"), "2");
  EXPECT_EQ(one_value(db, "SELECT max(version) FROM schema_version"), std::to_string(latest));
}

// --rerun: a finished trial whose result a fix changed (same config, same plugins, so the same key) runs
// again on request; the earlier run stays in the store and the trial points at the new one.
TEST(SweepE2E, RerunRunsTheNamedPointsFinishedTrialsAgain) {
  TempDir dir("sweep-rerun");
  write_base(dir);
  const std::string spec = dir.write("rerun.yaml", R"(base: base.yaml
variants:
  - {name: first}
  - {name: second, train.lr: 0.01}
seeds: [1, 2]
)");
  const std::string db = dir.file("xrec.db");
  ASSERT_EQ(sweep(spec + " -j 2 --db " + db).code, 0);
  const std::string before = count(db, "SELECT group_concat(run_id) FROM trials WHERE point_label = 'second'");

  Result bad = sweep(spec + " --rerun second,thrid --db " + db);
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--rerun thrid: not a point of the sweep (its points: first, second)"), std::string::npos)
      << bad.output;
  EXPECT_EQ(count(db, "SELECT count(*) FROM runs"), "4");

  Result plan = sweep(spec + " --rerun second --dry-run --db " + db);
  ASSERT_EQ(plan.code, 0) << plan.output;
  EXPECT_NE(plan.output.find("4 trial(s); 2 to run"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("; --rerun"), std::string::npos) << plan.output;

  Result again = sweep(spec + " --rerun second -j 2 --db " + db);
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("2 skipped"), std::string::npos) << again.output;
  EXPECT_EQ(count(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), "6");
  EXPECT_EQ(count(db, "SELECT group_concat(attempts) FROM (SELECT attempts FROM trials ORDER BY point, seed)"),
            "1,1,2,2");
  const std::string after = count(db, "SELECT group_concat(run_id) FROM trials WHERE point_label = 'second'");
  EXPECT_NE(after, before);
  // The same weights: the rerun reproduces each seed's metrics.
  EXPECT_EQ(count(db, "SELECT count(*) || ' runs, ' || count(DISTINCT f.value) || ' value' FROM final_metrics f "
                      "JOIN runs r ON r.id = f.run_id JOIN trials t ON t.config_hash = r.config_hash "
                      "WHERE t.point_label = 'second' AND t.seed = 1 AND f.split = 'test' AND f.key = 'ndcg@10'"),
            "2 runs, 1 value");
}
