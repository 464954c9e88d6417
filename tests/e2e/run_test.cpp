// `xrec run` end to end on a small fixture dataset: training, metrics, the store, repeatability,
// bad input and interruption.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "harness.hpp"

using namespace xrec::test;

namespace {
std::string fixture_config(const TempDir& dir, int epochs, const std::string& extra = "") {
  const std::string data = dir.write("successor.txt", successor_dataset(80, 30, 12));
  return dir.write("e2e.yaml", R"(name: e2e
seed: 7
threads: 1
device: cpu
data:
  target:
    type: user_sequences
    path: )" + data + R"(
backbone:
  type: sasrec
  hidden: 16
  layers: 1
  heads: 1
  max_len: 8
  dropout: 0.1
  attn_dropout: 0.1
transfer:
  type: scratch
train:
  epochs: )" + std::to_string(epochs) + R"(
  batch_size: 16
  lr: 0.01
  patience: 100
eval:
  protocol: full
  ks: [1, 5, 10]
)" + extra);
}
}  // namespace

TEST(RunE2E, TrainsEvaluatesAndRecordsEverything) {
  TempDir dir("run");
  const std::string db = dir.file("store/xrec.db");
  auto r = xrec_cmd("run " + fixture_config(dir, 12) + " --db " + db);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ndcg@10"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ETA"), std::string::npos) << r.output;

  EXPECT_EQ(one_value(db, "SELECT status FROM runs"), "finished");
  EXPECT_EQ(one_value(db, "SELECT threads FROM runs"), "1");
  EXPECT_EQ(one_value(db, "SELECT device FROM runs"), "cpu");
  EXPECT_NE(one_value(db, "SELECT blas FROM runs"), "");
  EXPECT_EQ(one_value(db, "SELECT length(config_hash) FROM runs"), "64");
  EXPECT_EQ(one_value(db, "SELECT value FROM params WHERE key = 'backbone.hidden'"), "16");
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM metrics WHERE stage = 'train' AND split = 'valid' AND key = 'ndcg@10'"),
            "12");
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM plugins"), "3");  // user_sequences, sasrec, scratch
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM artifacts WHERE kind = 'checkpoint'"), "1");
  // The successor pattern is learnable: far above the 10/30 a random ranking would reach.
  const double hr10 = std::stod(one_value(db, "SELECT value FROM final_metrics WHERE split = 'test' AND key = 'hr@10'"));
  EXPECT_GT(hr10, 0.8);
  // The resolved config was written next to the store and parses back to the same hash.
  const std::string run_dir = one_value(db, "SELECT run_dir FROM runs");
  EXPECT_TRUE(fs::exists(fs::path(run_dir) / "config.yaml"));
  EXPECT_TRUE(fs::exists(fs::path(run_dir) / "run.log"));
}

TEST(RunE2E, SameConfigAndSeedGiveTheSameMetrics) {
  TempDir dir("repeat");
  const std::string db = dir.file("xrec.db"), cfg = fixture_config(dir, 3);
  ASSERT_EQ(xrec_cmd("run " + cfg + " --db " + db).code, 0);
  ASSERT_EQ(xrec_cmd("run " + cfg + " --db " + db).code, 0);
  ASSERT_EQ(xrec_cmd("run " + cfg + " seed=8 --db " + db).code, 0);
  const std::string same = one_value(
      db, "SELECT count(*) FROM final_metrics a JOIN final_metrics b ON a.split = b.split AND a.key = b.key "
          "WHERE a.run_id = 1 AND b.run_id = 2 AND a.value = b.value AND a.split = 'test'");
  const std::string all = one_value(db, "SELECT count(*) FROM final_metrics WHERE run_id = 1 AND split = 'test'");
  EXPECT_EQ(same, all);
  EXPECT_EQ(one_value(db, "SELECT count(DISTINCT config_hash) FROM runs"), "2");  // seed=8 changes the config
  const std::string loss1 = one_value(db, "SELECT value FROM metrics WHERE run_id = 1 AND key = 'loss' AND step = 2");
  const std::string loss3 = one_value(db, "SELECT value FROM metrics WHERE run_id = 3 AND key = 'loss' AND step = 2");
  EXPECT_NE(loss1, loss3);
}

