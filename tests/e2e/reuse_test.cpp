// Stage reuse and resume end to end (docs/adr/0009-stage-reuse-and-resume.md): `stages.<name>.init_from`,
// the stage cache, `xrec run --resume`, per-stage batch size and loss; values compared between runs.
#include <gtest/gtest.h>

#include <fstream>

#include "harness.hpp"

using namespace xrec::test;

namespace {
std::string config(const TempDir& dir, int epochs) {
  const std::string data = dir.write("successor.txt", successor_dataset(60, 25, 10));
  return dir.write("reuse.yaml", R"(name: reuse
seed: 11
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
  dropout: 0.2
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
)");
}

// Every final metric of a run, as stored (full precision text), in key order.
std::string finals(const std::string& db, int run) {
  return one_value(db, "SELECT group_concat(split || ' ' || key || '=' || value, '; ') FROM (SELECT * FROM "
                       "final_metrics WHERE run_id = " + std::to_string(run) + " AND split <> 'run' ORDER BY split, key)");
}

std::string valid_curve(const std::string& db, int run) {
  return one_value(db, "SELECT group_concat(step || ':' || value, ' ') FROM (SELECT * FROM metrics WHERE run_id = " +
                           std::to_string(run) + " AND stage = 'train' AND split = 'valid' AND key = 'ndcg@10' ORDER BY step)");
}

std::string runs_count(const std::string& db) { return one_value(db, "SELECT count(*) FROM runs"); }
}  // namespace

TEST(ReuseE2E, InitFromLoadsAnotherRunsStageAndRecordsIt) {
  TempDir dir("initfrom");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = config(dir, 4);
  auto a = xrec_cmd("run " + cfg + " --db " + db);
  ASSERT_EQ(a.code, 0) << a.output;
  auto b = xrec_cmd("run " + cfg + " stages.train.init_from=run:1/train --db " + db);
  ASSERT_EQ(b.code, 0) << b.output;
  EXPECT_NE(b.output.find("not trained: starts from run:1/train"), std::string::npos) << b.output;
  ASSERT_NE(finals(db, 1), "");
  EXPECT_EQ(finals(db, 2), finals(db, 1));  // the same weights evaluated the same way
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM metrics WHERE run_id = 2 AND stage = 'train' AND split = 'train'"), "0");
  EXPECT_EQ(one_value(db, "SELECT source || ' ' || source_run || ' ' || source_stage FROM stage_inputs WHERE run_id = 2"),
            "init_from 1 train");
  EXPECT_EQ(one_value(db, "SELECT i.sha256 = a.sha256 FROM stage_inputs i JOIN artifacts a ON a.path = i.path "
                          "AND a.run_id = 1 WHERE i.run_id = 2"),
            "1");
}

