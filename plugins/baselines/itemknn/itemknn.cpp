// Baseline plugin: item-based k-nearest neighbours (Sarwar et al., WWW 2001; Deshpande & Karypis, TOIS
// 2004; RecBole's ItemKNN). Item similarities come from the binary user-item incidence of the training
// sequences; each item keeps its k most similar items, and a user's score for item j sums the
// similarities between j and the items of the history.
//
// Everything is sparse: co-occurrence counts are accumulated one item at a time (a dense row of
// num_items ints, reused), only the top-k neighbours are kept (num_items * k pairs), and scoring a
// history touches |history| * k entries of its dense output row.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "../common/baseline_common.hpp"
#include "xrec/api/baseline.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"

namespace {

using namespace xrec;

struct Neighbour {
  int32_t item;
  float sim;
};

class ItemKNN : public Baseline {
 public:
  ItemKNN(const Params& p, const PluginContext& ctx)
      : cosine_(p.str("similarity") == "cosine"), k_(p.integer("neighbours")), shrink_(p.real("shrink")),
        recency_(p.real("recency")), of_candidate_(p.str("neighbours_of") == "candidate"), log_(ctx.log) {
    baselines::check_choice(kWho, "similarity", p.str("similarity"), {"cosine", "cooccurrence"});
    baselines::check_choice(kWho, "neighbours_of", p.str("neighbours_of"), {"history", "candidate"});
    baselines::check_range(kWho, "neighbours", static_cast<double>(k_), 1, 1e9, "an integer >= 1");
    baselines::check_range(kWho, "shrink", shrink_, 0, 1e300, "a number >= 0");
    // recency 0 would give every item but the last weight 0^t: allowed (only the last item counts).
    baselines::check_range(kWho, "recency", recency_, 0, 1, "a number in [0, 1] (1 = no decay)");
  }

