#include "xrec/engine/metrics.hpp"

#include <cmath>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

MetricMap ranking_metrics(const std::vector<int64_t>& ranks, const std::vector<int64_t>& ks) {
  MetricMap m;
  const double n = static_cast<double>(ranks.size());
  if (ranks.empty()) return m;
  double mrr = 0;
  for (int64_t r : ranks) mrr += 1.0 / static_cast<double>(r + 1);
  m["mrr"] = mrr / n;
  for (int64_t k : ks) {
    double hr = 0, ndcg = 0, mrr_k = 0;
    for (int64_t r : ranks) {
      if (r >= k) continue;
      hr += 1;
      ndcg += 1.0 / std::log2(static_cast<double>(r) + 2.0);
      mrr_k += 1.0 / static_cast<double>(r + 1);
    }
    const std::string at = "@" + std::to_string(k);
    m["hr" + at] = hr / n;
    m["ndcg" + at] = ndcg / n;
    m["mrr" + at] = mrr_k / n;
  }
  return m;
}

double metric_value(const MetricMap& metrics, const std::string& key) {
  auto it = metrics.find(key);
  if (it != metrics.end()) return it->second;
  std::string known;
  for (auto& [k, v] : metrics) known += (known.empty() ? "" : ", ") + k;
  throw InputError("metric '" + key + "' is not computed (available: " + known + "); check train.select_metric and eval.ks");
}

}  // namespace xrec::engine