TEST(ReuseE2E, ABadInitFromIsAnErrorNamingTheKey) {
  TempDir dir("initfrom-bad");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = config(dir, 2);
  // No store yet.
  auto none = xrec_cmd("run " + cfg + " stages.train.init_from=run:1/train --db " + db);
  EXPECT_EQ(none.code, 2) << none.output;
  EXPECT_NE(none.output.find("stages.train.init_from"), std::string::npos) << none.output;
  ASSERT_EQ(xrec_cmd("run " + cfg + " --db " + db).code, 0);

  struct Case {
    std::string value, says;
  };
  for (const Case& c : {Case{"run:7/train", "has no run 7"}, Case{"run:1/pretrain", "no checkpoint of stage 'pretrain'"},
                        Case{"1/train", "expected run:<id>/<stage>"}}) {
    auto r = xrec_cmd("run " + cfg + " stages.train.init_from=" + c.value + " --db " + db);
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("stages.train.init_from"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
    EXPECT_EQ(runs_count(db), "1");  // nothing written
  }
  // train.init_from (the default of every stage) is named as such.
  auto t = xrec_cmd("run " + cfg + " train.init_from=run:7/train --db " + db);
  EXPECT_EQ(t.code, 2);
  EXPECT_NE(t.output.find("train.init_from: run:7/train"), std::string::npos) << t.output;

  // Another model shape: found once the model exists; the parameter is named, the run recorded as failed.
  auto shape = xrec_cmd("run " + cfg + " backbone.hidden=8 stages.train.init_from=run:1/train --db " + db);
  EXPECT_EQ(shape.code, 2) << shape.output;
  EXPECT_NE(shape.output.find("has shape"), std::string::npos) << shape.output;
  EXPECT_NE(shape.output.find("the model expects"), std::string::npos) << shape.output;
  EXPECT_EQ(one_value(db, "SELECT status FROM runs WHERE id = 2"), "failed");

  // A checkpoint changed after it was written.
  const std::string ckpt = one_value(db, "SELECT path FROM artifacts WHERE run_id = 1 AND kind = 'checkpoint'");
  std::ofstream(ckpt, std::ios::app) << "x";
  auto mod = xrec_cmd("run " + cfg + " stages.train.init_from=run:1/train --db " + db);
  EXPECT_EQ(mod.code, 2);
  EXPECT_NE(mod.output.find("was modified"), std::string::npos) << mod.output;
  EXPECT_EQ(runs_count(db), "2");
}

TEST(ReuseE2E, TheStageCacheTrainsOnceAndServesTheSameStage) {
  TempDir dir("cache");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = config(dir, 3);
  auto miss = xrec_cmd("run " + cfg + " train.cache=true --db " + db);
  ASSERT_EQ(miss.code, 0) << miss.output;
  EXPECT_NE(miss.output.find("stage cache miss"), std::string::npos) << miss.output;
  // Another run name (not part of what the stage computes) hits the entry.
  auto hit = xrec_cmd("run " + cfg + " train.cache=true name=other --db " + db);
  ASSERT_EQ(hit.code, 0) << hit.output;
  EXPECT_NE(hit.output.find("stage cache hit"), std::string::npos) << hit.output;
  EXPECT_EQ(finals(db, 2), finals(db, 1));
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM metrics WHERE run_id = 2 AND stage = 'train' AND split = 'train'"), "0");
  const std::string key = one_value(db, "SELECT cache_key FROM stage_inputs WHERE run_id = 1 AND source = 'cache_store'");
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(one_value(db, "SELECT cache_key FROM stage_inputs WHERE run_id = 2 AND source = 'cache'"), key);
  EXPECT_TRUE(fs::exists(dir.file("xrec/cache/" + key + ".pt")));
  // Another learning rate is another stage.
  auto other = xrec_cmd("run " + cfg + " train.cache=true train.lr=0.02 --db " + db);
  ASSERT_EQ(other.code, 0) << other.output;
  EXPECT_NE(one_value(db, "SELECT cache_key FROM stage_inputs WHERE run_id = 3"), key);
  EXPECT_EQ(one_value(db, "SELECT source FROM stage_inputs WHERE run_id = 3"), "cache_store");
}

// Settings that draw no parameter leave the initial weights and random state as they were, so the key must
// name them itself. Before the fix each of these hit the first run's entry (a dropout-0.2 pre-training served
// to a dropout-0.5 model; ANT's relearn-no-noise and relearn-dot ablations reused relearn's pre-training).
TEST(ReuseE2E, TheStageCacheKeyHoldsTheModelsConfigAndPlugins) {
  TempDir dir("cache-config");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = config(dir, 1);
  ASSERT_EQ(xrec_cmd("run " + cfg + " train.cache=true --db " + db).code, 0);  // run 1 stores the entry
  const std::vector<std::string> others = {"backbone.dropout=0.5", "backbone.attn_dropout=0.3",
                                           "train.score=cosine", "train.temperature=0.5"};
  int run = 1;
  for (const std::string& o : others) {
    auto r = xrec_cmd("run " + cfg + " train.cache=true " + o + " --db " + db);
    ASSERT_EQ(r.code, 0) << o << "\n" << r.output;
    ++run;
    EXPECT_EQ(one_value(db, "SELECT source FROM stage_inputs WHERE run_id = " + std::to_string(run)), "cache_store")
        << o << ": served the entry of another model";
  }
  // The data section's `cache` flag and the run's name are not what the stage computes: still a hit.
  auto same = xrec_cmd("run " + cfg + " train.cache=true data.target.cache=false name=again --db " + db);
  ASSERT_EQ(same.code, 0) << same.output;
  EXPECT_EQ(one_value(db, "SELECT source FROM stage_inputs WHERE run_id = " + std::to_string(++run)), "cache");
  // A plugin rebuilt with other code is another stage: the same plugins from a copied folder, sasrec.so with
  // one byte appended (the loader ignores it; its sha256 changes), run by a copy of the binary so that the
  // build's own plugin folder is not searched.
  const fs::path copy = dir.path("copy");
  fs::create_directories(copy / "bin");
  fs::create_directories(copy / "plugins");
  fs::copy_file(XREC_TEST_XREC_BIN, copy / "bin/xrec");
  fs::permissions(copy / "bin/xrec", fs::perms::owner_all, fs::perm_options::add);
  for (auto& e : fs::directory_iterator(XREC_TEST_PLUGIN_DIR))
    if (e.path().extension() == ".so") fs::copy_file(e.path(), copy / "plugins" / e.path().filename());
  std::ofstream(copy / "plugins/sasrec.so", std::ios::app | std::ios::binary) << '\n';
  auto rebuilt = xrec_cmd_with((copy / "bin/xrec").string(), (copy / "plugins").string(),
                               "run " + cfg + " train.cache=true --db " + db);
  ASSERT_EQ(rebuilt.code, 0) << rebuilt.output;
  EXPECT_NE(rebuilt.output.find("stage cache miss"), std::string::npos) << rebuilt.output;
}

TEST(ReuseE2E, AnInterruptedRunResumesToTheUninterruptedResult) {
  TempDir dir("resume");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = config(dir, 7);
  auto cut = xrec_cmd("run " + cfg + " --db " + db, "XREC_INTERRUPT_AFTER_EPOCHS=3");
  EXPECT_EQ(cut.code, 130) << cut.output;
  EXPECT_EQ(one_value(db, "SELECT status FROM runs WHERE id = 1"), "interrupted");
  EXPECT_TRUE(fs::exists(dir.file("xrec/1/train-last.pt")));
  EXPECT_EQ(one_value(db, "SELECT max(step) FROM metrics WHERE run_id = 1 AND split = 'valid'"), "2");

  auto resumed = xrec_cmd("run --resume 1 --db " + db);
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed after epoch 3"), std::string::npos) << resumed.output;
  EXPECT_EQ(one_value(db, "SELECT status || ' ' || resumes FROM runs WHERE id = 1"), "finished 1");
  EXPECT_EQ(one_value(db, "SELECT source FROM stage_inputs WHERE run_id = 1"), "resume");
  EXPECT_FALSE(fs::exists(dir.file("xrec/1/train-last.pt")));  // one per stage, gone when the stage ends

  auto whole = xrec_cmd("run " + cfg + " --db " + db);
  ASSERT_EQ(whole.code, 0) << whole.output;
  ASSERT_NE(finals(db, 2), "");
  EXPECT_EQ(finals(db, 1), finals(db, 2));           // the same numbers, to the last digit
  EXPECT_EQ(valid_curve(db, 1), valid_curve(db, 2));  // and the same validation at every epoch

  auto again = xrec_cmd("run --resume 1 --db " + db);
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.output.find("finished; there is nothing to resume"), std::string::npos) << again.output;
  auto unknown = xrec_cmd("run --resume 9 --db " + db);
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.output.find("has no run 9"), std::string::npos) << unknown.output;
  auto with_config = xrec_cmd("run " + cfg + " --resume 1 --db " + db);
  EXPECT_EQ(with_config.code, 2);
  EXPECT_EQ(runs_count(db), "2");
}

