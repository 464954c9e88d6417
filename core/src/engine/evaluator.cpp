#include "xrec/engine/evaluator.hpp"

#include <torch/torch.h>

#include <numeric>

#include "xrec/api/errors.hpp"
#include "xrec/engine/batching.hpp"
#include "xrec/engine/metrics.hpp"

namespace xrec::engine {

std::vector<Ranking> ranks_from_scores(torch::Tensor scores, const std::vector<const EvalCase*>& cases,
                                       const std::string& protocol, bool mask_history) {
  const int64_t B = scores.size(0), I1 = scores.size(1);
  scores = scores.to(torch::kCPU, torch::kFloat).contiguous();
  auto targets = torch::empty({B}, torch::kLong);
  auto t = targets.accessor<int64_t, 1>();
  for (int64_t b = 0; b < B; ++b) t[b] = cases[static_cast<size_t>(b)]->target;
  const float neg_inf = -std::numeric_limits<float>::infinity();

  torch::Tensor cand_scores, cand_ids, target_scores;
  if (protocol == "full") {
    // Mask padding and the history (the target keeps its own score even if seen before).
    auto s = scores.accessor<float, 2>();
    for (int64_t b = 0; b < B; ++b) {
      s[b][0] = neg_inf;
      const auto* c = cases[static_cast<size_t>(b)];
      if (!mask_history) continue;  // repeat consumption allowed (RecBole's sequential evaluation)
      for (int64_t i : c->history)
        if (i != c->target && i > 0 && i < I1) s[b][i] = neg_inf;
    }
    target_scores = scores.gather(1, targets.unsqueeze(1));  // [B, 1]
    cand_scores = scores;
    cand_ids = torch::arange(I1, torch::kLong).unsqueeze(0);
  } else if (protocol == "sampled") {
    size_t n = 0;
    for (auto* c : cases) n = std::max(n, c->negatives.size());
    if (n == 0) throw Error("sampled protocol: evaluation cases carry no negatives");
    auto ids = torch::zeros({B, static_cast<int64_t>(n)}, torch::kLong);  // 0 = no candidate
    auto a = ids.accessor<int64_t, 2>();
    for (int64_t b = 0; b < B; ++b) {
      const auto& neg = cases[static_cast<size_t>(b)]->negatives;
      for (size_t j = 0; j < neg.size(); ++j) a[b][static_cast<int64_t>(j)] = neg[j];
    }
    cand_scores = scores.gather(1, ids).masked_fill(ids.eq(0), neg_inf);
    cand_ids = ids;
    target_scores = scores.gather(1, targets.unsqueeze(1));
  } else {
    throw InputError("unknown evaluation protocol '" + protocol + "' (expected full or sampled)");
  }
  auto greater = cand_scores.gt(target_scores).sum(1);
  auto tied_before = cand_scores.eq(target_scores).logical_and(cand_ids.lt(targets.unsqueeze(1))).sum(1);
  auto ranks = (greater + tied_before).contiguous();
  auto candidates = cand_scores.ne(neg_inf).sum(1).contiguous();  // masked items and missing negatives excluded
  if (protocol == "sampled") candidates += 1;                       // the target joins its negatives
  auto r = ranks.accessor<int64_t, 1>();
  auto n = candidates.accessor<int64_t, 1>();
  std::vector<Ranking> out(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) out[static_cast<size_t>(b)] = {r[b], n[b]};
  return out;
}

std::vector<Ranking> rank_targets(const std::vector<EvalCase>& cases, const ScoreFn& score,
                                  const EvalOptions& options) {
  torch::NoGradGuard no_grad;
  // Batches of similar history length are narrow (little padding to encode); ranks go back in case order.
  std::vector<size_t> order(cases.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return cases[a].history.size() < cases[b].history.size(); });
  std::vector<Ranking> ranks(cases.size());
  for (size_t lo = 0; lo < cases.size(); lo += static_cast<size_t>(options.batch_size)) {
    const size_t hi = std::min(cases.size(), lo + static_cast<size_t>(options.batch_size));
    std::vector<const EvalCase*> batch;
    std::vector<const std::vector<int64_t>*> histories;
    for (size_t i = lo; i < hi; ++i) {
      batch.push_back(&cases[order[i]]);
      histories.push_back(&cases[order[i]].history);
    }
    auto scores = score(pack_histories(histories, options.max_len), batch);
    auto r = ranks_from_scores(scores, batch, options.protocol, options.mask_history);
    for (size_t i = lo; i < hi; ++i) ranks[order[i]] = r[i - lo];
  }
  return ranks;
}

MetricMap evaluate_cases(const std::vector<EvalCase>& cases, const ScoreFn& score, const EvalOptions& options) {
  return ranking_metrics(rank_targets(cases, score, options), options.ks);
}

}  // namespace xrec::engine
