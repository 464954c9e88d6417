// The ant item encoder and the host options ANT uses (inbatch loss, cosine scores, with_ids, per-stage loss)
// through the real `xrec` binary: a run on real data when it is there, and bad input stopped before training.
#include <gtest/gtest.h>

#include "harness.hpp"

using namespace xrec::test;

namespace {
std::string successor_config(const TempDir& dir, const std::string& extra) {
  const std::string data = dir.write("successor.txt", successor_dataset(60, 25, 10));
  return dir.write("ant.yaml", R"(name: ant-e2e
seed: 3
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
transfer:
  type: scratch
train:
  epochs: 2
  batch_size: 16
  patience: 100
eval:
  ks: [5, 10]
)" + extra);
}

std::string train_metric_count(const std::string& db) {
  return one_value(db, "SELECT count(*) FROM metrics WHERE stage = 'train' AND split = 'train'");
}
}  // namespace

TEST(AntE2E, AModalityTheDatasetLacksStopsTheRunBeforeTraining) {
  TempDir dir("ant-missing");
  const std::string db = dir.file("xrec.db");
  auto r = xrec_cmd("run " + successor_config(dir, "item_encoder: {type: ant, modalities: [text]}\n") + " --db " + db);
  EXPECT_EQ(r.code, 2) << r.output;
  for (const char* part : {"modality 'text'", "text_features", "item_encoder.modalities"})
    EXPECT_NE(r.output.find(part), std::string::npos) << part << "\n" << r.output;
  EXPECT_EQ(train_metric_count(db), "0");
}

TEST(AntE2E, StageLossesSwitchPerStageAndScoringIsFixed) {
  TempDir dir("ant-loss");
  const std::string db = dir.file("xrec.db");
  // The model is made with ce; the stage trains with inbatch: another loss than a plain ce run of the same seed.
  auto ce = xrec_cmd("run " + successor_config(dir, "") + " --db " + db);
  auto inbatch = xrec_cmd("run " + successor_config(dir, "") + " stages.train.loss=inbatch --db " + db);
  ASSERT_EQ(ce.code, 0) << ce.output;
  ASSERT_EQ(inbatch.code, 0) << inbatch.output;
  const std::string loss_sql = "SELECT value FROM metrics WHERE stage = 'train' AND split = 'train' AND key = 'loss' "
                               "AND step = 0 AND run_id = ";
  EXPECT_NE(one_value(db, loss_sql + "1"), one_value(db, loss_sql + "2"));
  // Since per-stage batch options (ADR 0009) a stage's batches follow its own loss, so a model made with bce
  // trains a stage with inbatch (no negatives drawn) and the loss differs from the bce run's.
  auto bce = xrec_cmd("run " + successor_config(dir, "") + " train.loss=bce --db " + db);
  auto bce_inbatch =
      xrec_cmd("run " + successor_config(dir, "") + " train.loss=bce stages.train.loss=inbatch --db " + db);
  ASSERT_EQ(bce.code, 0) << bce.output;
  ASSERT_EQ(bce_inbatch.code, 0) << bce_inbatch.output;
  EXPECT_NE(one_value(db, loss_sql + "3"), one_value(db, loss_sql + "4"));
  auto score = xrec_cmd("run " + successor_config(dir, "") + " stages.train.score=cosine --db " + db);
  EXPECT_EQ(score.code, 2) << score.output;
  EXPECT_NE(score.output.find("stages.train.score differs from train.score"), std::string::npos) << score.output;
  auto ids = xrec_cmd("run " + successor_config(dir, "item_encoder: {type: id, with_ids: true}\n") + " --db " + db);
  EXPECT_EQ(ids.code, 2) << ids.output;
  EXPECT_NE(ids.output.find("with_ids"), std::string::npos) << ids.output;
}

TEST(AntE2E, SasrecWithTheAntEncoderTrainsOnScientificMini) {
  const fs::path data = fs::path(XREC_TEST_SHARED_DATA) / "scientific-mini" / "Scientific.text";
  if (!fs::exists(data)) GTEST_SKIP() << "real data not found at " << data << " (see ../shared/data/README.md)";
  TempDir dir("ant-sci");
  const std::string db = dir.file("xrec.db");
  auto r = xrec_cmd("run " + std::string(XREC_TEST_SOURCE_DIR) +
                        "/plugins/item_encoders/ant/smoke.yaml train.epochs=2 item_encoder.with_ids=true --db " + db,
                    "XREC_DATA='" + std::string(XREC_TEST_SHARED_DATA) + "'");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(std::stod(one_value(db, "SELECT value FROM metrics WHERE stage = 'data' AND key = 'items'")), 1585);
  EXPECT_EQ(one_value(db, "SELECT value FROM params WHERE key = 'item_encoder.type'"), "ant");
  EXPECT_EQ(one_value(db, "SELECT value FROM params WHERE key = 'train.loss'"), "inbatch");
  // Far above chance: a random ranking of 1,585 items puts the target in the top 50 about 3% of the time.
  const double r50 = std::stod(one_value(db, "SELECT value FROM final_metrics WHERE split = 'test' AND key = 'recall@50'"));
  EXPECT_GT(r50, 0.06);
}