TEST(ReuseE2E, ResumeRefusesARunWithoutCheckpoints) {
  TempDir dir("resume-nockpt");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = config(dir, 5);
  auto cut = xrec_cmd("run " + cfg + " save_checkpoint=false --db " + db, "XREC_INTERRUPT_AFTER_EPOCHS=1");
  // Without checkpoints no epoch is saved, so the testing aid never fires: the run finishes.
  ASSERT_EQ(cut.code, 0) << cut.output;
  ASSERT_EQ(xrec_cmd("query --db " + db + " --write \"UPDATE runs SET status = 'interrupted', ended_at = "
                                           "started_at WHERE id = 1\"").code,
            0);
  auto r = xrec_cmd("run --resume 1 --db " + db);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("save_checkpoint: false"), std::string::npos) << r.output;
  EXPECT_EQ(one_value(db, "SELECT status FROM runs WHERE id = 1"), "interrupted");
}

TEST(ReuseE2E, BatchSizeAndLossPerStageTrainLikeTheRunWideKeys) {
  TempDir dir("perstage");
  const std::string db = dir.file("xrec.db");
  const std::string cfg = config(dir, 2);
  ASSERT_EQ(xrec_cmd("run " + cfg + " train.batch_size=8 --db " + db).code, 0);
  ASSERT_EQ(xrec_cmd("run " + cfg + " stages.train.batch_size=8 --db " + db).code, 0);
  ASSERT_EQ(xrec_cmd("run " + cfg + " --db " + db).code, 0);
  EXPECT_EQ(finals(db, 1), finals(db, 2));
  EXPECT_NE(finals(db, 1), finals(db, 3));  // batch size 16: another result
  ASSERT_EQ(xrec_cmd("run " + cfg + " train.loss=bce --db " + db).code, 0);
  auto bce = xrec_cmd("run " + cfg + " stages.train.loss=bce --db " + db);
  ASSERT_EQ(bce.code, 0) << bce.output;
  EXPECT_EQ(finals(db, 4), finals(db, 5));
  EXPECT_NE(finals(db, 4), finals(db, 3));
}
