// Sweeps on Slurm (core/src/sweep/slurm.cpp): the array's task list, the emitted plan and job script.
#include "xrec/sweep/slurm.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/temp_dir.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/sha256.hpp"

using namespace xrec;
using namespace xrec::sweep;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Plan three_trials() {
  Plan plan;
  plan.spec.name = "demo";
  plan.spec.base_path = "base.yaml";
  plan.spec.text = "grid: {train.lr: [0.1, 0.01, 0.001]}\n";
  plan.select_metric = "ndcg@10";
  for (int i = 0; i < 3; ++i) {
    TrialPlan t;
    t.record.key = sha256_hex(std::to_string(i));
    t.record.point = i;
    t.record.point_label = "train.lr=" + std::to_string(i);
    t.record.seed = 7;
    t.record.config_hash = "c" + std::to_string(i);
    t.record.plugins_sha = "p";
    t.record.plugins = "sasrec:abc\n";
    t.overrides = {"train.lr=0." + std::to_string(i + 1), "seed=7"};
    t.run = i != 1;  // trial 1 finished before
    plan.trials.push_back(t);
  }
  return plan;
}

}  // namespace

TEST(SlurmArray, RangesCompressConsecutiveTasks) {
  EXPECT_EQ(array_ranges({}), "");
  EXPECT_EQ(array_ranges({4}), "4");
  EXPECT_EQ(array_ranges({3, 0, 1, 2, 5, 7, 8, 9, 9}), "0-3,5,7-9");
}

TEST(SlurmArray, EmitWritesTheFrozenPlanAndAJobArrayOverTheTrialsToRun) {
  xrec::test::TempDir dir("slurm-emit");
  Options opt;
  opt.name = "demo";
  opt.threads = 2;
  opt.xrec_binary = "/opt/xrec's/bin/xrec";
  SlurmOptions slurm;
  slurm.partition = "cpu";
  slurm.time = "00:10:00";
  slurm.mem = "2G";
  slurm.array_parallelism = 2;
  auto ids = emit_slurm(three_trials(), opt, slurm, dir.path("out"));
  EXPECT_EQ(ids, (std::vector<size_t>{0, 2}));
  const std::string job = read(dir.path("out/job.sh"));
  EXPECT_NE(job.find("#SBATCH --array=0,2%2\n"), std::string::npos) << job;
  EXPECT_NE(job.find("#SBATCH --partition=cpu\n"), std::string::npos);
  EXPECT_NE(job.find("#SBATCH --time=00:10:00\n"), std::string::npos);
  EXPECT_NE(job.find("#SBATCH --mem=2G\n"), std::string::npos);
  EXPECT_NE(job.find("#SBATCH --cpus-per-task=2\n"), std::string::npos);
  EXPECT_NE(job.find("#SBATCH --job-name=xrec-demo\n"), std::string::npos);
  // The binary path is shell-quoted (it holds a quote); the task id comes from Slurm.
  EXPECT_NE(job.find("exec '/opt/xrec'\\''s/bin/xrec' sweep --task '"), std::string::npos) << job;
  EXPECT_NE(job.find("\"$SLURM_ARRAY_TASK_ID\""), std::string::npos);
  const std::string plan = read(dir.path("out/plan.yaml"));
  EXPECT_NE(plan.find("name: demo"), std::string::npos) << plan;
  EXPECT_NE(plan.find("- train.lr=0.3"), std::string::npos) << plan;
  EXPECT_NE(plan.find("threads: 2"), std::string::npos) << plan;
  EXPECT_TRUE(std::filesystem::is_directory(dir.path("out/shards")));
  EXPECT_TRUE(std::filesystem::is_directory(dir.path("out/logs")));
  // Each trial's shard is named by its key, so a re-emitted plan keeps them.
  EXPECT_EQ(shard_path("d", sha256_hex("0")), "d/shards/trial-" + sha256_hex("0").substr(0, 16) + ".db");
}

TEST(SlurmArray, NothingToRunWritesNoArrayLine) {
  xrec::test::TempDir dir("slurm-none");
  Plan plan = three_trials();
  for (auto& t : plan.trials) t.run = false;
  Options opt;
  opt.xrec_binary = "xrec";
  EXPECT_TRUE(emit_slurm(plan, opt, {}, dir.path("out")).empty());
  EXPECT_EQ(read(dir.path("out/job.sh")).find("--array"), std::string::npos);
}

TEST(SlurmArray, ATaskIndexOutsideThePlanIsAnInputError) {
  xrec::test::TempDir dir("slurm-task");
  Options opt;
  opt.xrec_binary = "xrec";
  emit_slurm(three_trials(), opt, {}, dir.path("out"));
  EXPECT_THROW(run_slurm_task(dir.path("out"), 3, "xrec"), InputError);
  EXPECT_THROW(run_slurm_task(dir.path("nowhere"), 0, "xrec"), InputError);
}
