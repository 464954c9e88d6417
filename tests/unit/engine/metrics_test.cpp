#include "xrec/engine/metrics.hpp"

#include <gtest/gtest.h>

#include "xrec/api/errors.hpp"

using xrec::engine::metric_value;

TEST(MetricValue, MissingSelectionMetricListsAvailableKeys) {
  auto m = xrec::ranking_metrics({{0, 100}}, {10});
  EXPECT_DOUBLE_EQ(metric_value(m, "ndcg@10"), 1.0);
  try {
    metric_value(m, "ndcg@50");
    FAIL() << "expected an error";
  } catch (const xrec::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ndcg@10"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ndcg@50"), std::string::npos) << e.what();
  }
}
