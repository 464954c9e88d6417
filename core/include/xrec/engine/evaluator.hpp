#pragma once
// Leave-one-out ranking evaluation, batched so memory stays bounded whatever the number of users.
//  - full: every item is a candidate except padding; the user's history is handled by HistoryMode.
//  - sampled: the target is ranked against the case's negatives only.
// Ties are broken by item id (an item with equal score and a lower id ranks ahead), so a model that
// scores everything equal gets an average, not a perfect, rank.
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "xrec/api/metrics.hpp"
#include "xrec/api/params.hpp"
#include "xrec/api/task.hpp"
#include "xrec/api/transfer.hpp"

namespace xrec::engine {

// How full ranking treats the items of the user's history (eval.history):
//  - KeepTarget: earlier items are not candidates, but a target seen before keeps its score (our default);
//  - MaskAll: every history item is out, the target included: a target seen before ranks behind every
//    remaining candidate (a miss at any K), as the S3-Rec family of code does by zeroing history scores;
//  - None: every item competes, history included (RecBole's evaluation of sequential models).
enum class HistoryMode { KeepTarget, MaskAll, None };
HistoryMode parse_history_mode(const std::string& name);  // keep_target | mask_all | none
const char* to_string(HistoryMode m);

// The metric keys a protocol computes for these cut-offs: full/sampled ranking -> ranking_metric_names(ks)
// (hr@K, ndcg@K, mrr, auc, ...); pointwise -> auc, gauc, logloss. Throws InputError for an unknown protocol.
std::vector<std::string> protocol_metrics(const std::string& protocol, const std::vector<int64_t>& ks);

struct EvalOptions {
  std::string protocol = "full";  // full | sampled
  HistoryMode history = HistoryMode::KeepTarget;  // full only
  std::vector<int64_t> ks = {5, 10, 20};
  int64_t batch_size = 1024;
  int64_t max_len = 50;  // history length fed to the model
};

// The options of the `eval:` section. eval.mask_history is a deprecated alias kept so older configs run:
// `false` means history: none; combined with any other eval.history than keep_target it is a ConfigError.
EvalOptions eval_options_from(const Params& eval, int64_t max_len);

// Scores of every item (column 0 = padding) for a batch of cases: [B, num_items + 1].
using ScoreFn = std::function<torch::Tensor(const torch::Tensor& packed_histories,
                                            const std::vector<const EvalCase*>& cases)>;

// Rank of each case's target (and its number of candidates), in case order.
std::vector<Ranking> rank_targets(const std::vector<EvalCase>& cases, const ScoreFn& score,
                                  const EvalOptions& options);

// Rank of each row's target given full scores [B, I+1] (used by rank_targets; exposed for tests).
std::vector<Ranking> ranks_from_scores(torch::Tensor scores, const std::vector<const EvalCase*>& cases,
                                       const std::string& protocol,
                                       HistoryMode history = HistoryMode::KeepTarget);

MetricMap evaluate_cases(const std::vector<EvalCase>& cases, const ScoreFn& score, const EvalOptions& options);

}  // namespace xrec::engine
