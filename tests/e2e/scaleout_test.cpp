// Scale-out end to end: data-parallel training over c10d Gloo (`xrec run --nproc`, ranks from the
// environment as under srun) and sweep shards without Slurm (`--emit slurm`, the array tasks run by hand,
// `xrec merge`). The real Slurm test is tests/slurm/slurm_test.sh (CTest label slurm).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "harness.hpp"

using namespace xrec::test;

namespace {

// Sequences of uneven lengths (3..12 items), so the ranks' halves of a batch carry different numbers of
// padded positions.
std::string uneven_dataset(int users, int items) {
  std::string out;
  for (int u = 0; u < users; ++u) {
    out += "u" + std::to_string(u);
    const int length = 3 + (u * 5) % 10;
    for (int k = 0; k < length; ++k) out += " " + std::to_string((u * 7 + k * 3) % items + 1);
    out += "\n";
  }
  return out;
}

std::string write_config(const TempDir& dir, const std::string& extra = "") {
  const std::string data = dir.write("uneven.txt", uneven_dataset(64, 40));
  return dir.write("dp.yaml", R"(name: dp
seed: 11
threads: 1
device: cpu
data:
  target: {type: user_sequences, path: )" + data + R"(}
backbone: {type: sasrec, hidden: 16, layers: 1, heads: 2, max_len: 10, dropout: 0}
transfer: {type: scratch}
train: {epochs: 100, steps: 5, batch_size: 32, optimizer: adam, lr: 0.01}
eval: {protocol: full, ks: [5, 10]}
)" + extra);
}

int port() { return 21000 + static_cast<int>(std::random_device{}() % 8000); }

double number(const std::string& db, const std::string& sql) {
  const std::string v = one_value(db, sql);
  EXPECT_FALSE(v.empty()) << sql;
  return v.empty() ? std::nan("") : std::stod(v);
}

}  // namespace

// The training loss per step (one step per epoch here) of a store.
std::vector<double> losses(const std::string& db) {
  std::vector<double> out;
  for (int step = 0; step < 5; ++step)
    out.push_back(std::stod(one_value(db, "SELECT value FROM metrics WHERE split = 'train' AND key = 'loss' AND step = " +
                                              std::to_string(step))));
  return out;
}

TEST(DataParallelE2E, TwoRanksEndWhereOneProcessWithTheCombinedBatchEnds) {
  TempDir dir("dp-equal");
  const std::string config = write_config(dir);
  for (const std::string optimizer : {"sgd", "adam"}) {
    SCOPED_TRACE(optimizer);
    const std::string opt = " train.optimizer=" + optimizer + (optimizer == "sgd" ? " train.lr=0.05" : "");
    const std::string one_db = dir.file(optimizer + "-one.db"), two_db = dir.file(optimizer + "-two.db");
    Result one = xrec_cmd("run " + config + opt + " --db " + one_db);
    ASSERT_EQ(one.code, 0) << one.output;
    Result two = xrec_cmd("run " + config + opt + " --nproc 2 --db " + two_db,
                          "XREC_MASTER_PORT=" + std::to_string(port()));
    ASSERT_EQ(two.code, 0) << two.output;
    EXPECT_EQ(one_value(two_db, "SELECT count(*) FROM runs"), "1");  // rank 0 alone wrote the run
    const auto a = losses(one_db), b = losses(two_db);
    // Step 1 (before any update): the two halves' losses, each weighted by its share of the target
    // positions (the halves are padded unevenly), sum to the combined batch's loss.
    EXPECT_NEAR(a[0], b[0], 1e-5);
    // After 1..4 updates. SGD: float rounding only. Adam's first steps move every weight by about
    // lr * sign(g), so a gradient component that is ~0 and differs in its last bits between the summation
    // orders moves by up to 2 lr: a looser bound.
    for (int i = 1; i < 5; ++i) EXPECT_NEAR(a[static_cast<size_t>(i)], b[static_cast<size_t>(i)], optimizer == "sgd" ? 1e-4 : 2e-3) << "step " << i;
    const std::string test = "SELECT value FROM final_metrics WHERE split = 'test' AND key = 'ndcg@10'";
    if (optimizer == "sgd") {
      EXPECT_NEAR(number(one_db, test), number(two_db, test), 1e-6);
      const std::string valid = "SELECT group_concat(value) FROM (SELECT value FROM metrics WHERE split = 'valid'"
                                " AND key = 'ndcg@10' ORDER BY step)";
      EXPECT_EQ(one_value(one_db, valid), one_value(two_db, valid));
    }
  }
}

