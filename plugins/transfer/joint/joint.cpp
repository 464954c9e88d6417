// Transfer plugin: sources and target trained together in one stage (per-domain item tables, one shared
// sequence encoder), selected on the target's validation split.
#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"
#include "xrec/api/transfer.hpp"

namespace {

using namespace xrec;

class Joint : public Transfer {
 public:
  explicit Joint(const Params& p) : target_weight_(p.real("target_weight")) {}

  TransferResult run(TransferContext& ctx) override {
    const Task& target = ctx.target();
    const auto& sources = ctx.sources();
    if (sources.empty())
      throw InputError("transfer joint: the config has no data.sources; it trains them with the target (use "
                       "transfer.type: scratch for the target alone)");
    std::vector<const Task*> domains;
    for (const Task& s : sources) domains.push_back(&s);
    domains.push_back(&target);
    const int64_t target_domain = static_cast<int64_t>(sources.size());
    auto model = ctx.make_model(domains);

    StageSpec joint;
    joint.name = "joint";
    for (size_t i = 0; i < sources.size(); ++i)
      joint.domains.push_back(StageDomain{static_cast<int64_t>(i), &sources[i], 1});
    joint.domains.push_back(StageDomain{target_domain, &target, target_weight_});
    joint.valid_domain = target_domain;
    joint.valid_task = &target;
    ctx.run_stage(*model, joint);

    TransferResult r;
    r.valid = ctx.evaluate(*model, target_domain, target, Split::Valid, "final");
    r.test = ctx.evaluate(*model, target_domain, target, Split::Test, "final");
    return r;
  }

 private:
  double target_weight_;
};

}  // namespace

XREC_PLUGIN("joint", "1.0.0", "Sources and target trained together, selected on the target") {
  using namespace xrec;
  registrar.add_transfer(
      "joint",
      "One stage `joint` over every source and the target (own item tables, shared encoder); batches of the "
      "domains interleave by stages.joint.mix (proportional: every sample once per epoch; uniform; round_robin; "
      "weighted: by each source's weight 1 and target_weight); early stopping and selection on the target's "
      "validation split; evaluated on the target.",
      {param::real("target_weight", 1.0, "The target's share of batches relative to each source's (mix: weighted "
                                         "only)")
           .above(0)},
      [](const Params& p, const PluginContext&) { return std::make_shared<Joint>(p); });
}
