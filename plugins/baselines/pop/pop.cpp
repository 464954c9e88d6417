// Baseline plugin: most popular items. Every user gets the same scores, the training interaction
// counts of the items (or the number of training users who interacted with each item).
#include <torch/torch.h>

#include <algorithm>

#include "../common/baseline_common.hpp"
#include "xrec/api/baseline.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"

namespace {

using namespace xrec;

class Pop : public Baseline {
 public:
  Pop(const Params& p, const PluginContext& ctx) : by_users_(p.str("by") == "users"), log_(ctx.log) {
    baselines::check_choice(kWho, "by", p.str("by"), {"interactions", "users"});
  }

  void fit(const Task& task) override {
    num_items_ = baselines::checked_num_items(task, kWho);
    const auto count = baselines::item_counts(task, num_items_, by_users_);
    counts_.assign(count.begin(), count.end());  // exact in float up to 2^24 interactions per item
    if (log_) {
      const auto top = std::max_element(count.begin(), count.end()) - count.begin();
      log_->info("{} items; most popular item {} with {} {}", num_items_, top, count[static_cast<size_t>(top)],
                 by_users_ ? "users" : "interactions");
    }
  }

  torch::Tensor score(const std::vector<const std::vector<int64_t>*>& histories) override {
    return baselines::score_rows(histories, num_items_, kWho, [&](const std::vector<int64_t>&, float* row) {
      std::copy(counts_.begin(), counts_.end(), row);
    });
  }

 private:
  static constexpr const char* kWho = "baseline (pop)";
  bool by_users_;
  std::shared_ptr<spdlog::logger> log_;
  int64_t num_items_ = 0;
  std::vector<float> counts_;
};

}  // namespace

XREC_PLUGIN("pop", "1.0.0", "Most popular items: the same ranking for every user") {
  using namespace xrec::param;
  registrar.add_baseline(
      "pop",
      "Scores every item by its popularity in the training sequences, the same for every user (history items "
      "are masked by the evaluator).",
      {string("by", "interactions",
              "interactions: number of training interactions with the item; users: number of training users "
              "who interacted with it (repeats count once)")
           .one_of({"interactions", "users"})},
      [](const xrec::Params& p, const xrec::PluginContext& ctx) { return std::make_shared<Pop>(p, ctx); });
}
