#include "xrec/api/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "xrec/api/errors.hpp"

namespace xrec {

namespace {

double ndcg_at(int64_t rank, int64_t k) { return rank < k ? 1.0 / std::log2(static_cast<double>(rank) + 2.0) : 0.0; }

double auc_of(const Ranking& r) {
  if (r.candidates <= 1) return 1.0;  // nothing to be ranked against
  return static_cast<double>(r.candidates - 1 - r.rank) / static_cast<double>(r.candidates - 1);
}

// Mann-Whitney AUC over the given rows (indices into labels/p); NaN when one class is absent.
double auc_of(const std::vector<float>& labels, const std::vector<float>& p, std::vector<size_t> rows) {
  std::sort(rows.begin(), rows.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  double positives = 0, negatives = 0, rank_sum = 0;
  for (size_t i = 0; i < rows.size();) {
    size_t j = i;
    while (j < rows.size() && p[rows[j]] == p[rows[i]]) ++j;
    const double mid_rank = (static_cast<double>(i) + static_cast<double>(j) + 1) / 2;  // 1-based, ties averaged
    for (size_t t = i; t < j; ++t) {
      if (labels[rows[t]] > 0.5) {
        positives += 1;
        rank_sum += mid_rank;
      } else {
        negatives += 1;
      }
    }
    i = j;
  }
  if (positives == 0 || negatives == 0) return std::nan("");
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

// A parsed metric key, so per-case evaluation does no string work.
struct MetricKey {
  enum Kind { Hit, Precision, Ndcg, MrrAt, Mrr, Auc } kind;
  int64_t k = 0;
};

MetricKey parse_key(const std::string& key) {
  if (key == "mrr") return {MetricKey::Mrr};
  if (key == "auc") return {MetricKey::Auc};
  const auto at = key.find('@');
  if (at != std::string::npos && at + 1 < key.size() && key.size() - at < 11) {
    const std::string name = key.substr(0, at), k_text = key.substr(at + 1);
    if (std::all_of(k_text.begin(), k_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      const int64_t k = std::stoll(k_text);
      if (k > 0 && (name == "hr" || name == "recall")) return {MetricKey::Hit, k};
      if (k > 0 && name == "precision") return {MetricKey::Precision, k};
      if (k > 0 && name == "ndcg") return {MetricKey::Ndcg, k};
      if (k > 0 && name == "mrr") return {MetricKey::MrrAt, k};
    }
  }
  throw InputError("unknown ranking metric '" + key +
                   "' (expected hr@K, recall@K, precision@K, ndcg@K, mrr@K with K >= 1, mrr or auc)");
}

double value_of(const MetricKey& m, const Ranking& r) {
  const bool hit = r.rank < m.k;
  switch (m.kind) {
    case MetricKey::Hit: return hit ? 1.0 : 0.0;
    case MetricKey::Precision: return hit ? 1.0 / static_cast<double>(m.k) : 0.0;
    case MetricKey::Ndcg: return ndcg_at(r.rank, m.k);
    case MetricKey::MrrAt: return hit ? 1.0 / static_cast<double>(r.rank + 1) : 0.0;
    case MetricKey::Mrr: return 1.0 / static_cast<double>(r.rank + 1);
    case MetricKey::Auc: return auc_of(r);
  }
  return 0.0;
}

}  // namespace

double case_metric(const std::string& key, const Ranking& r) { return value_of(parse_key(key), r); }

std::vector<std::string> ranking_metric_names(const std::vector<int64_t>& ks) {
  std::vector<std::string> names{"mrr", "auc"};
  for (int64_t k : ks)
    for (const char* n : {"hr", "recall", "precision", "ndcg", "mrr"}) names.push_back(std::string(n) + "@" + std::to_string(k));
  return names;
}

MetricMap ranking_metrics(const std::vector<Ranking>& cases, const std::vector<int64_t>& ks) {
  MetricMap m;
  if (cases.empty()) return m;
  const auto names = ranking_metric_names(ks);
  std::vector<MetricKey> keys;
  for (auto& n : names) keys.push_back(parse_key(n));
  std::vector<double> sums(names.size(), 0.0);
  for (const Ranking& r : cases)
    for (size_t i = 0; i < keys.size(); ++i) sums[i] += value_of(keys[i], r);
  for (size_t i = 0; i < names.size(); ++i) m[names[i]] = sums[i] / static_cast<double>(cases.size());
  return m;
}

MetricMap pointwise_metrics(const std::vector<float>& labels, const std::vector<float>& probabilities,
                            const std::vector<int64_t>& groups) {
  if (labels.size() != probabilities.size())
    throw InputError("pointwise metrics: " + std::to_string(labels.size()) + " labels but " +
                     std::to_string(probabilities.size()) + " predictions");
  if (!groups.empty() && groups.size() != labels.size())
    throw InputError("pointwise metrics: " + std::to_string(groups.size()) + " group ids for " +
                     std::to_string(labels.size()) + " labels");
  MetricMap m;
  if (labels.empty()) return m;
  double logloss = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const float y = labels[i], p = probabilities[i];
    if (y != 0.0f && y != 1.0f)
      throw InputError("pointwise metrics: label " + std::to_string(y) + " at row " + std::to_string(i) +
                       " (expected 0 or 1)");
    if (!(p >= 0.0f && p <= 1.0f))
      throw InputError("pointwise metrics: prediction " + std::to_string(p) + " at row " + std::to_string(i) +
                       " is not a probability in [0, 1]");
    const double q = std::clamp(static_cast<double>(p), 1e-7, 1 - 1e-7);
    logloss -= y > 0.5f ? std::log(q) : std::log(1 - q);
  }
  m["logloss"] = logloss / static_cast<double>(labels.size());
  std::vector<size_t> all(labels.size());
  std::iota(all.begin(), all.end(), 0);
  m["auc"] = auc_of(labels, probabilities, all);
  if (!groups.empty()) {
    std::map<int64_t, std::vector<size_t>> by_group;
    for (size_t i = 0; i < groups.size(); ++i) by_group[groups[i]].push_back(i);
    double weighted = 0, weight = 0;
    for (auto& [g, rows] : by_group) {
      const double a = auc_of(labels, probabilities, rows);
      if (std::isnan(a)) continue;
      weighted += a * static_cast<double>(rows.size());
      weight += static_cast<double>(rows.size());
    }
    m["gauc"] = weight > 0 ? weighted / weight : std::nan("");
  }
  return m;
}

MetricDirection metric_direction(const std::string& key) {
  // A metric's family is the part before '@' ("logloss@user" is still a logloss).
  const std::string family = key.substr(0, key.find('@'));
  for (const char* lower : {"logloss", "loss", "mse", "rmse", "mae"})
    if (family == lower) return MetricDirection::Lower;
  return MetricDirection::Higher;
}

}  // namespace xrec
