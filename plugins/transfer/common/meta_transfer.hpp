#pragma once
// The meta-transfer loop shared by the `maml` and `metarec` plugins: one model over the target (domain 0) and
// every source (domain k + 1, each its own item table; the quantizer and backbone shared), meta-iterations
// with the target as the query, validation on the target every `eval_every` iterations with a BestTracker,
// the best weights kept, then a fine-tuning stage on the target ("finetune": `train:` + `stages.finetune`).
// maml = uniform weights (the sources' meta gradients averaged); metarec = similarity-rescaled weights.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "meta_learning.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/params.hpp"
#include "xrec/api/stage.hpp"
#include "xrec/api/transfer.hpp"

namespace xrec::meta {

// Parameters both plugins take (maml adds nothing; metarec adds weights, tau, sign).
inline ParamSpecs common_params(int64_t default_iterations) {
  return {
      param::integer("iterations", default_iterations, "Meta-iterations (each: every chosen source adapted once)")
          .at_least(1),
      param::integer("inner_steps", 3, "Inner SGD steps on a source's support batches per meta-iteration")
          .range(1, 100),
      param::real("inner_lr", 0.01, "Learning rate of the inner SGD steps (initial value when learned_lr)")
          .range(0, 100)
          .above(0),
      param::boolean("first_order", false,
                     "First-order meta gradient (inner gradients as constants) instead of second order"),
      param::boolean("learned_lr", false, "Meta-learn one inner learning rate per parameter tensor and inner step"),
      param::real("lr_lr", 1e-3, "AdamW learning rate of the learned inner learning rates").at_least(0),
      param::integer("sources_per_iteration", 0, "Sources drawn (without replacement) per meta-iteration; 0 = all")
          .at_least(0),
      param::integer("batch_size", 64, "Sequences per support and per query batch").range(1, 1 << 20),
      param::real("lr", 1e-3, "AdamW learning rate of the outer (meta) update").at_least(0),
      param::real("weight_decay", 0.01, "AdamW weight decay of the outer update").at_least(0),
      param::real("grad_clip", 1.0, "Clip the combined meta gradient to this L2 norm; 0 = off").at_least(0),
      param::integer("eval_every", 10, "Validate on the target every N meta-iterations").at_least(1),
      param::integer("patience", 10, "Stop meta-training after this many validations without improvement")
          .at_least(1),
      param::string("select_metric", "ndcg@10", "Target validation metric that keeps the best meta weights"),
      param::boolean("finetune", true, "Fine-tune on the target after meta-training (stage `finetune`)"),
  };
}

inline MetaOptions options_from(const Params& p, bool rescaled) {
  MetaOptions o;
  o.inner_steps = p.integer("inner_steps");
  o.inner_lr = p.real("inner_lr");
  o.first_order = p.flag("first_order");
  o.learned_lr = p.flag("learned_lr");
  o.lr_lr = p.real("lr_lr");
  o.lr = p.real("lr");
  o.weight_decay = p.real("weight_decay");
  o.grad_clip = p.real("grad_clip");
  o.weighting = Weighting::Uniform;
  if (rescaled) {
    o.weighting = p.str("weights") == "uniform" ? Weighting::Uniform : Weighting::Softmax;
    o.tau = p.real("tau");
    o.sign = p.str("sign") == "phi_minus_theta" ? Sign::PhiMinusTheta : Sign::ThetaMinusPhi;
  }
  return o;
}

class MetaTransfer : public Transfer {
 public:
  MetaTransfer(const Params& p, bool rescaled) : p_(p), o_(options_from(p, rescaled)), rescaled_(rescaled) {}
  // Its meta loop draws its own support and query batches per source; not sharded over ranks (yet).
  DataParallel data_parallel() const override { return DataParallel::none; }

