#pragma once
// Leave-one-out ranking evaluation, batched so memory stays bounded whatever the number of users.
//  - full: every item is a candidate; padding and (unless mask_history is off) the user's history other
//    than the target itself are masked out.
//  - sampled: the target is ranked against the case's negatives only.
// Ties are broken by item id (an item with equal score and a lower id ranks ahead), so a model that
// scores everything equal gets an average, not a perfect, rank.
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "xrec/api/metrics.hpp"
#include "xrec/api/task.hpp"
#include "xrec/api/transfer.hpp"

namespace xrec::engine {

struct EvalOptions {
  std::string protocol = "full";  // full | sampled
  bool mask_history = true;       // full: the user's earlier items are not candidates (except the target)
  std::vector<int64_t> ks = {5, 10, 20};
  int64_t batch_size = 1024;
  int64_t max_len = 50;  // history length fed to the model
};

// Scores of every item (column 0 = padding) for a batch of cases: [B, num_items + 1].
using ScoreFn = std::function<torch::Tensor(const torch::Tensor& packed_histories,
                                            const std::vector<const EvalCase*>& cases)>;

// Rank of each case's target (and its number of candidates), in case order.
std::vector<Ranking> rank_targets(const std::vector<EvalCase>& cases, const ScoreFn& score,
                                  const EvalOptions& options);

// Rank of each row's target given full scores [B, I+1] (used by rank_targets; exposed for tests).
std::vector<Ranking> ranks_from_scores(torch::Tensor scores, const std::vector<const EvalCase*>& cases,
                                       const std::string& protocol, bool mask_history = true);

MetricMap evaluate_cases(const std::vector<EvalCase>& cases, const ScoreFn& score, const EvalOptions& options);

}  // namespace xrec::engine
