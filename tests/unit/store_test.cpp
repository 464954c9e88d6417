// The run store: schema and migrations, runs and their rows, views, query(), output formats, RunScope,
// concurrent writers (fork) and killed runs (fork + SIGKILL + reconcile).
#include "xrec/store.hpp"
#include "xrec/api/version.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <functional>
#include <limits>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

#include "xrec/api/errors.hpp"

namespace xrec {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xrec_store_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    db_ = dir_ + "/runs/xrec.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_, db_;
};

RunInfo sample_run(const std::string& name = "sasrec-demo") {
  RunInfo info;
  info.name = name;
  info.config_yaml = "name: " + name + "\nseed: 7\n";
  info.config_hash = "hash-" + name;
  info.seed = 7;
  info.threads = 2;
  info.device = "cpu";
  info.blas = "openblas";
  info.git_sha = "abc123";
  info.torch_version = "1.13.1";
  info.command = "xrec run configs/demo.yaml";
  info.select_metric = "ndcg@10";
  return info;
}

// The single value of a one-row, one-column query; nullopt for NULL.
std::optional<std::string> scalar(const Store& store, const std::string& sql) {
  QueryResult r = store.query(sql);
  if (r.rows.size() != 1 || r.rows[0].size() != 1)
    throw std::runtime_error("expected one value from: " + sql + " (got " + std::to_string(r.rows.size()) +
                             " rows)");
  return r.rows[0][0];
}

int64_t count(const Store& store, const std::string& sql) { return std::stoll(*scalar(store, sql)); }

std::string this_host() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

// Runs `body` in a forked child; the child's exit status says whether it threw.
pid_t fork_child(const std::function<void()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    int code = 0;
    try {
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d: %s\n", static_cast<int>(getpid()), e.what());
      code = 1;
    }
    _exit(code);  // no gtest or static destructors in the child
  }
  return pid;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

template <class E = Error, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

const std::regex kIsoUtcMillis(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");

// ---------------------------------------------------------------------------------------------------
// Opening, schema, migrations

TEST_F(StoreTest, CreatesParentFoldersAndTheCurrentSchema) {
  Store store(db_);
  EXPECT_TRUE(fs::is_regular_file(db_));
  EXPECT_GE(Store::latest_schema_version(), 1);
  EXPECT_EQ(store.schema_version(), Store::latest_schema_version());
  // Reading journal_mode counts as a write for sqlite3_stmt_readonly(); table_info does not.
  EXPECT_EQ(*store.query("PRAGMA journal_mode", /*read_only=*/false).rows.at(0).at(0), "wal");
  EXPECT_GT(store.query("PRAGMA table_info(runs)").rows.size(), 20u);
  EXPECT_EQ(*scalar(store, "PRAGMA foreign_keys"), "1");
  for (const char* table :
       {"sweeps", "runs", "params", "metrics", "final_metrics", "plugins", "artifacts", "case_ranks"})
    EXPECT_EQ(
        count(store, std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '") +
                         table + "'"),
        1)
        << table;
  for (const char* view : {"best_epoch", "run_overview"})
    EXPECT_EQ(
        count(store, std::string("SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name = '") +
                         view + "'"),
        1)
        << view;
}

TEST_F(StoreTest, EachMigrationIsRecordedOnceAcrossReopens) {
  { Store store(db_); }
  Store again(db_);
  EXPECT_EQ(count(again, "SELECT count(*) FROM schema_version"), Store::latest_schema_version());
  EXPECT_EQ(count(again, "SELECT count(DISTINCT version) FROM schema_version"),
            Store::latest_schema_version());
  EXPECT_TRUE(std::regex_match(*scalar(again, "SELECT applied_at FROM schema_version WHERE version = 1"),
                               kIsoUtcMillis));
}

TEST_F(StoreTest, NewerSchemaIsAClearError) {
  const int future = Store::latest_schema_version() + 1;
  {
    Store store(db_);
    store.query("INSERT INTO schema_version (version, description) VALUES (" + std::to_string(future) +
                    ", 'from the future')",
                /*read_only=*/false);
  }
  for (bool read_only : {false, true}) {
    std::string what = error_of<InputError>([&] { Store store(db_, read_only); });
    EXPECT_NE(what.find(db_), std::string::npos) << what;
    EXPECT_NE(what.find("schema version " + std::to_string(future)), std::string::npos) << what;
    EXPECT_NE(what.find("newer than this xrec knows"), std::string::npos) << what;
  }
}

TEST_F(StoreTest, FileThatIsNotSqliteIsNamedAndLeftAlone) {
  fs::create_directories(fs::path(db_).parent_path());
  const std::string junk = "this is a results.csv, not a database\n" + std::string(200, 'x');
  std::ofstream(db_) << junk;
  for (bool read_only : {false, true}) {
    std::string what = error_of<InputError>([&] { Store store(db_, read_only); });
    EXPECT_NE(what.find(db_), std::string::npos) << what;
    EXPECT_NE(what.find("not an SQLite database"), std::string::npos) << what;
  }
  std::ifstream in(db_);
  std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, junk);  // never half-written
}

