#include "xrec/api/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "xrec/api/errors.hpp"

using namespace xrec;

namespace {
std::vector<Ranking> ranks(const std::vector<int64_t>& r, int64_t candidates = 101) {
  std::vector<Ranking> out;
  for (int64_t x : r) out.push_back({x, candidates});
  return out;
}
}  // namespace

// Hand-computed: ranks 0, 1, 4, 10, 25 (0 = first) among 101 candidates.
TEST(RankingMetrics, MatchHandComputedValues) {
  auto m = ranking_metrics(ranks({0, 1, 4, 10, 25}), {1, 5, 10});
  EXPECT_DOUBLE_EQ(m.at("hr@1"), 0.2);
  EXPECT_DOUBLE_EQ(m.at("hr@5"), 0.6);
  EXPECT_DOUBLE_EQ(m.at("hr@10"), 0.6);  // rank 10 is the 11th item: outside the top 10
  EXPECT_DOUBLE_EQ(m.at("recall@10"), m.at("hr@10"));
  EXPECT_NEAR(m.at("precision@5"), 3.0 / 5 / 5, 1e-12);
  EXPECT_NEAR(m.at("precision@10"), 3.0 / 10 / 5, 1e-12);
  EXPECT_NEAR(m.at("ndcg@1"), 1.0 / 5, 1e-12);
  EXPECT_NEAR(m.at("ndcg@5"), (1.0 + 1.0 / std::log2(3.0) + 1.0 / std::log2(6.0)) / 5, 1e-12);
  EXPECT_NEAR(m.at("ndcg@5"), 0.40355652, 1e-8);
  EXPECT_NEAR(m.at("mrr@5"), (1.0 + 0.5 + 0.2) / 5, 1e-12);
  EXPECT_NEAR(m.at("mrr"), (1.0 + 0.5 + 0.2 + 1.0 / 11 + 1.0 / 26) / 5, 1e-12);
  // AUC: share of the 100 other candidates ranked below the target.
  EXPECT_NEAR(m.at("auc"), (100 + 99 + 96 + 90 + 75) / 100.0 / 5, 1e-12);
}

TEST(RankingMetrics, PerfectAndEmpty) {
  auto m = ranking_metrics(ranks({0, 0, 0}), {10});
  EXPECT_DOUBLE_EQ(m.at("hr@10"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("ndcg@10"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("mrr"), 1.0);
  EXPECT_DOUBLE_EQ(m.at("auc"), 1.0);
  EXPECT_TRUE(ranking_metrics({}, {10}).empty());
}

TEST(RankingMetrics, KeysAreExactlyTheNamedOnes) {
  auto m = ranking_metrics(ranks({3}), {5, 20});
  auto names = ranking_metric_names({5, 20});
  ASSERT_EQ(m.size(), names.size());
  for (auto& n : names) {
    ASSERT_TRUE(m.count(n)) << n;
    EXPECT_DOUBLE_EQ(m.at(n), case_metric(n, {3, 101})) << n;  // the mean of one case is that case
  }
}

TEST(RankingMetrics, UnknownKeysAreRejected) {
  for (const char* bad : {"ndcg", "hr@0", "hr@x", "map@10", "ndcg@", "@10", "hr@99999999999"})
    EXPECT_THROW(case_metric(bad, {0, 10}), InputError) << bad;
}

// Hand-computed: scores 0.1 (neg), 0.4 (pos), 0.35 (neg), 0.8 (pos): 3 of 4 positive-negative pairs ordered.
TEST(PointwiseMetrics, AucAndLogLossMatchHandComputedValues) {
  auto m = pointwise_metrics({0, 1, 0, 1}, {0.1f, 0.4f, 0.35f, 0.8f});
  EXPECT_NEAR(m.at("auc"), 1.0, 1e-12);
  m = pointwise_metrics({0, 1, 0, 1}, {0.1f, 0.3f, 0.35f, 0.8f});
  EXPECT_NEAR(m.at("auc"), 0.75, 1e-12);
  const double ll = -(std::log(0.9) + std::log(0.3f) + std::log(0.65) + std::log(0.8f)) / 4;
  EXPECT_NEAR(m.at("logloss"), ll, 1e-6);
  EXPECT_EQ(m.count("gauc"), 0u);
}

TEST(PointwiseMetrics, TiesCountHalfAndGroupsGiveGauc) {
  // One tied positive-negative pair: AUC 0.5.
  EXPECT_NEAR(pointwise_metrics({0, 1}, {0.5f, 0.5f}).at("auc"), 0.5, 1e-12);
  // Group 7: perfect (AUC 1, 2 rows); group 9: reversed (AUC 0, 2 rows); group 8 has one label only.
  auto m = pointwise_metrics({0, 1, 1, 0, 1}, {0.2f, 0.9f, 0.1f, 0.8f, 0.5f}, {7, 7, 9, 9, 8});
  EXPECT_NEAR(m.at("gauc"), (1.0 * 2 + 0.0 * 2) / 4, 1e-12);
  EXPECT_TRUE(std::isnan(pointwise_metrics({1, 1}, {0.2f, 0.3f}).at("auc")));  // one class: undefined
}

TEST(PointwiseMetrics, BadInputIsRejected) {
  EXPECT_THROW(pointwise_metrics({0, 1}, {0.5f}), InputError);
  EXPECT_THROW(pointwise_metrics({0, 2}, {0.5f, 0.5f}), InputError);
  EXPECT_THROW(pointwise_metrics({0, 1}, {0.5f, 1.5f}), InputError);
  EXPECT_THROW(pointwise_metrics({0, 1}, {0.5f, std::nanf("")}), InputError);
  EXPECT_THROW(pointwise_metrics({0, 1}, {0.5f, 0.5f}, {1}), InputError);
  EXPECT_TRUE(pointwise_metrics({}, {}).empty());
}
