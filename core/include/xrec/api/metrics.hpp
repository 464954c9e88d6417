#pragma once
// Evaluation metrics, torch-free and shared by the host, plugins (custom evaluation loops) and
// `xrec compare` (which recomputes them per user from stored ranks).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "xrec/api/export.hpp"

namespace xrec {

using MetricMap = std::map<std::string, double>;  // "ndcg@10" -> 0.0412

// One ranked evaluation case: the target's 0-based rank (0 = first) among `candidates` items, target
// included (all unmasked items under full ranking; the negatives + 1 under the sampled protocol).
struct Ranking {
  int64_t rank = 0;
  int64_t candidates = 0;
};

// Means over cases of, for every K in ks: hr@K (= recall@K: one relevant item per case), recall@K,
// precision@K (= hit / K), ndcg@K (1 / log2(rank + 2) within the top K), mrr@K; and over the whole
// ranking: mrr and auc (share of the other candidates ranked below the target).
XREC_API MetricMap ranking_metrics(const std::vector<Ranking>& cases, const std::vector<int64_t>& ks);

// The value of one ranking metric key ("ndcg@10", "mrr", "auc", ...) for one case; throws InputError for an
// unknown key. ranking_metrics is the mean of this over cases.
XREC_API double case_metric(const std::string& key, const Ranking& r);

// Every key ranking_metrics computes for these cut-offs, in a stable order.
XREC_API std::vector<std::string> ranking_metric_names(const std::vector<int64_t>& ks);

// Pointwise (click / rating) prediction: labels in {0, 1}, predicted probabilities in [0, 1].
//  - auc: probability that a random positive scores above a random negative (ties count one half);
//  - logloss: mean binary cross-entropy, probabilities clipped to [1e-7, 1 - 1e-7];
//  - gauc (when groups, e.g. user ids, are given): per-group AUC weighted by the group's size, over the
//    groups that have both labels (as in the DIN paper).
// Throws InputError when sizes differ, a label is not 0/1, or a probability is outside [0, 1] or NaN.
XREC_API MetricMap pointwise_metrics(const std::vector<float>& labels, const std::vector<float>& probabilities,
                                     const std::vector<int64_t>& groups = {});

// Which way a metric improves. Model selection and early stopping read it, so a metric to minimise
// (logloss, loss, mse, rmse, mae) can be selected as well as one to maximise (everything else: hr@K,
// ndcg@K, mrr, auc, gauc, ...).
enum class MetricDirection { Higher, Lower };
XREC_API MetricDirection metric_direction(const std::string& key);
inline const char* to_string(MetricDirection d) { return d == MetricDirection::Higher ? "max" : "min"; }
// True when `candidate` is better than `incumbent` in the metric's direction (strictly).
inline bool metric_better(MetricDirection d, double candidate, double incumbent) {
  return d == MetricDirection::Higher ? candidate > incumbent : candidate < incumbent;
}

}  // namespace xrec
