// rvq and pq end to end through the real binary: SASRec on synthetic data records the quantizers' usage and
// perplexity per epoch in the store (rvq per level); pq's fixed codes read a vector file as the item feature and
// stop with exit code 2, before training, on a dataset without dense item features.
#include <sstream>

#include "e2e/harness.hpp"
#include "model_plugin_harness.hpp"

namespace {

using xrec::test::one_value;

std::string config(const std::string& quantizer, const std::string& data_extra = "") {
  return "name: q-e2e\nseed: 1\nthreads: 1\n"
         "data: {target: {type: synthetic, domain: 0, users: 200, items: 60, length: 10, seed: 1" +
         data_extra +
         "}}\n"
         "backbone: {type: sasrec, hidden: 16, layers: 1, heads: 1, max_len: 12}\n"
         "quantizer: " +
         quantizer + "\ntransfer: {type: scratch}\ntrain: {epochs: 2, batch_size: 64}\neval: {ks: [10]}\n";
}

double train_metric(const std::string& db, const std::string& key, int step) {
  return std::stod(one_value(db, "SELECT value FROM metrics WHERE split = 'train' AND key = 'quantizer/" + key +
                                     "' AND step = " + std::to_string(step)));
}

}  // namespace

TEST(QuantizersE2E, RvqRecordsUsageAndPerplexityPerLevelAndEpoch) {
  xrec::test::TempDir dir("rvq-e2e");
  const std::string cfg = dir.write("rvq.yaml", config("{type: rvq, levels: 2, codebook_size: 8}"));
  const std::string db = dir.path("xrec.db");
  auto r = xrec::test::xrec_cmd("run '" + cfg + "' --db '" + db + "'", "", dir.root());
  ASSERT_EQ(r.code, 0) << r.output;
  for (int step : {0, 1})
    for (const char* level : {"level1/", "level2/", ""}) {
      EXPECT_GT(train_metric(db, std::string(level) + "codebook_usage", step), 0.0);
      EXPECT_LE(train_metric(db, std::string(level) + "codebook_usage", step), 1.0);
      EXPECT_GE(train_metric(db, std::string(level) + "perplexity", step), 1.0);
      EXPECT_LE(train_metric(db, std::string(level) + "perplexity", step), 8.0);
    }
}

TEST(QuantizersE2E, PqFixedCodesFromAVectorFile) {
  xrec::test::TempDir dir("pq-e2e");
  // 60 items in four groups (item % 4), 8 dimensions: the codes follow the groups.
  std::ostringstream rows;
  for (int i = 1; i <= 60; ++i) {
    for (int d = 0; d < 8; ++d) rows << (d % 4 == i % 4 ? 1.0 : 0.0) + 0.01 * ((i * 7 + d) % 5) << (d < 7 ? " " : "\n");
  }
  const std::string vectors = dir.write("vectors.txt", rows.str());
  const std::string db = dir.path("xrec.db");
  const std::string cfg = dir.write(
      "pq.yaml", config("{type: pq, codes: fixed, subspaces: 2, codebook_size: 4}", ", vector_file: '" + vectors + "'"));
  auto r = xrec::test::xrec_cmd("run '" + cfg + "' --db '" + db + "'", "", dir.root());
  ASSERT_EQ(r.code, 0) << r.output;
  for (int step : {0, 1}) {
    // Four groups, four codes per sub-space, every code used and equally often (15 items each).
    EXPECT_DOUBLE_EQ(train_metric(db, "codebook_usage", step), 1.0);
    EXPECT_NEAR(train_metric(db, "perplexity", step), 4.0, 1e-6);
  }
}

TEST(QuantizersE2E, PqFixedCodesWithoutItemFeaturesStopBeforeTraining) {
  xrec::test::TempDir dir("pq-nofeat");
  const std::string cfg = dir.write("pq.yaml", config("{type: pq, codes: fixed}"));
  const std::string db = dir.path("xrec.db");
  auto r = xrec::test::xrec_cmd("run '" + cfg + "' --db '" + db + "'", "", dir.root());
  EXPECT_EQ(r.code, 2) << r.output;
  for (const char* part : {"quantizer pq (codes: fixed)", "has no dense item features", "codes: learned"})
    EXPECT_NE(r.output.find(part), std::string::npos) << part << "\n" << r.output;
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM metrics WHERE split = 'train'"), "0");
}
