#include "xrec/engine/method.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "xrec/api/baseline.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/engine/evaluator.hpp"
#include "xrec/engine/run_context.hpp"

namespace xrec::engine {

namespace {

class StrategyMethod : public Method {
 public:
  StrategyMethod(std::shared_ptr<Transfer> strategy, std::string type)
      : strategy_(std::move(strategy)), type_(std::move(type)) {}
  TransferResult run(RunContext& context) override { return strategy_->run(context); }
  DataParallel data_parallel() const override { return strategy_->data_parallel(); }
  std::string describe() const override { return "transfer strategy '" + type_ + "'"; }

 private:
  std::shared_ptr<Transfer> strategy_;
  std::string type_;
};

// A baseline as a method: fit on the target, then rank valid and test with its scores, reported (metrics
// and case ranks) under the empty stage as before.
class BaselineMethod : public Method {
 public:
  BaselineMethod(std::shared_ptr<Baseline> baseline, std::string type)
      : baseline_(std::move(baseline)), type_(std::move(type)) {}
  DataParallel data_parallel() const override { return DataParallel::none; }
  std::string describe() const override { return "baseline '" + type_ + "'"; }
  TransferResult run(RunContext& context) override {
    const Task& target = context.target();
    baseline_->fit(target);
    ScoreFn score = [this](const torch::Tensor&, const std::vector<const EvalCase*>& cases) {
      std::vector<const std::vector<int64_t>*> h;
      for (auto* c : cases) h.push_back(&c->history);
      return baseline_->score(h);
    };
    const EvalOptions opts = context.eval_options(1 << 20);  // a baseline reads the whole history
    TransferResult r;
    r.valid = context.report(target.valid, rank_targets(target.valid, score, opts), "", "valid");
    r.test = context.report(target.test, rank_targets(target.test, score, opts), "", "test");
    return r;
  }

 private:
  std::shared_ptr<Baseline> baseline_;
  std::string type_;
};

}  // namespace

std::unique_ptr<Method> make_method(const Registry& registry, const ResolvedConfig& config, const PluginContext& ctx) {
  auto named = [&](const std::string& type) {
    PluginContext c = ctx;
    c.log = ctx.log->clone(type);
    return c;
  };
  if (const ComponentConfig* bc = config.component("baseline"))
    return std::make_unique<BaselineMethod>(
        registry.get(Kind::Baseline, bc->type).baseline(bc->params, named(bc->type)), bc->type);
  const ComponentConfig* tc = config.component("transfer");
  if (!tc) throw ConfigError("config needs `transfer:` with a `backbone:`, or a `baseline:`");
  return std::make_unique<StrategyMethod>(registry.get(Kind::Transfer, tc->type).transfer(tc->params, named(tc->type)),
                                          tc->type);
}

}  // namespace xrec::engine
