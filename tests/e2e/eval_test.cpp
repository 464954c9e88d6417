// `xrec eval` end to end: a stored checkpoint re-evaluated under another protocol, recorded as a new run.
#include <gtest/gtest.h>

#include "harness.hpp"

using namespace xrec::test;

namespace {
std::string eval_config(const TempDir& dir, const std::string& extra = "") {
  const std::string data = dir.write("successor.txt", successor_dataset(60, 30, 10));
  return dir.write("eval.yaml", R"(name: source
seed: 3
threads: 1
device: cpu
data: {target: {type: user_sequences, path: )" +
                                    data + R"(}}
backbone: {type: sasrec, hidden: 16, layers: 1, heads: 1, max_len: 8}
transfer: {type: scratch}
train: {epochs: 3, batch_size: 16, lr: 0.01}
eval: {protocol: full, ks: [1, 5, 10]}
)" + extra);
}

std::string final_metric(const std::string& db, int run, const std::string& split, const std::string& key) {
  return one_value(db, "SELECT printf('%.12f', value) FROM final_metrics WHERE run_id = " + std::to_string(run) +
                           " AND split = '" + split + "' AND key = '" + key + "'");
}
}  // namespace

TEST(EvalE2E, ReevaluatesACheckpointWithoutTrainingAndRecordsANewRun) {
  TempDir dir("eval");
  const std::string db = dir.file("xrec.db");
  ASSERT_EQ(xrec_cmd("run " + eval_config(dir) + " --db " + db).code, 0);
  const std::string checkpoint = one_value(db, "SELECT path FROM artifacts WHERE run_id = 1 AND kind = 'checkpoint'");
  ASSERT_TRUE(fs::exists(checkpoint));

  // Same protocol: the stored checkpoint gives exactly the source run's final metrics.
  auto same = xrec_cmd("eval 1 --db " + db);
  ASSERT_EQ(same.code, 0) << same.output;
  for (const char* key : {"hr@1", "hr@10", "ndcg@5", "mrr"}) {
    EXPECT_EQ(final_metric(db, 2, "test", key), final_metric(db, 1, "test", key)) << key;
    EXPECT_EQ(final_metric(db, 2, "valid", key), final_metric(db, 1, "valid", key)) << key;
  }
  EXPECT_EQ(one_value(db, "SELECT status FROM runs WHERE id = 2"), "finished");
  EXPECT_EQ(one_value(db, "SELECT path FROM artifacts WHERE run_id = 2 AND kind = 'input'"), checkpoint);
  // No training: no epoch metrics and no checkpoint of its own.
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM metrics WHERE run_id = 2 AND key = 'loss'"), "0");
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM artifacts WHERE run_id = 2 AND kind = 'checkpoint'"), "0");
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM case_ranks WHERE run_id = 2 AND stage = 'eval' AND split = 'test'"),
            one_value(db, "SELECT count(*) FROM case_ranks WHERE run_id = 1 AND stage = 'final' AND split = 'test'"));

  // Another protocol: 5 sampled negatives, so every case has 6 candidates and hr@10 is 1.
  auto sampled = xrec_cmd("eval 1 eval.protocol=sampled eval.negatives=5 --db " + db);
  ASSERT_EQ(sampled.code, 0) << sampled.output;
  EXPECT_EQ(one_value(db, "SELECT DISTINCT candidates FROM case_ranks WHERE run_id = 3 AND split = 'test'"), "6");
  EXPECT_EQ(final_metric(db, 3, "test", "hr@10"), "1.000000000000");
  EXPECT_NE(one_value(db, "SELECT config_yaml FROM runs WHERE id = 3").find("protocol: sampled"), std::string::npos);
  EXPECT_NE(one_value(db, "SELECT command FROM runs WHERE id = 3").find("xrec eval 1"), std::string::npos);

  // A plugin whose library changed since the source run is named (a warning: the checkpoint still fits).
  xrec::Store(db).query("UPDATE plugins SET sha256 = 'aaaaaaaaaaaaaaaa' WHERE run_id = 1 AND name = 'sasrec'",
                        /*read_only=*/false);
  auto changed = xrec_cmd("eval 1 --db " + db);
  ASSERT_EQ(changed.code, 0) << changed.output;
  EXPECT_NE(changed.output.find("plugin sasrec changed since run 1"), std::string::npos) << changed.output;
  EXPECT_EQ(same.output.find("changed since"), std::string::npos) << same.output;
}

