// Baseline plugin: first-order Markov chain over items. Transition counts i -> j from consecutive items
// of the training sequences; a history is scored by the transition distribution of its last item, with
// additive smoothing and a tiny popularity backoff that orders the items the chain cannot tell apart
// (unseen after the last item, or an empty history) by popularity instead of by id.
#include <torch/torch.h>

#include <algorithm>
#include <utility>

#include "../common/baseline_common.hpp"
#include "xrec/api/baseline.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"

namespace {

using namespace xrec;

class Markov : public Baseline {
 public:
  Markov(const Params& p, const PluginContext& ctx)
      : alpha_(p.real("alpha")), backoff_(p.real("backoff")), log_(ctx.log) {
    baselines::check_range(kWho, "alpha", alpha_, 0, 1e300, "a number >= 0");
    baselines::check_range(kWho, "backoff", backoff_, 0, 1e-2, "a number in [0, 0.01] (a tie-breaker, not a mixture)");
  }

  void fit(const Task& task) override {
    const int64_t n = baselines::checked_num_items(task, kWho);
    // Transition pairs (padding skipped: the pair joins the nonzero items on either side), sorted into CSR.
    std::vector<std::pair<int64_t, int64_t>> pairs;
    for (auto& seq : task.train) {
      int64_t prev = 0;
      for (int64_t i : seq) {
        if (i == 0) continue;
        if (prev > 0) pairs.emplace_back(prev, i);
        prev = i;
      }
    }
    std::sort(pairs.begin(), pairs.end());
    offsets_.assign(static_cast<size_t>(n + 2), 0);
    next_.clear();
    count_.clear();
    for (size_t e = 0; e < pairs.size(); ++e) {
      if (e > 0 && pairs[e] == pairs[e - 1]) {
        ++count_.back();
        continue;
      }
      next_.push_back(pairs[e].second);
      count_.push_back(1);
      ++offsets_[static_cast<size_t>(pairs[e].first) + 1];
    }
    for (size_t i = 1; i < offsets_.size(); ++i) offsets_[i] += offsets_[i - 1];
    out_.assign(static_cast<size_t>(n + 1), 0);
    for (size_t i = 1; i < out_.size(); ++i)
      for (size_t e = offsets_[i]; e < offsets_[i + 1]; ++e) out_[i] += count_[e];
    // Backoff: backoff * popularity / max popularity, so it stays below `backoff` whatever the data.
    const auto pop = baselines::item_counts(task, n, false);
    const double top = static_cast<double>(std::max<int64_t>(1, *std::max_element(pop.begin(), pop.end())));
    prior_.assign(static_cast<size_t>(n + 1), 0);
    for (size_t i = 1; i < pop.size(); ++i)
      prior_[i] = static_cast<float>(backoff_ * static_cast<double>(pop[i]) / top);
    num_items_ = n;
    if (log_)
      log_->info("{} items: {} transitions, {} distinct pairs (alpha = {}, backoff = {})", n, pairs.size(),
                 next_.size(), alpha_, backoff_);
  }

  torch::Tensor score(const std::vector<const std::vector<int64_t>*>& histories) override {
    return baselines::score_rows(histories, num_items_, kWho, [&](const std::vector<int64_t>& h, float* row) {
      std::copy(prior_.begin(), prior_.end(), row);
      int64_t last = 0;
      for (auto it = h.rbegin(); it != h.rend() && last == 0; ++it) last = *it;
      if (last == 0) return;  // empty history: popularity alone
      const auto l = static_cast<size_t>(last);
      const double total = static_cast<double>(out_[l]) + alpha_ * static_cast<double>(num_items_);
      if (total <= 0) return;  // last item never followed by anything in training, no smoothing
      if (alpha_ > 0) {
        const auto base = static_cast<float>(alpha_ / total);
        for (int64_t j = 1; j <= num_items_; ++j) row[j] += base;
      }
      for (size_t e = offsets_[l]; e < offsets_[l + 1]; ++e) {
        const auto j = static_cast<size_t>(next_[e]);
        row[j] = static_cast<float>((static_cast<double>(count_[e]) + alpha_) / total + prior_[j]);
      }
    });
  }

 private:
  static constexpr const char* kWho = "baseline (markov)";
  double alpha_, backoff_;
  std::shared_ptr<spdlog::logger> log_;
  int64_t num_items_ = 0;
  std::vector<size_t> offsets_;  // CSR: transitions out of item i are next_/count_[offsets_[i] .. offsets_[i + 1])
  std::vector<int64_t> next_, count_;
  std::vector<int64_t> out_;     // transitions out of each item
  std::vector<float> prior_;     // popularity backoff per item
};

}  // namespace

XREC_PLUGIN("markov", "1.0.0", "First-order Markov chain over consecutive training items") {
  using namespace xrec::param;
  registrar.add_baseline(
      "markov",
      "First-order Markov chain: score(j) = P(j | last history item) = (c(last, j) + alpha) / (c(last) + alpha * "
      "num_items) from consecutive training items, plus backoff * popularity(j) / max popularity to order items "
      "the chain ties (and every item of an empty history).",
      {
          real("alpha", 0.0, "Additive smoothing of the transition counts; 0 = maximum likelihood").at_least(0),
          real("backoff", 1e-6,
               "Weight of the normalised popularity added to every score: a tie-breaker, kept below the gap "
               "between two transition probabilities (1 / (c(last) + alpha * num_items))")
              .range(0, 1e-2),
      },
      [](const xrec::Params& p, const xrec::PluginContext& ctx) { return std::make_shared<Markov>(p, ctx); });
}
