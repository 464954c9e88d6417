#include "xrec/engine/metrics.hpp"

#include <gtest/gtest.h>

#include "xrec/api/errors.hpp"

using xrec::engine::metric_value;
using xrec::engine::ranking_metrics;

// Hand-computed: ranks 0, 1, 4, 10, 25 (0 = first).
TEST(Metrics, MatchHandComputedValues) {
  auto m = ranking_metrics({0, 1, 4, 10, 25}, {1, 5, 10});
  EXPECT_DOUBLE_EQ(m.at("hr@1"), 0.2);
  EXPECT_DOUBLE_EQ(m.at("hr@5"), 0.6);
  EXPECT_DOUBLE_EQ(m.at("hr@10"), 0.6);  // rank 10 is the 11th item: outside the top 10
  EXPECT_NEAR(m.at("ndcg@1"), 1.0 / 5, 1e-12);
  EXPECT_NEAR(m.at("ndcg@5"), (1.0 + 1.0 / std::log2(3.0) + 1.0 / std::log2(6.0)) / 5, 1e-12);
  EXPECT_NEAR(m.at("ndcg@5"), 0.40355652, 1e-8);
  EXPECT_NEAR(m.at("mrr@5"), (1.0 + 0.5 + 0.2) / 5, 1e-12);
  EXPECT_NEAR(m.at("mrr"), (1.0 + 0.5 + 0.2 + 1.0 / 11 + 1.0 / 26) / 5, 1e-12);
}

TEST(Metrics, PerfectAndEmpty) {
  auto m = ranking_metrics({0, 0, 0}, {10});
  EXPECT_DOUBLE_EQ(m.at("hr@10"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("ndcg@10"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("mrr"), 1.0);
  EXPECT_TRUE(ranking_metrics({}, {10}).empty());
}

TEST(Metrics, MissingSelectionMetricListsAvailableKeys) {
  auto m = ranking_metrics({0}, {10});
  try {
    metric_value(m, "ndcg@50");
    FAIL() << "expected an error";
  } catch (const xrec::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ndcg@10"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ndcg@50"), std::string::npos) << e.what();
  }
}