TEST(EvalE2E, BadRequestsAreClearErrorsAndStoreNothing) {
  TempDir dir("evalbad");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = eval_config(dir);
  ASSERT_EQ(xrec_cmd("run " + cfg + " --db " + db).code, 0);                                          // run 1
  ASSERT_EQ(xrec_cmd("run " + cfg + " save_checkpoint=false --db " + db).code, 0);                    // run 2
  ASSERT_EQ(xrec_cmd("run " + cfg + " backbone=~ transfer=~ baseline.type=pop --db " + db).code, 0);  // run 3
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"eval 9", "no run 9 in"},
      {"eval x", "expected a run id"},
      {"eval 1 train.lr=0.1", "'train.lr' cannot change"},
      {"eval 1 backbone.hidden=8", "'backbone.hidden' cannot change"},
      {"eval 1 eval.protocol=exhaustive", "eval.protocol"},
      {"eval 1 --stage nope", "no checkpoint of stage 'nope'"},
      {"eval 2", "run 2 has no checkpoint"},
      {"eval 3", "run 3 is a baseline run"},
  };
  for (auto& c : cases) {
    auto r = xrec_cmd(c.args + " --db " + db);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
  }
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM runs"), "3");
  EXPECT_EQ(xrec_cmd("eval 1 --db " + dir.file("absent.db")).code, 2);
}

// A checkpoint that no longer fits the model its config builds (here: replaced by one of another width)
// is refused with the parameters that differ; the eval run is recorded as failed, not finished.
TEST(EvalE2E, ACheckpointThatDoesNotFitTheModelIsRefused) {
  TempDir dir("evalshape");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = eval_config(dir, "");
  ASSERT_EQ(xrec_cmd("run " + cfg + " train.epochs=1 --db " + db).code, 0);
  ASSERT_EQ(xrec_cmd("run " + cfg + " train.epochs=1 backbone.hidden=8 --db " + db).code, 0);
  const std::string one = one_value(db, "SELECT path FROM artifacts WHERE run_id = 1 AND kind = 'checkpoint'");
  const std::string two = one_value(db, "SELECT path FROM artifacts WHERE run_id = 2 AND kind = 'checkpoint'");
  fs::copy_file(two, one, fs::copy_options::overwrite_existing);
  auto r = xrec_cmd("eval 1 --db " + db);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("does not fit the model rebuilt from run 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(", 8], model ["), std::string::npos) << r.output;  // a width-8 tensor named with both shapes
  EXPECT_EQ(one_value(db, "SELECT status FROM runs WHERE id = 3"), "failed");
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM final_metrics WHERE run_id = 3"), "0");
}

// A run whose config has a non-finite default (the interactions dataset's min_rating: -.inf, "keep all") is
// stored with it filled in; `xrec eval` and `xrec run --resume` read that config back. Before the fix the
// validator refused -.inf there ("expected a finite number"), so no such run could be re-evaluated.
TEST(EvalE2E, AStoredConfigWithANonFiniteDefaultReadsBack) {
  TempDir dir("eval-inf-default");
  const std::string db = dir.file("xrec.db");
  std::string rows;
  for (int u = 0; u < 40; ++u)
    for (int k = 0; k < 6; ++k) rows += std::to_string(u) + " " + std::to_string((u + k) % 12) + "\n";
  const std::string data = dir.write("pairs.txt", rows);
  const std::string config = dir.write("inf.yaml", R"(name: inf-default
seed: 3
threads: 1
device: cpu
data: {target: {type: interactions, path: )" + data + R"(}}
backbone: {type: sasrec, hidden: 8, layers: 1, heads: 1, max_len: 6}
transfer: {type: scratch}
train: {epochs: 1, batch_size: 16}
eval: {protocol: full, ks: [5, 10]}
)");
  auto run = xrec_cmd("run " + config + " --db " + db);
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_EQ(one_value(db, "SELECT value FROM params WHERE run_id = 1 AND key = 'data.target.min_rating'"), "-.inf");
  auto again = xrec_cmd("eval 1 --db " + db);
  EXPECT_EQ(again.code, 0) << again.output;
  // Given explicitly, a non-finite value other than the default is still refused.
  auto bad = xrec_cmd("run " + config + " data.target.min_rating=.inf --check --db " + db);
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("data.target.min_rating: expected a finite number"), std::string::npos) << bad.output;
}