TEST_F(StoreTest, CorruptStoreIsNamed) {
  {
    Store store(db_);
    const int64_t run = store.begin_run(sample_run(), {{"a", "1"}});
    for (int step = 0; step < 50; ++step) store.log_metric(run, "", "valid", "ndcg@10", step, 0.01 * step);
  }  // the last connection checkpoints the WAL into the file
  {
    std::fstream f(db_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);  // page 1 (the schema) stays; the tables' pages after it become garbage
    const std::string garbage(3 * 4096, '\xff');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  std::string what = error_of<InputError>([&] {
    Store store(db_);
    for (const char* t : {"schema_version", "runs", "params", "metrics"})
      store.query(std::string("SELECT count(*) FROM ") + t);
  });
  EXPECT_NE(what.find("the run store " + db_ + " is corrupt"), std::string::npos) << what;
}

TEST_F(StoreTest, OtherSqliteDatabaseIsNotTakenOver) {
  fs::create_directories(fs::path(db_).parent_path());
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE inventory (x INTEGER)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  std::string what = error_of<InputError>([&] { Store store(db_); });
  EXPECT_NE(what.find("not an xrec run store"), std::string::npos) << what;
  EXPECT_NE(what.find("inventory"), std::string::npos) << what;
  // Nothing of ours was added to it.
  ASSERT_EQ(sqlite3_open(db_.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT count(*) FROM sqlite_master", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), 1);
  sqlite3_finalize(s);
  sqlite3_close(raw);
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Before the fix the refusal came after the switch to WAL mode: the file's header was rewritten and
// -wal/-shm files were left beside it.
TEST_F(StoreTest, OtherSqliteDatabaseIsLeftByteForByte) {
  fs::create_directories(fs::path(db_).parent_path());
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE inventory (x INTEGER); INSERT INTO inventory VALUES (1)", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  const std::string before = file_bytes(db_);
  EXPECT_NE(error_of<InputError>([&] { Store store(db_); }).find("not an xrec run store"), std::string::npos);
  EXPECT_EQ(file_bytes(db_), before);
  EXPECT_FALSE(fs::exists(db_ + "-wal"));
  EXPECT_FALSE(fs::exists(db_ + "-shm"));
}

// A store on a read-only file system: SQLite cannot create the WAL's -shm file, so a plain read-only open
// fails ("unable to open database file"); before the fix `xrec query` could not read such a store. The test
// needs a real read-only file system: a tmpfs it mounts (root) and remounts read-only.
TEST_F(StoreTest, ReadOnlyFileSystemIsQueriedImmutable) {
  const std::string mnt = dir_ + "/ro";
  fs::create_directories(mnt);
  if (std::system(("mount -t tmpfs -o size=16m xrec-test " + mnt + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root with mount permission); read-only store not tested";
  struct Unmount {
    std::string at;
    ~Unmount() { std::system(("umount " + at + " 2>/dev/null").c_str()); }
  } unmount{mnt};
  const std::string db = mnt + "/xrec.db";
  {
    Store store(db);
    store.begin_run(sample_run(), {{"seed", "7"}});
  }
  ASSERT_EQ(std::system(("mount -o remount,ro " + mnt).c_str()), 0);
  Store store(db, /*read_only=*/true);
  EXPECT_EQ(count(store, "SELECT count(*) FROM runs"), 1);
  EXPECT_EQ(*scalar(store, "SELECT name FROM runs"), "sasrec-demo");
}

TEST_F(StoreTest, ReadOnlyOpenOfAMissingStoreCreatesNothing) {
  std::string what = error_of<InputError>([&] { Store store(db_, /*read_only=*/true); });
  EXPECT_EQ(what, "no store at " + db_ + " (run `xrec run CONFIG` first or pass --db)");
  EXPECT_FALSE(fs::exists(fs::path(db_).parent_path()));
}

TEST_F(StoreTest, FolderInsteadOfFileIsAnError) {
  fs::create_directories(db_);
  std::string what = error_of<InputError>([&] { Store store(db_); });
  EXPECT_NE(what.find(db_ + " is a folder"), std::string::npos) << what;
}

// ---------------------------------------------------------------------------------------------------
// Runs and their rows

TEST_F(StoreTest, BeginRunWritesTheRunAndItsParams) {
  Store store(db_);
  const int64_t run = store.begin_run(sample_run(), {{"backbone.hidden", "64"}, {"train.lr", "0.001"}});
  QueryResult r = store.query(
      "SELECT name, status, ended_at, host, pid, git_sha, xrec_version, torch_version, seed, threads, "
      "device, blas,"
      " command, config_yaml, config_hash, run_dir, select_metric, select_mode, error, sweep_id, started_at"
      " FROM runs WHERE id = " +
      std::to_string(run));
  ASSERT_EQ(r.rows.size(), 1u);
  const auto& row = r.rows[0];
  EXPECT_EQ(*row[0], "sasrec-demo");
  EXPECT_EQ(*row[1], "running");
  EXPECT_FALSE(row[2]);  // ended_at
  EXPECT_EQ(*row[3], this_host());
  EXPECT_EQ(*row[4], std::to_string(getpid()));
  EXPECT_EQ(*row[5], "abc123");
  EXPECT_EQ(*row[6], XREC_VERSION_STRING);  // when RunInfo leaves it empty
  EXPECT_EQ(*row[7], "1.13.1");
  EXPECT_EQ(*row[8], "7");
  EXPECT_EQ(*row[9], "2");
  EXPECT_EQ(*row[10], "cpu");
  EXPECT_EQ(*row[11], "openblas");
  EXPECT_EQ(*row[12], "xrec run configs/demo.yaml");
  EXPECT_EQ(*row[13], "name: sasrec-demo\nseed: 7\n");
  EXPECT_EQ(*row[14], "hash-sasrec-demo");
  EXPECT_FALSE(row[15]);  // run_dir: unknown is NULL, not ''
  EXPECT_EQ(*row[16], "ndcg@10");
  EXPECT_EQ(*row[17], "max");
  EXPECT_FALSE(row[18]);
  EXPECT_FALSE(row[19]);
  EXPECT_TRUE(std::regex_match(*row[20], kIsoUtcMillis)) << *row[20];
  EXPECT_EQ(count(store, "SELECT count(*) FROM params WHERE run_id = " + std::to_string(run)), 2);
  EXPECT_EQ(*scalar(store, "SELECT value FROM params WHERE key = 'train.lr'"), "0.001");

  store.set_run_dir(run, "/tmp/runs/1");
  EXPECT_EQ(*scalar(store, "SELECT run_dir FROM runs"), "/tmp/runs/1");
  EXPECT_NE(error_of([&] { store.set_run_dir(run + 100, "x"); }).find("no run"), std::string::npos);
}

TEST_F(StoreTest, BeginRunIsAllOrNothing) {
  Store store(db_);
  std::string what = error_of([&] { store.begin_run(sample_run(), {{"a", "1"}, {"b", "2"}, {"a", "3"}}); });
  EXPECT_NE(what.find("param 'a'"), std::string::npos) << what;
  EXPECT_NE(what.find("UNIQUE"), std::string::npos) << what;
  EXPECT_EQ(count(store, "SELECT count(*) FROM runs"), 0);
  EXPECT_EQ(count(store, "SELECT count(*) FROM params"), 0);
  // The store stays usable, and the failed insert did not consume an id that matters to anyone.
  EXPECT_GT(store.begin_run(sample_run(), {{"a", "1"}}), 0);
  EXPECT_EQ(count(store, "SELECT count(*) FROM runs"), 1);
  EXPECT_NE(error_of([&] { store.begin_run(RunInfo{}, {}); }).find("no name"), std::string::npos);
}

TEST_F(StoreTest, SweepsGroupRuns) {
  Store store(db_);
  const int64_t sweep = store.create_sweep("lr-grid", "train: {lr: 0.001}\n", "h0");
  RunInfo info = sample_run();
  info.sweep_id = sweep;
  const int64_t run = store.begin_run(info, {});
  EXPECT_EQ(*scalar(store, "SELECT s.name FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE r.id = " +
                               std::to_string(run)),
            "lr-grid");
  info.sweep_id = sweep + 41;
  std::string what = error_of([&] { store.begin_run(info, {}); });
  EXPECT_NE(what.find("does not exist"), std::string::npos) << what;
}

TEST_F(StoreTest, MetricsReplaceTheSameStepAndKeepNaNAsNull) {
  Store store(db_);
  const int64_t run = store.begin_run(sample_run(), {});
  store.log_metric(run, "", "valid", "ndcg@10", 1, 0.25);
  store.log_metric(run, "", "valid", "ndcg@10", 1, 0.5);  // a re-evaluation of the same step
  store.log_metric(run, "", "train", "loss", 1, std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(count(store, "SELECT count(*) FROM metrics"), 2);
  EXPECT_EQ(*scalar(store, "SELECT value FROM metrics WHERE key = 'ndcg@10'"), "0.5");
  EXPECT_FALSE(scalar(store, "SELECT value FROM metrics WHERE key = 'loss'"));
  EXPECT_TRUE(
      std::regex_match(*scalar(store, "SELECT logged_at FROM metrics WHERE key = 'loss'"), kIsoUtcMillis));

  std::string what = error_of([&] { store.log_metric(run + 7, "", "valid", "hr@10", 1, 0.1); });
  EXPECT_NE(what.find("run " + std::to_string(run + 7)), std::string::npos) << what;
  EXPECT_NE(what.find("does not exist"), std::string::npos) << what;
  EXPECT_NE(error_of([&] { store.log_metric(run, "", "", "hr@10", 1, 0.1); }).find("needs a split"),
            std::string::npos);
  EXPECT_NE(error_of([&] { store.log_final(run, "test", "", 0.1); }).find("needs a split"),
            std::string::npos);
}

TEST_F(StoreTest, BestEpochPicksTheBestValidStepWithItsTestValue) {
  Store store(db_);
  const int64_t run = store.begin_run(sample_run(), {});
  const double valid[] = {0.10, 0.30, 0.20, 0.30};  // a tie at steps 2 and 4: the earlier wins
  for (int step = 1; step <= 4; ++step) {
    store.log_metric(run, "target", "valid", "ndcg@10", step, valid[step - 1]);
    store.log_metric(run, "target", "test", "ndcg@10", step, valid[step - 1] - 0.05);
    store.log_metric(run, "target", "valid", "hr@10", step, 1.0 - step * 0.1);  // not the select metric
  }
  store.log_metric(run, "pretrain", "valid", "ndcg@10", 1, 0.05);  // another stage, its own best
  RunInfo loss_run = sample_run("min-mode");
  loss_run.select_metric = "loss";
  loss_run.select_higher_is_better = false;
  const int64_t run2 = store.begin_run(loss_run, {});
  for (int step = 1; step <= 3; ++step) store.log_metric(run2, "", "valid", "loss", step, 3.0 - (step == 2));

  QueryResult r = store.query(
      "SELECT run_id, stage, metric, step, valid_value, test_value FROM best_epoch ORDER BY run_id, stage");
  ASSERT_EQ(r.rows.size(), 3u);
  auto row = [&](size_t i) {
    std::vector<std::string> out;
    for (auto& v : r.rows[i]) out.push_back(v ? *v : "NULL");
    return out;
  };
  const std::string id = std::to_string(run), id2 = std::to_string(run2);
  EXPECT_EQ(row(0), (std::vector<std::string>{id, "pretrain", "ndcg@10", "1", "0.05", "NULL"}));
  EXPECT_EQ(row(1), (std::vector<std::string>{id, "target", "ndcg@10", "2", "0.3", "0.25"}));
  EXPECT_EQ(row(2), (std::vector<std::string>{id2, "", "loss", "2", "2.0", "NULL"}));
}

TEST_F(StoreTest, FinalMetricsPluginsAndArtifactsUpsert) {
  Store store(db_);
  const int64_t run = store.begin_run(sample_run(), {});
  store.log_final(run, "valid", "ndcg@10", 0.31);
  store.log_final(run, "test", "ndcg@10", 0.2);
  store.log_final(run, "test", "ndcg@10", 0.29);
  store.log_final(run, "run", "seconds", 12.5);
  store.add_plugin(run, "sasrec", "0.1.0", "/p/libsasrec.so", std::string(64, 'a'));
  store.add_plugin(run, "sasrec", "0.1.1", "/p/libsasrec.so", std::string(64, 'b'));
  store.add_artifact(run, "checkpoint", "/r/1/model.pt", 100);
  store.add_artifact(run, "checkpoint", "/r/1/model.pt", 250);
  store.add_artifact(run, "log", "/r/1/run.log", 0);
  EXPECT_EQ(count(store, "SELECT count(*) FROM final_metrics"), 3);
  EXPECT_EQ(*scalar(store, "SELECT value FROM final_metrics WHERE split = 'test'"), "0.29");
  EXPECT_EQ(*scalar(store, "SELECT version || ' ' || substr(sha256, 1, 1) FROM plugins"), "0.1.1 b");
  EXPECT_EQ(count(store, "SELECT count(*) FROM artifacts"), 2);
  EXPECT_EQ(count(store, "SELECT bytes FROM artifacts WHERE kind = 'checkpoint'"), 250);
  EXPECT_NE(error_of([&] { store.add_artifact(run, "log", "/r/1/x", -1); }).find("CHECK"), std::string::npos);

  store.finish_run(run, RunStatus::Finished);
  QueryResult r = store.query("SELECT status, final_valid, final_test, duration_s >= 0 FROM run_overview");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(*r.rows[0][0], "finished");
  EXPECT_EQ(*r.rows[0][1], "0.31");
  EXPECT_EQ(*r.rows[0][2], "0.29");
  EXPECT_EQ(*r.rows[0][3], "1");
  // Deleting a run takes its rows along (ON DELETE CASCADE).
  store.query("DELETE FROM runs", /*read_only=*/false);
  for (const char* t : {"params", "metrics", "final_metrics", "plugins", "artifacts"})
    EXPECT_EQ(count(store, std::string("SELECT count(*) FROM ") + t), 0) << t;
}

TEST_F(StoreTest, CaseRanksAreReplacedPerStageAndSplit) {
  Store store(db_);
  const int64_t run = store.begin_run(sample_run(), {});
  store.log_case_ranks(run, "", "test", {{7, 3, 0, 100}, {8, 4, 12, 100}, {9, 1, 99, 100}});
  store.log_case_ranks(run, "", "valid", {{7, 2, 5, 101}});
  store.log_case_ranks(run, "pretrain", "test", {{7, 3, 1, 50}});
  auto rows = store.case_ranks(run, "", "test");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].user, 8);
  EXPECT_EQ(rows[1].target, 4);
  EXPECT_EQ(rows[1].rank, 12);
  EXPECT_EQ(rows[1].candidates, 100);
  EXPECT_EQ(store.case_rank_stages(run, "test"), (std::vector<std::string>{"", "pretrain"}));
  // Logging (run, stage, split) again replaces its rows and leaves the others.
  store.log_case_ranks(run, "", "test", {{1, 1, 0, 10}});
  EXPECT_EQ(store.case_ranks(run, "", "test").size(), 1u);
  EXPECT_EQ(store.case_ranks(run, "", "valid").size(), 1u);
  EXPECT_TRUE(store.case_ranks(run, "", "nothing").empty());
  // A rank outside its candidates violates the table's CHECK: nothing of that call is kept.
  EXPECT_THROW(store.log_case_ranks(run, "", "test", {{1, 1, 0, 10}, {2, 2, 10, 10}}), Error);
  EXPECT_EQ(store.case_ranks(run, "", "test").size(), 1u);
  // Per-user metrics are plain SQL over the table.
  EXPECT_EQ(*scalar(store, "SELECT sum(rank < 10) FROM case_ranks WHERE run_id = " + std::to_string(run) +
                               " AND stage = '' AND split = 'test'"),
            "1");
}

TEST_F(StoreTest, FinishRunClosesOnceWithAnEndTime) {
  Store store(db_);
  const int64_t run = store.begin_run(sample_run(), {});
  store.finish_run(run, RunStatus::Failed, "CUDA out of memory");
  QueryResult r = store.query("SELECT status, error, ended_at >= started_at, ended_at FROM runs");
  EXPECT_EQ(*r.rows[0][0], "failed");
  EXPECT_EQ(*r.rows[0][1], "CUDA out of memory");
  EXPECT_EQ(*r.rows[0][2], "1");
  EXPECT_TRUE(std::regex_match(*r.rows[0][3], kIsoUtcMillis));

  std::string what = error_of([&] { store.finish_run(run, RunStatus::Finished); });
  EXPECT_NE(what.find("already closed as 'failed'"), std::string::npos) << what;
  what = error_of([&] { store.finish_run(run + 5, RunStatus::Finished); });
  EXPECT_NE(what.find("no run " + std::to_string(run + 5)), std::string::npos) << what;
  what = error_of([&] { store.finish_run(run, RunStatus::Running); });
  EXPECT_NE(what.find("not running"), std::string::npos) << what;
  // The schema itself refuses a closed run without an end time and unknown statuses.
  EXPECT_NE(error_of([&] { store.query("UPDATE runs SET ended_at = NULL", false); }).find("CHECK"),
            std::string::npos);
  EXPECT_NE(error_of([&] { store.query("UPDATE runs SET status = 'done'", false); }).find("CHECK"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------------
// RunScope

TEST_F(StoreTest, RunScopeLeftWithoutFinishClosesAsFailed) {
  Store store(db_);
  const int64_t quiet = store.begin_run(sample_run("quiet"), {});
  { RunScope scope(store, quiet); }
  const int64_t thrown = store.begin_run(sample_run("thrown"), {});
  try {
    RunScope scope(store, thrown);
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(*scalar(store, "SELECT status || ': ' || error FROM runs WHERE id = " + std::to_string(quiet)),
            "failed: run scope left without finish()");
  EXPECT_EQ(*scalar(store, "SELECT status || ': ' || error FROM runs WHERE id = " + std::to_string(thrown)),
            "failed: run scope left without finish() while an exception was propagating");
}

TEST_F(StoreTest, RunScopeFinishAndFail) {
  Store store(db_);
  const int64_t ok = store.begin_run(sample_run("ok"), {});
  const int64_t stopped = store.begin_run(sample_run("stopped"), {});
  {
    RunScope scope(store, ok);
    EXPECT_EQ(scope.id(), ok);
    scope.finish();
  }
  {
    RunScope scope(store, stopped);
    scope.fail(RunStatus::Interrupted, "SIGINT at epoch 3");
  }
  EXPECT_EQ(*scalar(store,
                    "SELECT status || '|' || coalesce(error, '') FROM runs WHERE id = " + std::to_string(ok)),
            "finished|");
  EXPECT_EQ(*scalar(store, "SELECT status || '|' || error FROM runs WHERE id = " + std::to_string(stopped)),
            "interrupted|SIGINT at epoch 3");
}

TEST_F(StoreTest, RunScopeDestructorSwallowsStoreErrors) {
  Store store(db_);
  const int64_t run = store.begin_run(sample_run(), {});
  testing::internal::CaptureStderr();
  {
    RunScope scope(store, run);
    store.finish_run(run, RunStatus::Finished);  // closed behind the scope's back: its close must fail
  }  // and the destructor must not throw (std::terminate would end the test binary)
  const std::string said = testing::internal::GetCapturedStderr();
  EXPECT_NE(said.find("could not close the run in the store"), std::string::npos) << said;
  EXPECT_NE(said.find("already closed as 'finished'"), std::string::npos) << said;
  EXPECT_EQ(*scalar(store, "SELECT status FROM runs"), "finished");
}

// ---------------------------------------------------------------------------------------------------
// query()

TEST_F(StoreTest, QueryIsReadOnlyUnlessAskedToWrite) {
  Store store(db_);
  store.begin_run(sample_run(), {});
  std::string what = error_of<InputError>([&] { store.query("DELETE FROM runs"); });
  EXPECT_NE(what.find("writes to the store"), std::string::npos) << what;
  EXPECT_NE(what.find("--write"), std::string::npos) << what;
  EXPECT_EQ(count(store, "SELECT count(*) FROM runs"), 1);
  for (const char* sneaky : {"ATTACH DATABASE '/tmp/xrec_store_other.db' AS other", "BEGIN", "SAVEPOINT a"})
    EXPECT_NE(error_of<InputError>([&] { store.query(sneaky); }).find("not allowed"), std::string::npos)
        << sneaky;
  EXPECT_FALSE(fs::exists("/tmp/xrec_store_other.db"));

  QueryResult changed = store.query("UPDATE runs SET name = 'renamed'", /*read_only=*/false);
  EXPECT_EQ(changed.changes, 1);
  EXPECT_TRUE(changed.columns.empty());
  EXPECT_EQ(*scalar(store, "SELECT name FROM runs"), "renamed");

  Store reader(db_, /*read_only=*/true);
  EXPECT_EQ(*scalar(reader, "SELECT name FROM runs"), "renamed");
  EXPECT_NE(error_of([&] { reader.query("DELETE FROM runs", false); }).find("opened read-only"),
            std::string::npos);
  EXPECT_NE(error_of([&] { reader.reconcile_stale_runs(); }).find("read-only"), std::string::npos);
}

TEST_F(StoreTest, QueryTakesExactlyOneStatement) {
  Store store(db_);
  EXPECT_EQ(*scalar(store, "  SELECT 1;  -- trailing comment\n  "), "1");
  std::string what = error_of<InputError>([&] { store.query("SELECT 1; SELECT 2"); });
  EXPECT_NE(what.find("only one SQL statement"), std::string::npos) << what;
  EXPECT_NE(what.find("SELECT 2"), std::string::npos) << what;
  // The second statement is refused even when it would write, and nothing ran.
  error_of<InputError>([&] { store.query("SELECT 1; DROP TABLE runs", false); });
  EXPECT_EQ(count(store, "SELECT count(*) FROM sqlite_master WHERE name = 'runs'"), 1);
  EXPECT_NE(error_of<InputError>([&] { store.query("  -- nothing\n"); }).find("no SQL statement"),
            std::string::npos);
  what = error_of<InputError>([&] { store.query("SELEC * FROM runs"); });
  EXPECT_NE(what.find("syntax error"), std::string::npos) << what;
  what = error_of<InputError>([&] { store.query("SELECT nope FROM runs"); });
  EXPECT_NE(what.find("no such column: nope"), std::string::npos) << what;
}

TEST_F(StoreTest, QueryKeepsTypesAndSqliteNumberText) {
  Store store(db_);
  QueryResult r = store.query(
      "SELECT 42 AS i, 0.1 AS r, 1.0 AS whole, 1 / 3.0 AS third, 'text' AS t, NULL AS n, X'00FF' AS b,"
      " 1e999 AS inf");
  ASSERT_EQ(r.columns, (std::vector<std::string>{"i", "r", "whole", "third", "t", "n", "b", "inf"}));
  ASSERT_EQ(r.rows.size(), 1u);
  ASSERT_EQ(r.types.size(), 1u);
  const auto& v = r.rows[0];
  EXPECT_EQ(*v[0], "42");
  EXPECT_EQ(*v[1], "0.1");
  EXPECT_EQ(*v[2], "1.0");
  EXPECT_EQ(*v[3], "0.333333333333333");
  EXPECT_EQ(*v[4], "text");
  EXPECT_FALSE(v[5]);
  EXPECT_EQ(*v[6], "X'00FF'");
  EXPECT_EQ(r.types[0], (std::vector<SqlType>{SqlType::Integer, SqlType::Real, SqlType::Real, SqlType::Real,
                                              SqlType::Text, SqlType::Null, SqlType::Blob, SqlType::Real}));
  EXPECT_EQ(to_json(r),
            "[\n  {\"i\": 42, \"r\": 0.1, \"whole\": 1.0, \"third\": 0.333333333333333, \"t\": \"text\", "
            "\"n\": null,"
            " \"b\": \"X'00FF'\", \"inf\": null}\n]\n");
}

TEST_F(StoreTest, CsvAndJsonEscaping) {
  Store store(db_);
  QueryResult r = store.query(
      "SELECT 'plain' AS a, 'with, comma' AS \"b,c\", 'say \"hi\"' AS q, 'two' || char(10) || 'lines' AS nl,"
      " NULL AS n, '12' AS numeric_text, 'tab' || char(9) || 'bs\\' || char(1) AS ctl");
  EXPECT_EQ(to_csv(r),
            "a,\"b,c\",q,nl,n,numeric_text,ctl\r\n"
            "plain,\"with, comma\",\"say \"\"hi\"\"\",\"two\nlines\",,12,tab\tbs\\\x01\r\n");
  EXPECT_EQ(
      to_json(r),
      "[\n  {\"a\": \"plain\", \"b,c\": \"with, comma\", \"q\": \"say \\\"hi\\\"\", \"nl\": \"two\\nlines\","
      " \"n\": null, \"numeric_text\": \"12\", \"ctl\": \"tab\\tbs\\\\\\u0001\"}\n]\n");
  QueryResult empty = store.query("SELECT id, name FROM runs");
  EXPECT_EQ(to_json(empty), "[]\n");
  EXPECT_EQ(to_csv(empty), "id,name\r\n");
}

// ---------------------------------------------------------------------------------------------------
// Several processes

// Two processes append to their own runs at the same time: WAL plus the busy timeout serialise the
// writers, and every row lands.
TEST_F(StoreTest, TwoProcessesWriteConcurrently) {
  { Store create(db_); }  // no connection may cross fork()
  constexpr int kMetrics = 400;
  auto writer = [&](const std::string& name) {
    return fork_child([&, name] {
      Store store(db_);
      const int64_t run = store.begin_run(sample_run(name), {{"writer", name}});
      for (int step = 0; step < kMetrics; ++step)
        store.log_metric(run, "", "train", "loss", step, 1.0 / (step + 1));
      store.log_final(run, "test", "ndcg@10", 0.5);
      store.finish_run(run, RunStatus::Finished);
    });
  };
  pid_t a = writer("a"), b = writer("b");
  EXPECT_EQ(wait_exit_code(a), 0);
  EXPECT_EQ(wait_exit_code(b), 0);
  Store store(db_);
  EXPECT_EQ(count(store, "SELECT count(*) FROM runs WHERE status = 'finished'"), 2);
  EXPECT_EQ(count(store, "SELECT count(*) FROM metrics"), 2 * kMetrics);
  EXPECT_EQ(count(store, "SELECT count(DISTINCT run_id) FROM metrics"), 2);
  EXPECT_EQ(count(store, "SELECT count(*) FROM final_metrics"), 2);
  for (const char* name : {"a", "b"})
    EXPECT_EQ(count(store, std::string("SELECT count(*) FROM metrics m JOIN params p ON p.run_id = m.run_id"
                                       " WHERE p.key = 'writer' AND p.value = '") +
                               name + "'"),
              kMetrics)
        << name;
}

// Processes that open a brand-new store at once apply each migration exactly once.
TEST_F(StoreTest, ConcurrentFirstOpensMigrateOnce) {
  std::vector<pid_t> children;
  for (int i = 0; i < 4; ++i)
    children.push_back(fork_child([&, i] {
      Store store(db_);
      const int64_t run = store.begin_run(sample_run("opener" + std::to_string(i)), {});
      store.finish_run(run, RunStatus::Finished);
    }));
  for (pid_t c : children) EXPECT_EQ(wait_exit_code(c), 0);
  Store store(db_);
  EXPECT_EQ(count(store, "SELECT count(*) FROM schema_version"), Store::latest_schema_version());
  EXPECT_EQ(count(store, "SELECT count(*) FROM runs WHERE status = 'finished'"), 4);
}

// A run whose process is killed keeps its partial metrics, and reconcile closes it as interrupted.
TEST_F(StoreTest, KilledRunIsReconciledAsInterrupted) {
  { Store create(db_); }
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    try {
      Store store(db_);
      const int64_t run = store.begin_run(sample_run("doomed"), {});
      for (int step = 1; step <= 5; ++step) store.log_metric(run, "", "valid", "ndcg@10", step, 0.1 * step);
      if (write(ready[1], &run, sizeof run) != sizeof run) _exit(1);
    } catch (...) {
      _exit(1);
    }
    for (;;) pause();  // "training": until the parent kills it
  }
  close(ready[1]);
  int64_t run = 0;
  ASSERT_EQ(read(ready[0], &run, sizeof run), static_cast<ssize_t>(sizeof run));
  close(ready[0]);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  // Wait until it is a zombie but leave it unreaped: a zombie counts as ended, too.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);

  Store store(db_);
  EXPECT_EQ(*scalar(store, "SELECT status FROM runs WHERE id = " + std::to_string(run)), "running");
  EXPECT_EQ(store.reconcile_stale_runs(), 1);
  QueryResult r = store.query(
      "SELECT status, error, ended_at = (SELECT max(logged_at) FROM metrics WHERE run_id = runs.id)"
      " FROM runs WHERE id = " +
      std::to_string(run));
  EXPECT_EQ(*r.rows[0][0], "interrupted");
  const std::string expected =
      "process " + std::to_string(child) + " on host " + this_host() + " ended without closing the run";
  EXPECT_EQ(r.rows[0][1]->rfind(expected, 0), 0u) << *r.rows[0][1];
  EXPECT_EQ(*r.rows[0][2], "1");  // ended_at: its last write, not the time reconcile noticed
  EXPECT_EQ(count(store, "SELECT count(*) FROM metrics WHERE run_id = " + std::to_string(run)), 5);
  EXPECT_EQ(store.reconcile_stale_runs(), 0);
  EXPECT_EQ(wait_exit_code(child), 128 + SIGKILL);
}

TEST_F(StoreTest, ReconcileSparesLiveRunsAndOtherHosts) {
  Store store(db_);
  const int64_t mine = store.begin_run(sample_run("mine"), {});
  RunInfo remote = sample_run("remote");
  remote.host = "some-other-host";
  remote.pid = 999999999;  // no such process here, but it is not ours to judge
  const int64_t elsewhere = store.begin_run(remote, {});
  RunInfo reused = sample_run("reused-pid");
  reused.pid = getpid();
  const int64_t old = store.begin_run(reused, {});
  // Started long before this process: the pid now belongs to a later process, so the run is dead.
  store.query("UPDATE runs SET started_at = '2001-01-01T00:00:00.000Z' WHERE id = " + std::to_string(old),
              false);

  EXPECT_EQ(store.reconcile_stale_runs(), 1);
  auto status = [&](int64_t id) {
    return *scalar(store, "SELECT status FROM runs WHERE id = " + std::to_string(id));
  };
  EXPECT_EQ(status(mine), "running");
  EXPECT_EQ(status(elsewhere), "running");
  EXPECT_EQ(status(old), "interrupted");
  EXPECT_EQ(*scalar(store, "SELECT ended_at FROM runs WHERE id = " + std::to_string(old)),
            "2001-01-01T00:00:00.000Z");
}


// ---------------------------------------------------------------------------------------------------
// Another process holding the write lock longer than the busy timeout

// Holds the store's write lock from a second connection (as a long `sqlite3` session would) until release().
class LockHolder {
 public:
  explicit LockHolder(const std::string& path) {
    sqlite3_open(path.c_str(), &db_);
    locked_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~LockHolder() {
    release();
    sqlite3_close(db_);
  }
  bool locked() const { return locked_; }
  void release() {
    if (locked_) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    locked_ = false;
  }

 private:
  sqlite3* db_ = nullptr;
  bool locked_ = false;
};

// Before the fix the first metric written under the lock threw after the busy timeout and the run died.
TEST_F(StoreTest, MetricsWaitInMemoryWhileAnotherProcessHoldsTheStore) {
  Store store(db_);
  store.set_busy_timeout(std::chrono::milliseconds(50));
  store.set_write_patience(std::chrono::seconds(20));
  const int64_t run = store.begin_run(sample_run(), {});
  store.log_metric(run, "train", "train", "loss", 0, 1.0);
  LockHolder other(db_);
  ASSERT_TRUE(other.locked());
  for (int step = 1; step <= 4; ++step) EXPECT_NO_THROW(store.log_metric(run, "train", "train", "loss", step, 1.0 / step));
  EXPECT_EQ(store.pending_metrics(), 4u);
  std::thread unlock([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    other.release();
  });
  store.finish_run(run, RunStatus::Finished);  // waits for the lock, writes the metrics first
  unlock.join();
  EXPECT_EQ(store.pending_metrics(), 0u);
  EXPECT_EQ(count(store, "SELECT count(*) FROM metrics WHERE key = 'loss'"), 5);
  EXPECT_EQ(*scalar(store, "SELECT value FROM metrics WHERE step = 4"), "0.25");
  EXPECT_EQ(*scalar(store, "SELECT status FROM runs"), "finished");
}

TEST_F(StoreTest, ALockOutlastingThePatienceFailsClearlyAndKeepsTheMetrics) {
  Store store(db_);
  store.set_busy_timeout(std::chrono::milliseconds(20));
  store.set_write_patience(std::chrono::milliseconds(200));
  const int64_t run = store.begin_run(sample_run(), {});
  LockHolder other(db_);
  store.log_metric(run, "train", "train", "loss", 0, 2.0);
  const std::string what = error_of([&] { store.flush_metrics(); });
  EXPECT_NE(what.find("log_metric(run " + std::to_string(run) + ", train loss step 0)"), std::string::npos) << what;
  EXPECT_NE(what.find("another process kept the store locked"), std::string::npos) << what;
  EXPECT_EQ(store.pending_metrics(), 1u);
  other.release();
  store.flush_metrics();
  EXPECT_EQ(count(store, "SELECT count(*) FROM metrics"), 1);
}

// Schema 4: checkpoint checksums, a stage's checkpoint found by its file name (not by LIKE, which would read
// '_' as a wildcard), stage inputs, and reopening an interrupted run for --resume.
TEST_F(StoreTest, StageCheckpointsInputsAndResume) {
  Store store(db_);
  const int64_t run = store.begin_run(sample_run(), {});
  store.add_artifact(run, "checkpoint", "/r/1/a_b-best.pt", 10, std::string(64, 'c'));
  store.add_artifact(run, "checkpoint", "/r/1/a_b-last.pt", 11);
  store.add_artifact(run, "log", "/r/1/run.log", 0);
  EXPECT_FALSE(store.stage_checkpoint(run, "axb"));
  EXPECT_FALSE(store.stage_checkpoint(run, "b"));
  auto best = store.stage_checkpoint(run, "a_b");
  ASSERT_TRUE(best);
  EXPECT_EQ(best->path, "/r/1/a_b-best.pt");
  EXPECT_EQ(best->bytes, 10);
  EXPECT_EQ(best->sha256, std::string(64, 'c'));
  EXPECT_EQ(store.stage_checkpoint(run, "a_b", /*last=*/true)->sha256, "");  // no checksum: NULL
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM artifacts WHERE sha256 IS NULL"), "2");

  store.add_stage_input(run, {"finetune", "init_from", run, "pretrain", "", "/r/1/pretrain-best.pt",
                              std::string(64, 'd')});
  store.add_stage_input(run, {"pretrain", "cache", std::nullopt, "", std::string(64, 'e'), "/c/e.pt",
                              std::string(64, 'f')});
  const auto inputs = store.stage_inputs(run);
  ASSERT_EQ(inputs.size(), 2u);
  EXPECT_EQ(scalar(store, "SELECT source_run || '/' || source_stage FROM stage_inputs WHERE source = 'init_from'"),
            std::to_string(run) + "/pretrain");
  EXPECT_EQ(scalar(store, "SELECT cache_key IS NOT NULL AND source_run IS NULL FROM stage_inputs WHERE stage = "
                          "'pretrain'"),
            "1");
  EXPECT_THROW(store.add_stage_input(run, {"x", "guess", std::nullopt, "", "", "/p", std::string(64, 'a')}),
               std::exception);  // the CHECK on source

  EXPECT_EQ(store.run_status(run), "running");
  EXPECT_FALSE(store.run_status(run + 1));
  EXPECT_THROW(store.resume_run(run), InputError);  // running: another process has it
  store.finish_run(run, RunStatus::Interrupted, "SIGINT");
  store.resume_run(run);
  EXPECT_EQ(scalar(store, "SELECT status || ' ' || resumes || ' ' || (ended_at IS NULL) || ' ' || (error IS NULL) || "
                          "' ' || (resumed_at IS NOT NULL) FROM runs"),
            "running 1 1 1 1");
  store.finish_run(run, RunStatus::Finished);
  try {
    store.resume_run(run);
    FAIL() << "a finished run was resumed";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("finished (nothing to resume)"), std::string::npos) << e.what();
  }
  try {
    store.resume_run(run + 7);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no such run"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace xrec
