#include "xrec/engine/evaluator.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>

#include <numeric>

#include "xrec/api/errors.hpp"
#include "xrec/api/progress.hpp"
#include "xrec/engine/batching.hpp"
#include "xrec/engine/metrics.hpp"

namespace xrec::engine {

HistoryMode parse_history_mode(const std::string& name) {
  if (name == "keep_target") return HistoryMode::KeepTarget;
  if (name == "mask_all") return HistoryMode::MaskAll;
  if (name == "none") return HistoryMode::None;
  throw InputError("unknown eval.history '" + name + "' (expected keep_target, mask_all or none)");
}

const char* to_string(HistoryMode m) {
  switch (m) {
    case HistoryMode::KeepTarget: return "keep_target";
    case HistoryMode::MaskAll: return "mask_all";
    case HistoryMode::None: return "none";
  }
  return "?";
}

std::vector<std::string> protocol_metrics(const std::string& protocol, const std::vector<int64_t>& ks) {
  if (protocol == "full" || protocol == "sampled") return ranking_metric_names(ks);
  if (protocol == "pointwise") return {"auc", "gauc", "logloss"};
  throw InputError("unknown evaluation protocol '" + protocol + "' (expected full, sampled or pointwise)");
}

EvalOptions eval_options_from(const Params& eval, int64_t max_len) {
  EvalOptions o;
  o.protocol = eval.str("protocol");
  o.history = parse_history_mode(eval.str("history"));
  if (eval.has("mask_history") && !eval.flag("mask_history")) {
    if (o.history == HistoryMode::MaskAll)
      throw InputError("eval.mask_history is deprecated (false = eval.history: none) and contradicts eval.history: " +
                        std::string(to_string(o.history)) + "; set only eval.history");
    o.history = HistoryMode::None;
  }
  o.ks = eval.int_list("ks");
  o.batch_size = eval.integer("batch_size");
  o.max_len = max_len;
  return o;
}

namespace {
// The order that breaks exact score ties: a bijective mix of the item id (splitmix64's finaliser), the same
// in every run. Not the id itself: ids follow first appearance in the data, which favours popular items, so
// "lower id first" favoured a tied test target (Beauty's attribute-only items: on average 40 % of a tied test
// target's group was ahead of it, not 50 %). Over a group of tied items the ranks are still 0 .. n-1.
uint64_t tie_order(int64_t item) {
  uint64_t z = static_cast<uint64_t>(item) + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

std::vector<Ranking> ranks_from_scores(torch::Tensor scores, const std::vector<const EvalCase*>& cases,
                                       const std::string& protocol, HistoryMode history) {
  const bool full = protocol == "full";
  if (!full && protocol != "sampled")
    throw InputError("unknown evaluation protocol '" + protocol + "' (expected full or sampled)");
  const int64_t B = scores.size(0), I1 = scores.size(1);
  if (static_cast<int64_t>(cases.size()) != B) throw Error("ranks_from_scores: one case per row of scores expected");
  if (!full)
    for (auto* c : cases)
      if (c->negatives.empty()) throw Error("sampled protocol: evaluation cases carry no negatives");
  scores = scores.to(torch::kCPU, torch::kFloat).contiguous();
  const float* s = scores.data_ptr<float>();
  // One pass over each row, rows in parallel: a candidate is ahead of the target when its score is higher,
  // or equal and first in a fixed pseudo-random order of item ids (tie_order). Item 0 (padding) is never a
  // candidate.
  std::vector<Ranking> out(static_cast<size_t>(B));
  at::parallel_for(0, B, 16, [&](int64_t lo, int64_t hi) {
    std::vector<int64_t> seen;
    for (int64_t b = lo; b < hi; ++b) {
      const float* row = s + b * I1;
      const EvalCase& c = *cases[static_cast<size_t>(b)];
      if (c.target <= 0 || c.target >= I1)
        throw Error("evaluation case of user " + std::to_string(c.user) + ": target item " + std::to_string(c.target) +
                    " is outside the scored items 1.." + std::to_string(I1 - 1));
      const float t = row[c.target];
      const uint64_t target_order = tie_order(c.target);
      auto ahead = [&](int64_t j) { return row[j] > t || (row[j] == t && tie_order(j) < target_order); };
      int64_t rank = 0, candidates = 0;
      if (full) {
        for (int64_t j = 1; j < c.target; ++j) rank += ahead(j);
        for (int64_t j = c.target + 1; j < I1; ++j) rank += ahead(j);
        candidates = I1 - 1;
        if (history != HistoryMode::None) {
          // The user's earlier items are not candidates: each distinct one is taken back out once. The target
          // stays a candidate even when seen before; under MaskAll such a target's score is gone, so it ranks
          // behind every remaining candidate.
          seen.assign(c.history.begin(), c.history.end());
          std::sort(seen.begin(), seen.end());
          seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
          bool repeat = false;
          for (int64_t i : seen) {
            if (i <= 0 || i >= I1) continue;
            if (i == c.target) repeat = true;
            else rank -= ahead(i), --candidates;
          }
          if (repeat && history == HistoryMode::MaskAll) rank = candidates - 1;
        }
      } else {
        for (int64_t j : c.negatives)
          if (j > 0 && j < I1) rank += ahead(j), ++candidates;
        candidates += 1;  // the target joins its negatives
      }
      out[static_cast<size_t>(b)] = {rank, candidates};
    }
  });
  return out;
}

std::vector<Ranking> rank_targets(const std::vector<EvalCase>& cases, const ScoreFn& score,
                                  const EvalOptions& options) {
  if (options.protocol == "pointwise")
    throw InputError("eval.protocol pointwise labels (user, item) pairs of a pointwise model "
                     "(TransferContext::evaluate_pointwise); ranking a sequence model needs full or sampled");
  torch::NoGradGuard no_grad;
  // Batches of similar history length are narrow (little padding to encode); ranks go back in case order.
  std::vector<size_t> order(cases.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return cases[a].history.size() < cases[b].history.size(); });
  std::vector<Ranking> ranks(cases.size());
  Progress bar("evaluating", static_cast<int64_t>(cases.size()), "cases");
  for (size_t lo = 0; lo < cases.size(); lo += static_cast<size_t>(options.batch_size)) {
    const size_t hi = std::min(cases.size(), lo + static_cast<size_t>(options.batch_size));
    std::vector<const EvalCase*> batch;
    std::vector<const std::vector<int64_t>*> histories;
    for (size_t i = lo; i < hi; ++i) {
      batch.push_back(&cases[order[i]]);
      histories.push_back(&cases[order[i]].history);
    }
    auto scores = score(pack_histories(histories, options.max_len), batch);
    auto r = ranks_from_scores(scores, batch, options.protocol, options.history);
    for (size_t i = lo; i < hi; ++i) ranks[order[i]] = r[i - lo];
    bar.tick(static_cast<int64_t>(hi - lo));
  }
  return ranks;
}

MetricMap evaluate_cases(const std::vector<EvalCase>& cases, const ScoreFn& score, const EvalOptions& options) {
  return ranking_metrics(rank_targets(cases, score, options), options.ks);
}

}  // namespace xrec::engine
