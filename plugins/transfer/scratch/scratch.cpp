// Transfer plugin: no transfer. Trains a fresh model on the target domain alone; the reference every
// transfer method is compared with (and the baseline that "negative transfer" is measured against).
#include <spdlog/spdlog.h>

#include "xrec/api/plugin.hpp"
#include "xrec/api/transfer.hpp"

namespace {

using namespace xrec;

class Scratch : public Transfer {
 public:
  TransferResult run(TransferContext& ctx) override {
    const Task& target = ctx.target();
    if (!ctx.sources().empty())
      ctx.plugin().log->warn("scratch ignores the {} source domain(s): it trains on the target alone",
                             ctx.sources().size());
    auto model = ctx.make_model({&target});
    // One stage named "train" (config: `train:`, overridden by `stages.train:`), on the target alone,
    // validated on the target's validation split.
    StageSpec stage;
    stage.name = "train";
    stage.domains = {StageDomain{0, &target, 1}};
    ctx.run_stage(*model, stage);
    TransferResult r;
    r.valid = ctx.evaluate(*model, 0, target, Split::Valid, "final");
    r.test = ctx.evaluate(*model, 0, target, Split::Test, "final");
    return r;
  }
};

}  // namespace

XREC_PLUGIN("scratch", "1.0.0", "No transfer: train on the target domain alone") {
  registrar.add_transfer("scratch",
                         "Trains a fresh model on the target's training data with early stopping on its validation "
                         "split, then evaluates the best epoch on validation and test. Source domains are ignored.",
                         {}, [](const xrec::Params&, const xrec::PluginContext&) { return std::make_shared<Scratch>(); });
}
