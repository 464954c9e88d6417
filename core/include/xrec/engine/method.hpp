#pragma once
// The method of a run behind one interface: a transfer strategy (a plugin driving the host's model) or a
// baseline (a plugin that fits the target's training data and scores histories), adapted so that the run
// does not care which. Both report valid/test through RunContext, so their metrics, case ranks and final
// rows are recorded the same way.
#include <memory>
#include <string>

#include "xrec/api/transfer.hpp"
#include "xrec/config.hpp"
#include "xrec/registry.hpp"

namespace xrec::engine {

class RunContext;

class Method {
 public:
  virtual ~Method() = default;
  // Trains (or fits) and evaluates; returns the valid and test metrics of the selected model.
  virtual TransferResult run(RunContext& context) = 0;
  // Under data parallelism: a strategy's own declaration; a baseline (no training loop to split) none.
  virtual DataParallel data_parallel() const = 0;
  // The type, for messages ("transfer 'maml'", "baseline 'pop'").
  virtual std::string describe() const = 0;
};

// The config's `transfer:` strategy or its `baseline:`, instantiated from its params with a logger named
// after its type (`ctx.log` cloned).
std::unique_ptr<Method> make_method(const Registry& registry, const ResolvedConfig& config, const PluginContext& ctx);

}  // namespace xrec::engine