  void fit(const Task& task) override {
    const auto started = std::chrono::steady_clock::now();
    const int64_t n = baselines::checked_num_items(task, kWho);
    if (n >= (int64_t{1} << 31)) throw InputError(std::string(kWho) + ": more than 2^31 items are not supported");
    // Binary incidence: each user's distinct items, and each item's users.
    std::vector<std::vector<int32_t>> user_items(task.train.size());
    std::vector<std::vector<int32_t>> item_users(static_cast<size_t>(n + 1));
    for (size_t u = 0; u < task.train.size(); ++u) {
      auto& items = user_items[u];
      for (int64_t i : task.train[u])
        if (i > 0) items.push_back(static_cast<int32_t>(i));
      std::sort(items.begin(), items.end());
      items.erase(std::unique(items.begin(), items.end()), items.end());
      for (int32_t i : items) item_users[static_cast<size_t>(i)].push_back(static_cast<int32_t>(u));
    }
    // Top-k neighbours of every item i, best first; equal similarities keep the lower item id.
    std::vector<std::vector<Neighbour>> top(static_cast<size_t>(n + 1));
    const auto keep = static_cast<size_t>(std::min<int64_t>(k_, n));
    at::parallel_for(1, n + 1, 64, [&](int64_t lo, int64_t hi) {
      std::vector<int32_t> co(static_cast<size_t>(n + 1), 0);
      std::vector<int32_t> touched;
      std::vector<Neighbour> cand;
      for (int64_t i = lo; i < hi; ++i) {
        touched.clear();
        for (int32_t u : item_users[static_cast<size_t>(i)])
          for (int32_t j : user_items[static_cast<size_t>(u)])
            if (j != i && co[static_cast<size_t>(j)]++ == 0) touched.push_back(j);
        cand.clear();
        const auto users_of = [&](int64_t x) { return static_cast<double>(item_users[static_cast<size_t>(x)].size()); };
        for (int32_t j : touched) {
          const double c = co[static_cast<size_t>(j)];
          co[static_cast<size_t>(j)] = 0;
          const double s = cosine_ ? c / (std::sqrt(users_of(i) * users_of(j)) + shrink_) : c;
          cand.push_back({j, static_cast<float>(s)});
        }
        auto better = [](const Neighbour& a, const Neighbour& b) {
          return a.sim != b.sim ? a.sim > b.sim : a.item < b.item;
        };
        const size_t m = std::min(keep, cand.size());
        std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(m), cand.end(), better);
        top[static_cast<size_t>(i)].assign(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(m));
      }
    });
    // What a history item i adds to the scores: its own neighbours, or (RecBole) every item j that has i
    // among its neighbours.
    if (of_candidate_) {
      std::vector<std::vector<Neighbour>> inverse(static_cast<size_t>(n + 1));
      for (int64_t j = 1; j <= n; ++j)
        for (const Neighbour& nb : top[static_cast<size_t>(j)])
          inverse[static_cast<size_t>(nb.item)].push_back({static_cast<int32_t>(j), nb.sim});
      top = std::move(inverse);
    }
    offsets_.assign(static_cast<size_t>(n + 2), 0);
    for (size_t i = 0; i < top.size(); ++i) offsets_[i + 1] = offsets_[i] + top[i].size();
    links_.clear();
    links_.reserve(offsets_.back());
    for (auto& list : top) links_.insert(links_.end(), list.begin(), list.end());
    num_items_ = n;
    if (log_) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      log_->info("{} items, {} training users: kept {} neighbour pairs (k = {}, {}{}) in {:.2f}s", n,
                 task.train.size(), links_.size(), k_, cosine_ ? "cosine" : "co-occurrence",
                 of_candidate_ ? ", neighbours of the candidate" : "", secs);
    }
  }

  torch::Tensor score(const std::vector<const std::vector<int64_t>*>& histories) override {
    return baselines::score_rows(histories, num_items_, kWho, [&](const std::vector<int64_t>& h, float* row) {
      std::fill(row, row + num_items_ + 1, 0.0f);
      // Weight of each distinct history item: recency^(steps from the end) of its latest occurrence.
      std::vector<std::pair<int64_t, double>> items;
      double w = 1;
      for (auto it = h.rbegin(); it != h.rend(); ++it) {
        if (*it > 0) {
          items.emplace_back(*it, w);
          w *= recency_;
        }
      }
      // Keep the first (latest) occurrence of each item.
      std::stable_sort(items.begin(), items.end(), [](auto& a, auto& b) { return a.first < b.first; });
      items.erase(std::unique(items.begin(), items.end(), [](auto& a, auto& b) { return a.first == b.first; }),
                  items.end());
      for (auto& [i, weight] : items) {
        const auto lo = offsets_[static_cast<size_t>(i)], hi = offsets_[static_cast<size_t>(i) + 1];
        const auto fw = static_cast<float>(weight);
        for (size_t e = lo; e < hi; ++e) row[links_[e].item] += fw * links_[e].sim;
      }
    });
  }

 private:
  static constexpr const char* kWho = "baseline (itemknn)";
  bool cosine_;
  int64_t k_;
  double shrink_, recency_;
  bool of_candidate_;
  std::shared_ptr<spdlog::logger> log_;
  int64_t num_items_ = 0;
  std::vector<size_t> offsets_;   // CSR over history items: links_[offsets_[i] .. offsets_[i + 1])
  std::vector<Neighbour> links_;  // (candidate item, similarity)
};

}  // namespace

XREC_PLUGIN("itemknn", "1.0.0", "Item-based k-nearest neighbours over training co-occurrence") {
  using namespace xrec::param;
  registrar.add_baseline(
      "itemknn",
      "Item-based KNN (Sarwar et al. 2001, as RecBole's ItemKNN): sim(i, j) from the binary user-item incidence "
      "of the training sequences, each item keeps its k most similar items, score(j) = sum over history items i "
      "of sim(i, j) over the kept pairs.",
      {
          string("similarity", "cosine",
                 "cosine: co(i, j) / (sqrt(n_i * n_j) + shrink); cooccurrence: co(i, j), the number of training "
                 "users with both items (shrink unused)")
              .one_of({"cosine", "cooccurrence"}),
          integer("neighbours", 100, "k: most similar items kept per item (equal similarities: lower id first)")
              .at_least(1),
          real("shrink", 0.0, "Added to the cosine denominator; damps similarities of rarely seen items")
              .at_least(0),
          string("neighbours_of", "history",
                 "history: item i of the history adds sim(i, j) to its own top-k neighbours j (Deshpande & "
                 "Karypis); candidate: item j sums sim(i, j) over the history items among j's top-k neighbours "
                 "(RecBole's ItemKNN)")
              .one_of({"history", "candidate"}),
          real("recency", 1.0,
               "Weight decay per step back in the history: the item t steps before the last one weighs "
               "recency^t (latest occurrence of a repeated item); 1 = every item weighs 1")
              .range(0, 1),
      },
      [](const xrec::Params& p, const xrec::PluginContext& ctx) { return std::make_shared<ItemKNN>(p, ctx); });
}