TEST(DataParallelE2E, ADeadRankMakesTheOthersFailWithinTheTimeoutAndTheRunIsFailed) {
  TempDir dir("dp-dead");
  const std::string config = write_config(dir, "");
  const std::string db = dir.file("dead.db");
  const int p = port();
  auto start_rank = [&](int rank) {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("XREC_WORLD_SIZE", "2", 1);
      setenv("XREC_RANK", std::to_string(rank).c_str(), 1);
      setenv("XREC_MASTER_PORT", std::to_string(p).c_str(), 1);
      setenv("XREC_DIST_TIMEOUT", "20", 1);
      const std::string log = dir.file("rank" + std::to_string(rank) + ".log");
      if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(126);
      // Long enough to be killed while training.
      execl(XREC_TEST_XREC_BIN, XREC_TEST_XREC_BIN, "run", config.c_str(), "train.steps=0", "train.epochs=400",
            "--db", db.c_str(), "--plugin-path", XREC_TEST_PLUGIN_DIR, static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  };
  const pid_t r0 = start_rank(0), r1 = start_rank(1);
  // Kill rank 1 once rank 0 has logged a training epoch (both are in the loop).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  bool training = false;
  while (!training && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    try {
      training = fs::exists(db) && one_value(db, "SELECT count(*) FROM metrics WHERE key = 'loss'") != "0";
    } catch (const std::exception&) {
    }
  }
  ASSERT_TRUE(training) << "rank 0 never trained";
  ASSERT_EQ(kill(r1, SIGKILL), 0);
  const auto killed = std::chrono::steady_clock::now();
  int ws = 0;
  waitpid(r1, &ws, 0);
  // Rank 0 must end by itself (a failed all-reduce), not hang: poll for up to timeout + margin.
  pid_t done = 0;
  while (done == 0 && std::chrono::steady_clock::now() - killed < std::chrono::seconds(40)) {
    done = waitpid(r0, &ws, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (done == 0) {
    kill(r0, SIGKILL);
    waitpid(r0, &ws, 0);
    FAIL() << "rank 0 hung after rank 1 died";
  }
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 1) << "rank 0 status " << ws;
  EXPECT_EQ(one_value(db, "SELECT status FROM runs"), "failed");
  const std::string error = one_value(db, "SELECT error FROM runs");
  EXPECT_NE(error.find("data parallel: rank 0 of 2"), std::string::npos) << error;
  EXPECT_NE(error.find("another rank died"), std::string::npos) << error;
}

TEST(DataParallelE2E, AStrategyWithItsOwnLoopIsRefusedAndABadProcessCountIsAnInputError) {
  TempDir dir("dp-custom");
  const std::string config = write_config(dir);
  const std::string fault = " --plugin-path " + std::string(XREC_TEST_FIXTURE_PLUGINS) + "/fault";
  // The fixture strategy `fault` in mode `sample` draws its own batches (ctx.sample_batch), as a
  // meta-learning loop does.
  Result r = xrec_cmd("run " + config + " transfer.type=fault transfer.mode=sample --nproc 2 --db " +
                          dir.file("x.db") + fault,
                      "XREC_MASTER_PORT=" + std::to_string(port()));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("data parallel (--nproc / srun / distributed:) needs the engine's training loop, but this "
                          "transfer strategy runs its own (it called sample_batch) and does not declare "
                          "DataParallel::own"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(one_value(dir.file("x.db"), "SELECT status FROM runs"), "failed");
  Result one = xrec_cmd("run " + config + " transfer.type=fault transfer.mode=sample --db " + dir.file("y.db") + fault);
  EXPECT_EQ(one.code, 0) << one.output;  // in one process it runs
  Result bad = xrec_cmd("run " + config + " --nproc 0 --db " + dir.file("z.db"));
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--nproc: expected a process count >= 1, got '0'"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(dir.file("z.db")));
}

TEST(SlurmShardsE2E, EmittedTasksRunByHandMergeIntoOneSweep) {
  TempDir dir("shards");
  const std::string data = dir.write("s.txt", successor_dataset(40, 30, 10));
  dir.write("base.yaml", R"(name: shards
seed: 7
threads: 1
device: cpu
data:
  target: {type: user_sequences, path: )" + data + R"(}
backbone: {type: sasrec, hidden: 8, layers: 1, heads: 1, max_len: 6}
transfer: {type: fault, mode: ok}
train: {epochs: 1, batch_size: 16}
eval: {protocol: full, ks: [5, 10]}
)");
  const std::string spec = dir.write("spec.yaml", "base: base.yaml\ngrid:\n  transfer.mode: [ok, abort]\nseeds: [1, 2]\n");
  const std::string fault = std::string(XREC_TEST_FIXTURE_PLUGINS) + "/fault";
  const std::string common = " --db " + dir.file("main.db") + " --plugin-path " + fault;
  Result emit = xrec_cmd("sweep " + spec + " --emit slurm " + dir.file("arr") + " --time 00:05:00" + common);
  ASSERT_EQ(emit.code, 0) << emit.output;
  EXPECT_NE(emit.output.find("4 trial(s), 4 in the array (0-3)"), std::string::npos) << emit.output;
  EXPECT_FALSE(fs::exists(dir.file("main.db")));  // emitting writes no store
  Result stray = xrec_cmd("sweep " + spec + " --partition cpu" + common);
  EXPECT_EQ(stray.code, 2) << stray.output;
  EXPECT_NE(stray.output.find("--partition is for a sweep on Slurm: add --emit slurm DIR or --slurm"),
            std::string::npos)
      << stray.output;
  // What job.sh runs for tasks 0..3 (SLURM_ARRAY_TASK_ID): tasks 2, 3 abort.
  for (int i = 0; i < 4; ++i) {
    Result t = xrec_cmd("sweep --task " + dir.file("arr") + " " + std::to_string(i));
    EXPECT_EQ(t.code, i < 2 ? 0 : 1) << t.output;
  }
  Result merge = xrec_cmd("merge " + dir.file("arr/shards") + " --db " + dir.file("main.db"));
  ASSERT_EQ(merge.code, 0) << merge.output;
  EXPECT_NE(merge.output.find("merged 4 shard(s)"), std::string::npos) << merge.output;
  const std::string db = dir.file("main.db");
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM runs"), "4");
  EXPECT_EQ(one_value(db, "SELECT group_concat(status, ',') FROM (SELECT status FROM sweep_trials ORDER BY point, seed)"),
            "finished,finished,failed,failed");
  Result again = xrec_cmd("merge " + dir.file("arr/shards") + " --db " + db);
  EXPECT_NE(again.output.find("0 run(s) added, 4 already there"), std::string::npos) << again.output;
  // Re-emitting plans only the failed tasks (failed trials retry while under --max-retries).
  Result re = xrec_cmd("sweep " + spec + " --emit slurm " + dir.file("arr") + common);
  ASSERT_EQ(re.code, 0) << re.output;
  EXPECT_NE(re.output.find("4 trial(s), 2 in the array (2-3)"), std::string::npos) << re.output;
  Result missing = xrec_cmd("sweep " + spec + " --emit slurm " + dir.file("arr") + " --only-missing" + common);
  EXPECT_NE(missing.output.find("4 trial(s), 0 in the array"), std::string::npos) << missing.output;
  // A bad shard: nothing merged.
  dir.write("arr/shards/zz-bad.db", "not a store at all, just some text padding it out to a header........");
  Result bad = xrec_cmd("merge " + dir.file("arr/shards") + " --db " + dir.file("other.db"));
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_FALSE(fs::exists(dir.file("other.db")));
}

// A strategy's declaration (Transfer::data_parallel): `none` is refused before it runs, naming it; a baseline
// too; `own` may draw its own batches and all-reduce its gradients through the context.
TEST(DataParallelE2E, StrategiesDeclareWhetherTheyRunDataParallel) {
  TempDir dir("dp-declare");
  const std::string config = write_config(dir);
  const std::string fault = " --plugin-path " + std::string(XREC_TEST_FIXTURE_PLUGINS) + "/fault";
  const std::string env = "XREC_MASTER_PORT=" + std::to_string(port());
  Result refused = xrec_cmd("run " + config + " transfer.type=fault transfer.mode=refuse --nproc 2 --db " +
                                dir.file("r.db") + fault, env);
  EXPECT_EQ(refused.code, 2) << refused.output;
  EXPECT_NE(refused.output.find("the transfer strategy 'fault' cannot run over several processes (it declares "
                                "DataParallel::none)"),
            std::string::npos)
      << refused.output;
  EXPECT_EQ(one_value(dir.file("r.db"), "SELECT status FROM runs"), "failed");
  EXPECT_EQ(one_value(dir.file("r.db"), "SELECT count(*) FROM metrics WHERE split IN ('train', 'valid', 'test')"), "0");
  Result baseline = xrec_cmd("run " + config + " transfer=null backbone=null baseline.type=pop --nproc 2 --db " +
                                 dir.file("b.db"),
                             "XREC_MASTER_PORT=" + std::to_string(port()));
  EXPECT_EQ(baseline.code, 2) << baseline.output;
  EXPECT_NE(baseline.output.find("the baseline 'pop' cannot run over several processes"), std::string::npos)
      << baseline.output;

  const std::string db = dir.file("own.db");
  Result own = xrec_cmd("run " + config + " transfer.type=fault transfer.mode=own --nproc 2 --db " + db + fault,
                        "XREC_MASTER_PORT=" + std::to_string(port()));
  ASSERT_EQ(own.code, 0) << own.output;
  auto metric = [&](const std::string& key) {
    return number(db, "SELECT value FROM metrics WHERE stage = 'own' AND key = '" + key + "'");
  };
  EXPECT_EQ(metric("rank"), 0);
  EXPECT_EQ(metric("world_size"), 2);
  EXPECT_GT(metric("shard_sum"), 0);
  EXPECT_LT(metric("shard_sum"), metric("batch_sum"));  // rank 0 took its half
  EXPECT_EQ(metric("allreduced_sum"), metric("batch_sum"));  // the halves' gradients summed over the ranks
  EXPECT_EQ(one_value(db, "SELECT value FROM params WHERE key = 'distributed.world_size'"), "2");
}

// Processes started by hand with `distributed:` keys (no --nproc, no srun) form the group; the keys are
// not part of the stored config or its hash, so a 2-process run has the config hash of a 1-process one.
TEST(DataParallelE2E, DistributedKeysStartRanksByHandAndStayOutOfTheConfigHash) {
  TempDir dir("dp-keys");
  const std::string config = write_config(dir);
  const std::string fault = std::string(XREC_TEST_FIXTURE_PLUGINS) + "/fault";
  const std::string db = dir.file("keys.db");
  const std::string p = std::to_string(port());
  auto start_rank = [&](int rank) {
    const pid_t pid = fork();
    if (pid == 0) {
      for (const char* v : {"XREC_WORLD_SIZE", "XREC_RANK", "XREC_MASTER_PORT", "MASTER_PORT", "SLURM_PROCID"})
        unsetenv(v);
      const std::string log = dir.file("rank" + std::to_string(rank) + ".log");
      if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(126);
      const std::string r = "distributed.rank=" + std::to_string(rank), port_key = "distributed.port=" + p;
      execl(XREC_TEST_XREC_BIN, XREC_TEST_XREC_BIN, "run", config.c_str(), "transfer.type=fault",
            "transfer.mode=own", "distributed.world_size=2", r.c_str(), port_key.c_str(), "distributed.timeout=30",
            "--db", db.c_str(), "--plugin-path", XREC_TEST_PLUGIN_DIR, "--plugin-path", fault.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  };
  const pid_t r0 = start_rank(0), r1 = start_rank(1);
  int s0 = 0, s1 = 0;
  waitpid(r0, &s0, 0);
  waitpid(r1, &s1, 0);
  ASSERT_TRUE(WIFEXITED(s0) && WEXITSTATUS(s0) == 0) << file_text(dir.file("rank0.log"));
  ASSERT_TRUE(WIFEXITED(s1) && WEXITSTATUS(s1) == 0) << file_text(dir.file("rank1.log"));
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM runs"), "1");
  EXPECT_EQ(number(db, "SELECT value FROM metrics WHERE key = 'allreduced_sum'"),
            number(db, "SELECT value FROM metrics WHERE key = 'batch_sum'"));
  const std::string yaml = one_value(db, "SELECT config_yaml FROM runs");
  EXPECT_EQ(yaml.find("distributed"), std::string::npos) << yaml;
  Result single = xrec_cmd("run " + config + " transfer.type=fault transfer.mode=own --db " + db +
                           " --plugin-path " + fault);
  ASSERT_EQ(single.code, 0) << single.output;
  EXPECT_EQ(one_value(db, "SELECT count(DISTINCT config_hash) FROM runs"), "1");
  EXPECT_EQ(number(db, "SELECT value FROM metrics WHERE key = 'world_size' AND run_id = 2"), 1);
  // A rank outside the world is an input error naming the key, before anything is recorded.
  Result bad = xrec_cmd("run " + config + " distributed.world_size=2 distributed.rank=2 --db " + dir.file("bad.db"));
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("rank 2 (distributed.rank) is not below the world size 2 (distributed.world_size)"),
            std::string::npos)
      << bad.output;
  EXPECT_FALSE(fs::exists(dir.file("bad.db")));
}
