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

// Transfer runs build their model over several domains, in the strategy's own order: maml and metarec put the
// target first, finetune and joint last. `xrec eval` finds the layout the checkpoint fits (the domains' item
// counts differ: 60, 70, 50) and evaluates the target's table; before, it rebuilt a model over the target
// alone and refused these checkpoints ("items_1: in the checkpoint, not in the model").
TEST(EvalE2E, ReevaluatesTransferRunsWhoseModelHoldsTheSources) {
  TempDir dir("eval-transfer");
  const std::string db = dir.file("xrec.db");
  auto family = [&](const std::string& name, const std::string& transfer) {
    return dir.write(name + ".yaml", "name: " + name + R"(
seed: 3
threads: 1
device: cpu
data:
  target: {type: synthetic, domain: 0, users: 80, items: 60, length: 8, seed: 1}
  sources:
    - {type: synthetic, domain: 1, users: 80, items: 70, length: 8, seed: 1, similarity: 0.9, name: s1}
    - {type: synthetic, domain: 2, users: 80, items: 50, length: 8, seed: 1, similarity: 0.9, name: s2}
backbone: {type: sasrec, hidden: 16, layers: 1, heads: 1, max_len: 8}
transfer: {)" + transfer + R"(}
train: {epochs: 2, batch_size: 32, lr: 0.01}
eval: {protocol: full, ks: [5, 10]}
)");
  };
  struct Case {
    std::string name, transfer, stage;
  };
  const std::vector<Case> cases = {
      {"joint", "type: joint", ""},                                                      // sources, then target
      {"finetune", "type: finetune, policy: full", " --stage finetune"},                 // sources, then target
      {"maml", "type: maml, iterations: 4, eval_every: 2, batch_size: 16, finetune: false", ""},  // target first
  };
  int run = 0;
  for (const Case& c : cases) {
    auto trained = xrec_cmd("run " + family(c.name, c.transfer) + " --db " + db);
    ASSERT_EQ(trained.code, 0) << c.name << "\n" << trained.output;
    const int source = ++run;
    auto again = xrec_cmd("eval " + std::to_string(source) + c.stage + " --db " + db);
    ASSERT_EQ(again.code, 0) << c.name << "\n" << again.output;
    const int eval = ++run;
    for (const char* key : {"hr@5", "ndcg@10", "mrr"}) {
      EXPECT_EQ(final_metric(db, eval, "test", key), final_metric(db, source, "test", key)) << c.name << " " << key;
      EXPECT_EQ(final_metric(db, eval, "valid", key), final_metric(db, source, "valid", key)) << c.name << " " << key;
    }
  }
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), "6");
}

// With a source of the target's shape, target-first and target-last both fit the checkpoint: which table is
// the target's cannot be told from names and shapes, so the request is refused rather than guessed.
TEST(EvalE2E, ATransferCheckpointThatFitsTwoLayoutsIsRefused) {
  TempDir dir("eval-ambiguous");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = dir.write("same.yaml", R"(name: same-shapes
seed: 3
threads: 1
device: cpu
data:
  target: {type: synthetic, domain: 0, users: 60, items: 40, length: 8, seed: 1}
  sources: [{type: synthetic, domain: 1, users: 60, items: 40, length: 8, seed: 1, name: twin}]
backbone: {type: sasrec, hidden: 8, layers: 1, heads: 1, max_len: 8}
transfer: {type: joint}
train: {epochs: 1, batch_size: 32}
eval: {protocol: full, ks: [10]}
)");
  ASSERT_EQ(xrec_cmd("run " + cfg + " --db " + db).code, 0);
  auto r = xrec_cmd("eval 1 --db " + db);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("which item table is the target's is ambiguous"), std::string::npos) << r.output;
  EXPECT_EQ(one_value(db, "SELECT status FROM runs WHERE id = 2"), "failed");
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM final_metrics WHERE run_id = 2"), "0");
}