TEST(RunE2E, ConfigErrorsStopBeforeTheStoreIsTouched) {
  TempDir dir("badcfg");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = fixture_config(dir, 1, "extra_key: 1\n");
  auto r = xrec_cmd("run " + cfg + " backbone.hiden=8 --db " + db);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("backbone.hiden"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hidden"), std::string::npos) << r.output;  // did you mean
  EXPECT_NE(r.output.find("extra_key"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("e2e.yaml:"), std::string::npos) << r.output;  // file:line:column
  EXPECT_FALSE(fs::exists(db)) << "a config error must not create runs";
}

TEST(RunE2E, MissingDataIsARecordedFailure) {
  TempDir dir("nodata");
  const std::string db = dir.file("xrec.db");
  auto r = xrec_cmd("run " + fixture_config(dir, 1) + " data.target.path=no/such/file.txt --db " + db);
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("no/such/file.txt"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("looked in"), std::string::npos) << r.output;
  EXPECT_EQ(one_value(db, "SELECT status FROM runs"), "failed");
  EXPECT_NE(one_value(db, "SELECT error FROM runs").find("not found"), std::string::npos);
}

TEST(RunE2E, CheckValidatesAndPrintsTheResolvedConfigWithoutRunning) {
  TempDir dir("check");
  const std::string db = dir.file("xrec.db");
  auto r = xrec_cmd("run " + fixture_config(dir, 1) + " backbone.hidden=8 --check --db " + db);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("hidden: 8"), std::string::npos) << r.output;          // the override, resolved
  EXPECT_NE(r.output.find("length_groups: true"), std::string::npos) << r.output;  // a default filled in
  EXPECT_NE(r.output.find("nothing was run or recorded"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(db));
  auto bad = xrec_cmd("run " + fixture_config(dir, 1) + " backbone.hiden=8 --check --db " + db);
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("did you mean"), std::string::npos) << bad.output;
}

// The real schema: `stages.*` validated as train keys and printed as written; a type switch drops the lower
// layer's params (SASRec's heads, attn_dropout); hostile values are exit 2, not a crash (docs/config.md).
TEST(RunE2E, CheckPrintsStagesAndSwitchesComponentTypes) {
  TempDir dir("stages");
  const std::string db = dir.file("xrec.db");
  auto r = xrec_cmd("run " + fixture_config(dir, 3) +
                    " stages.finetune.lr=0.0001 backbone.type=gru4rec --check --db " + db);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("stages:\n  finetune:\n    lr: 0.0001\n"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("    aux_loss:"), std::string::npos) << r.output;  // train:'s keys are not repeated
  EXPECT_NE(r.output.find("backbone:\n  type: gru4rec\n"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("attn_dropout"), std::string::npos) << r.output;
  for (const std::string arg : {"stages.finetune.lrr=1", "train.lr=.nan", "'train.x=&a [*a]'"}) {
    auto bad = xrec_cmd("run " + fixture_config(dir, 1) + " " + arg + " --check --db " + db);
    EXPECT_EQ(bad.code, 2) << arg << "\n" << bad.output;
  }
  EXPECT_FALSE(fs::exists(db));
}

TEST(RunE2E, TheIdItemEncoderIsBuiltInAndItsInitStdTrains) {
  TempDir dir("encoder");
  const std::string db = dir.file("xrec.db");
  auto check = xrec_cmd("run " + fixture_config(dir, 1) + " item_encoder.type=id item_encoder.init_std=0.01 --check");
  EXPECT_EQ(check.code, 0) << check.output;
  EXPECT_NE(check.output.find("item_encoder:\n  type: id\n  init_std: 0.01\n"), std::string::npos) << check.output;
  auto unknown = xrec_cmd("run " + fixture_config(dir, 1) + " item_encoder.type=idd --check --db " + db);
  EXPECT_EQ(unknown.code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("did you mean 'id'"), std::string::npos) << unknown.output;
  // The same seed with the encoder's own init_std trains other tables: the loss after one epoch differs.
  auto a = xrec_cmd("run " + fixture_config(dir, 1) + " --db " + db);
  auto b = xrec_cmd("run " + fixture_config(dir, 1) + " item_encoder.type=id item_encoder.init_std=0.5 --db " + db);
  ASSERT_EQ(a.code, 0) << a.output;
  ASSERT_EQ(b.code, 0) << b.output;
  EXPECT_NE(one_value(db, "SELECT value FROM metrics WHERE run_id = 1 AND key = 'loss' AND split = 'train'"),
            one_value(db, "SELECT value FROM metrics WHERE run_id = 2 AND key = 'loss' AND split = 'train'"));
}

TEST(RunE2E, AnUnusableDeviceStopsBeforeTheStoreIsTouched) {
  TempDir dir("baddevice");
  const std::string db = dir.file("xrec.db");
  auto r = xrec_cmd("run " + fixture_config(dir, 1) + " device=cuda:x --db " + db);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("device 'cuda:x': expected auto, cpu, cuda or cuda:N"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(db));
}

TEST(RunE2E, ADivergingLossFailsTheRunWithAHint) {
  TempDir dir("diverge");
  const std::string db = dir.file("xrec.db");
  // Adam moves every weight by about lr per step: at 1e30 the scores overflow within an epoch or two.
  auto r = xrec_cmd("run " + fixture_config(dir, 5) + " train.lr=1e30 --db " + db);
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("training diverged"), std::string::npos) << r.output;
  EXPECT_EQ(one_value(db, "SELECT status FROM runs"), "failed");
  EXPECT_NE(one_value(db, "SELECT error FROM runs").find("lower train.lr"), std::string::npos);
}

TEST(RunE2E, CtrlCEndsTheRunAsInterruptedWithItsMetricsKept) {
  TempDir dir("interrupt");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = fixture_config(dir, 100000);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("XREC_PLUGIN_PATH", XREC_TEST_PLUGIN_DIR, 1);
    freopen("/dev/null", "w", stdout);
    execl(XREC_TEST_XREC_BIN, "xrec", "run", cfg.c_str(), "--db", db.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until at least two epochs were validated, then press Ctrl-C.
  bool started = false;
  for (int i = 0; i < 600 && !started; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!fs::exists(db)) continue;
    try {
      started = std::stoi(one_value(db, "SELECT count(*) FROM metrics WHERE split = 'valid' AND key = 'ndcg@10'")) >= 2;
    } catch (const std::exception&) {
    }
  }
  ASSERT_TRUE(started) << "the run never logged validation metrics";
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_EQ(one_value(db, "SELECT status FROM runs"), "interrupted");
  EXPECT_NE(one_value(db, "SELECT error FROM runs").find("SIGINT"), std::string::npos);
  EXPECT_GE(std::stoi(one_value(db, "SELECT count(*) FROM metrics WHERE split = 'valid'")), 2);
  EXPECT_NE(one_value(db, "SELECT ended_at FROM runs"), "");
}

// The README's main job on the real data, shortened to one epoch. Skips where ../shared/data is absent.
TEST(RunE2E, QuickstartOnRealBeauty) {
  const fs::path beauty = fs::path(XREC_TEST_SHARED_DATA) / "amazon-s3rec" / "Beauty.txt";
  if (!fs::exists(beauty)) GTEST_SKIP() << "real data not found at " << beauty << " (see ../shared/data/README.md)";
  TempDir dir("quickstart");
  const std::string db = dir.file("xrec.db");
  auto r = xrec_cmd("run " + std::string(XREC_TEST_SOURCE_DIR) + "/configs/quickstart.yaml train.epochs=1 --db " + db,
                    "XREC_DATA='" + std::string(XREC_TEST_SHARED_DATA) + "'");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(std::stod(one_value(db, "SELECT value FROM metrics WHERE stage = 'data' AND key = 'users'")), 22363);
  EXPECT_EQ(std::stod(one_value(db, "SELECT value FROM metrics WHERE stage = 'data' AND key = 'items'")), 12101);
  EXPECT_EQ(std::stod(one_value(db, "SELECT value FROM metrics WHERE stage = 'data' AND key = 'interactions'")), 198502);
  const double ndcg = std::stod(one_value(db, "SELECT value FROM final_metrics WHERE split = 'test' AND key = 'ndcg@10'"));
  EXPECT_GT(ndcg, 0.005);  // random ranking of 12,101 items gives about 0.0004
}

// `--check` builds what `run` builds short of data and training (issue 12, item 11): a transfer strategy
// without a backbone, and component params only the plugin itself checks, fail the check.
TEST(RunE2E, CheckBuildsTheComponentsAndRefusesWhatCannotRun) {
  TempDir dir("checkbuild");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = fixture_config(dir, 1);
  auto nobackbone = xrec_cmd("run " + cfg + " backbone=~ --check --db " + db);
  EXPECT_EQ(nobackbone.code, 2) << nobackbone.output;
  EXPECT_NE(nobackbone.output.find("needs a `backbone:`"), std::string::npos) << nobackbone.output;
  auto heads = xrec_cmd("run " + cfg + " backbone.heads=3 --check --db " + db);
  EXPECT_EQ(heads.code, 2) << heads.output;
  EXPECT_NE(heads.output.find("divisible by heads"), std::string::npos) << heads.output;
  // The same configs fail `run` before the store is touched.
  EXPECT_EQ(xrec_cmd("run " + cfg + " backbone=~ --db " + db).code, 2);
  EXPECT_FALSE(fs::exists(db));
}

// issue 12, item 3: a thread count far above the machine's is a config error, not a hung machine.
TEST(RunE2E, ThreadsAreBoundedByTheMachine) {
  TempDir dir("threads");
  const std::string db = dir.file("xrec.db");
  auto r = xrec_cmd("run " + fixture_config(dir, 1) + " threads=100000 --db " + db);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("threads: 100000 is more than"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(db));
  EXPECT_EQ(xrec_cmd("run " + fixture_config(dir, 1) + " threads=100000 --check").code, 2);
}

// issue 12, item 6: an empty store path given explicitly would open a temporary SQLite database and lose
// the run; it is refused and nothing lands in the working directory.
TEST(RunE2E, AnEmptyStorePathIsRefused) {
  TempDir dir("emptydb");
  const std::string cfg = fixture_config(dir, 1);
  fs::create_directories(dir.file("cwd"));
  auto flag = xrec_cmd("run " + cfg + " --db=", "", dir.file("cwd"));
  EXPECT_EQ(flag.code, 2) << flag.output;
  EXPECT_NE(flag.output.find("--db is empty"), std::string::npos) << flag.output;
  auto env = xrec_cmd("run " + cfg, "XREC_DB=''", dir.file("cwd"));
  EXPECT_EQ(env.code, 2) << env.output;
  EXPECT_NE(env.output.find("XREC_DB is set but empty"), std::string::npos) << env.output;
  EXPECT_EQ(xrec_cmd("runs --db=", "", dir.file("cwd")).code, 2);
  EXPECT_TRUE(fs::is_empty(dir.file("cwd")));
}

// issue 12, item 5: two stores in one folder keep their own run folders (<folder>/<store stem>/<id>), so
// neither overwrites the other's config.yaml, run.log or checkpoints.
TEST(RunE2E, TwoStoresInOneFolderKeepTheirOwnRunFolders) {
  TempDir dir("twostores");
  const std::string a = dir.file("a.db"), b = dir.file("b.db");
  const std::string cfg = fixture_config(dir, 1);
  ASSERT_EQ(xrec_cmd("run " + cfg + " name=first --db " + a).code, 0);
  ASSERT_EQ(xrec_cmd("run " + cfg + " name=second --db " + b).code, 0);
  const fs::path dir_a = one_value(a, "SELECT run_dir FROM runs"), dir_b = one_value(b, "SELECT run_dir FROM runs");
  EXPECT_EQ(dir_a, fs::absolute(dir.file("a")) / "1");
  EXPECT_EQ(dir_b, fs::absolute(dir.file("b")) / "1");
  std::ifstream ca(dir_a / "config.yaml"), cb(dir_b / "config.yaml");
  std::string ta((std::istreambuf_iterator<char>(ca)), {}), tb((std::istreambuf_iterator<char>(cb)), {});
  EXPECT_NE(ta.find("name: first"), std::string::npos);
  EXPECT_NE(tb.find("name: second"), std::string::npos);
  EXPECT_EQ(one_value(a, "SELECT count(*) FROM artifacts WHERE path NOT LIKE '" + dir_a.string() + "/%'"), "0");
  EXPECT_EQ(one_value(b, "SELECT count(*) FROM artifacts WHERE path NOT LIKE '" + dir_b.string() + "/%'"), "0");
}