  TransferResult run(TransferContext& ctx) override {
    const Task& target = ctx.target();
    const auto& sources = ctx.sources();
    const std::string who = rescaled_ ? "metarec" : "maml";
    if (sources.empty())
      throw InputError(who + " needs at least one source domain (data.sources is empty): it transfers from "
                             "the sources to the target");
    std::vector<const Task*> domains{&target};
    for (auto& s : sources) domains.push_back(&s);
    auto model = ctx.make_model(domains);

    const int64_t iterations = p_.integer("iterations"), eval_every = p_.integer("eval_every");
    const int64_t bs = p_.integer("batch_size");
    int64_t per_iter = p_.integer("sources_per_iteration");
    if (per_iter == 0 || per_iter > static_cast<int64_t>(sources.size())) per_iter = static_cast<int64_t>(sources.size());

    MetaLearner learner(*model, o_);
    BestTracker best(p_.str("select_metric"), p_.integer("patience"));
    auto validate = [&](int64_t it) {
      MetricMap m = ctx.validate(*model, 0, target);
      auto v = m.find(best.metric());
      if (v == m.end())
        throw InputError(who + ".select_metric '" + best.metric() +
                         "' is not a validation metric of this run (check eval.ks and eval.protocol)");
      for (auto& [k, x] : m) ctx.log_metric("meta", "valid", k, x, it);
      best.update(v->second, it, model.get());
    };
    validate(0);  // the initial weights compete too: meta-training that only hurts keeps them
    int64_t it = 0;
    for (it = 1; it <= iterations && !best.should_stop(); ++it) {
      ctx.check_interrupted();
      model->train();
      std::vector<int64_t> chosen(sources.size());
      for (size_t k = 0; k < chosen.size(); ++k) chosen[k] = static_cast<int64_t>(k);
      if (per_iter < static_cast<int64_t>(sources.size())) {
        auto perm = torch::randperm(static_cast<int64_t>(sources.size()), torch::kLong);
        chosen.assign(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + per_iter);
        std::sort(chosen.begin(), chosen.end());
      }
      std::vector<SourceTask> tasks;
      for (int64_t k : chosen) {
        SourceTask t;
        t.domain = k + 1;
        for (int64_t s = 0; s < o_.inner_steps; ++s) t.support.push_back(ctx.sample_batch(sources[k], bs));
        tasks.push_back(std::move(t));
      }
      const Batch query = ctx.sample_batch(target, bs);  // one target batch: the sources compete on the same query
      StepResult r = learner.step(tasks, 0, query);
      double qloss = 0;
      for (size_t j = 0; j < chosen.size(); ++j) {
        const std::string& name = sources[chosen[j]].name;
        ctx.log_metric("meta", "train", "weight/" + name, r.tasks[j].weight, it);
        ctx.log_metric("meta", "train", "similarity/" + name, r.tasks[j].similarity, it);
        ctx.log_metric("meta", "train", "support_loss/" + name, r.tasks[j].support_loss, it);
        qloss += r.tasks[j].query_loss * r.tasks[j].weight;
      }
      if (!std::isfinite(qloss) || !std::isfinite(r.grad_norm))
        throw Error(who + ": the meta loss became " + std::to_string(qloss) + " at iteration " + std::to_string(it) +
                    " (lower lr or inner_lr)");
      ctx.log_metric("meta", "train", "query_loss", qloss, it);
      ctx.log_metric("meta", "train", "grad_norm", r.grad_norm, it);
      if (it % eval_every == 0 || it == iterations) validate(it);
    }
    best.restore(*model);
    ctx.plugin().log->info("{}: {} meta-iterations, best {} {:.4f} at iteration {}", who, it - 1, best.metric(),
                           best.best(), best.best_step());
    ctx.log_metric("meta", "valid", "best_iteration", static_cast<double>(best.best_step()), 0);
    ctx.save_checkpoint(*model, "meta");
    if (p_.flag("finetune")) ctx.train(*model, 0, target, "finetune");
    TransferResult res;
    res.valid = ctx.evaluate(*model, 0, target, Split::Valid, "final");
    res.test = ctx.evaluate(*model, 0, target, Split::Test, "final");
    return res;
  }

 private:
  Params p_;
  MetaOptions o_;
  bool rescaled_;
};

}  // namespace xrec::meta
