// Transfer plugin: pre-train on the source domains together, then train on the target. What the target
// stage carries over, freezes or re-initialises is a policy (named presets of glob patterns over the model's
// parameter names; `stages.finetune.freeze` / `reinit` in the config override them). ANT's re-learning and
// the UniSRec-style adaptation are policies of this plugin, not plugins of their own.
#include <spdlog/spdlog.h>

#include <map>
#include <string>
#include <vector>

#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"
#include "xrec/api/transfer.hpp"

namespace {

using namespace xrec;

struct Policy {
  std::vector<std::string> freeze, reinit;
  const char* doc;
};

// Parameter names: the backbone's under `backbone.` (SASRec/BERT4Rec: positions, input_norm_*, layer<l>_*,
// final_norm_*), the item encoder's under `item_encoder.` (id tables items_<d>; ANT adapters.<m>.*).
const std::map<std::string, Policy>& policies() {
  static const std::map<std::string, Policy> all = {
      {"full", {{}, {}, "carry every pre-trained parameter over and tune all of them"}},
      {"relearn",
       {{"backbone.layer*", "backbone.input_norm_*", "backbone.final_norm_*"},
        {"backbone.positions", "item_encoder.adapters.*"},
        "ANT's re-learning: freeze the Transformer layers (and their norms), re-initialise the position "
        "embedding and every adapter and gate (biases and gates to zero), train those on the target"}},
      {"unisrec",
       {{"backbone.*"}, {}, "UniSRec-style: freeze the sequence encoder and positions, tune the item side"}},
      {"reinit_encoder",
       {{}, {"backbone.*"}, "carry the item side over, train the sequence encoder again from scratch"}},
  };
  return all;
}

class Finetune : public Transfer {
 public:
  explicit Finetune(const Params& p) : policy_(p.str("policy")), pretrain_valid_(p.str("pretrain_valid")) {}

  TransferResult run(TransferContext& ctx) override {
    const Task& target = ctx.target();
    const auto& sources = ctx.sources();
    if (sources.empty())
      throw InputError("transfer finetune: the config has no data.sources; it pre-trains on them (use transfer.type: "
                       "scratch for the target alone)");
    // Model domains: the sources in config order, then the target (each its own item table).
    std::vector<const Task*> domains;
    for (const Task& s : sources) domains.push_back(&s);
    domains.push_back(&target);
    const int64_t target_domain = static_cast<int64_t>(sources.size());
    auto model = ctx.make_model(domains);

    StageSpec pretrain;
    pretrain.name = "pretrain";
    for (size_t i = 0; i < sources.size(); ++i)
      pretrain.domains.push_back(StageDomain{static_cast<int64_t>(i), &sources[i], 1});
    if (pretrain_valid_ == "target") {
      pretrain.valid_domain = target_domain;
      pretrain.valid_task = &target;
    }  // else the first training domain: the first source
    ctx.run_stage(*model, pretrain);

    const Policy& policy = policies().at(policy_);
    StageSpec finetune;
    finetune.name = "finetune";
    finetune.domains = {StageDomain{target_domain, &target, 1}};
    // A policy names every part it may touch (pre-LN final norms, ANT adapters); the patterns this model has
    // no parameter for are dropped (the host refuses a pattern that matches nothing), but a policy whose
    // freeze list matches nothing at all does not fit this backbone.
    std::vector<std::string> names;
    for (const auto& p : model->named_parameters()) names.push_back(p.key());
    const std::vector<std::string> freeze = present(policy.freeze, names), reinit = present(policy.reinit, names);
    finetune.freeze = freeze;
    finetune.reinit = reinit;
    if (!policy.freeze.empty() && freeze.empty())
      throw InputError("transfer finetune: policy " + policy_ + " freezes " + join(policy.freeze) +
                       ", which matches no parameter of this model (e.g. " + names.front() +
                       "); give stages.finetune.freeze / reinit explicitly");
    ctx.plugin().log->info("finetune: policy {} (freeze [{}], reinit [{}]; stages.finetune.freeze/reinit override)",
                           policy_, join(freeze), join(reinit));
    ctx.run_stage(*model, finetune);

    TransferResult r;
    r.valid = ctx.evaluate(*model, target_domain, target, Split::Valid, "final");
    r.test = ctx.evaluate(*model, target_domain, target, Split::Test, "final");
    return r;
  }

 private:
  // Glob match (* any run, ? one character), as the host's freeze / reinit patterns.
  static bool glob(const char* p, const char* s) {
    if (*p == 0) return *s == 0;
    if (*p == '*') return glob(p + 1, s) || (*s && glob(p, s + 1));
    return *s && (*p == '?' || *p == *s) && glob(p + 1, s + 1);
  }
  static std::vector<std::string> present(const std::vector<std::string>& patterns,
                                          const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& pat : patterns)
      for (const auto& n : names)
        if (glob(pat.c_str(), n.c_str())) {
          out.push_back(pat);
          break;
        }
    return out;
  }
  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  }
  std::string policy_, pretrain_valid_;
};

std::vector<std::string> policy_names() {
  std::vector<std::string> out;
  for (const auto& [name, p] : policies()) out.push_back(name);
  return out;
}

std::string policy_doc() {
  std::string out = "What the target stage does with the pre-trained parameters:";
  for (const auto& [name, p] : policies()) out += " " + name + " = " + p.doc + ";";
  return out;
}

}  // namespace

XREC_PLUGIN("finetune", "1.0.0", "Pre-train on the sources together, then train on the target under a policy") {
  using namespace xrec;
  registrar.add_transfer(
      "finetune",
      "Stage `pretrain`: the source domains together (interleaved by stages.pretrain.mix), selected on the first "
      "source's validation (or the target's); stage `finetune`: the target, its item table fresh (disjoint "
      "items), with the policy's frozen and re-initialised parameters; evaluated on the target. Either stage "
      "can start from another run's (stages.<name>.init_from) or the stage cache (stages.<name>.cache).",
      {param::string("policy", "full", policy_doc()).one_of(policy_names()),
       param::string("pretrain_valid", "source",
                     "Validation of the pretrain stage: the first source's validation split (source) or the "
                     "target's (target: meaningful with transferable item encoders, e.g. text features)")
           .one_of({"source", "target"})},
      [](const Params& p, const PluginContext&) { return std::make_shared<Finetune>(p); });
}
