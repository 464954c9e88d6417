#include "xrec/engine/run_context.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <filesystem>

#include "xrec/api/errors.hpp"
#include "xrec/engine/cold_start.hpp"
#include "xrec/engine/item_encoders.hpp"
#include "xrec/engine/pointwise.hpp"
#include "xrec/engine/runtime.hpp"
#include "xrec/engine/sequence_model.hpp"
#include "xrec/engine/trainer.hpp"

namespace fs = std::filesystem;

namespace xrec::engine {

namespace {
TrainOptions train_options(const Params& t) {
  TrainOptions o;
  o.epochs = t.integer("epochs");
  o.lr = t.real("lr");
  o.weight_decay = t.real("weight_decay");
  o.grad_clip = t.real("grad_clip");
  o.patience = t.integer("patience");
  o.eval_every = t.integer("eval_every");
  o.select_metric = t.str("select_metric");
  return o;
}

}  // namespace

RunContext::RunContext(const Registry& registry, const ResolvedConfig& config, Store& store, int64_t run,
                       PluginContext plugin, torch::Device device, std::vector<Task> tasks)
    : registry_(registry),
      config_(config),
      store_(store),
      run_(run),
      plugin_(std::move(plugin)),
      device_(device),
      target_(std::move(tasks.front())),
      sources_(tasks.begin() + 1, tasks.end()),
      train_(config.section("train")),
      eval_(config.section("eval")) {}

const Task& RunContext::target() const { return target_; }

const std::vector<Task>& RunContext::sources() const { return sources_; }

const PluginContext& RunContext::plugin() const { return plugin_; }

std::shared_ptr<SequenceModel> RunContext::make_model(const std::vector<const Task*>& domains) {
  const ComponentConfig* bc = config_.component("backbone");
  if (!bc) throw InputError("this transfer strategy needs a model, but the config has no `backbone:` section");
  auto backbone = registry_.get(Kind::Backbone, bc->type).backbone(bc->params, component_context(bc->type));
  std::shared_ptr<Quantizer> quantizer;
  if (const ComponentConfig* qc = config_.component("quantizer"))
    quantizer = registry_.get(Kind::Quantizer, qc->type).quantizer(qc->params, component_context(qc->type));
  std::vector<ItemDomain> items;
  for (auto* t : domains) items.push_back({t->name, t->num_items(), t->data});
  // The `id` item encoder draws its tables with the backbone's init_std when the backbone has one.
  const double init_std = bc->params.has("init_std") ? bc->params.real("init_std") : 0.02;
  auto model = std::make_shared<HostSequenceModel>(items, std::make_shared<IdItemEncoder>(init_std), backbone,
                                                   quantizer, parse_loss(train_.str("loss")));
  model->set_length_groups(train_.flag("length_groups"));
  model->to(device_);
  max_len_ = backbone->max_len();
  return model;
}

TrainResult RunContext::train(SequenceModel& model, int64_t domain, const Task& task, const std::string& stage) {
  TrainHooks hooks;
  hooks.validate = [&](SequenceModel& m) { return score_cases(m, domain, task.valid); };
  hooks.record = [&](const std::string& split, const std::string& key, int64_t step, double v) {
    store_.log_metric(run_, stage, split, key, step, v);
  };
  hooks.check_interrupted = [] { engine::check_interrupted(); };
  hooks.log = plugin_.log;
  hooks.device = device_;
  TrainResult r = train_model(model, domain, stage, batches(task), train_options(train_), hooks);
  if (config_.section("").flag("save_checkpoint") && !plugin_.run_dir.empty()) save(model, stage);
  return r;
}

MetricMap RunContext::evaluate(SequenceModel& model, int64_t domain, const Task& task, Split split,
                               const std::string& stage) {
  const auto& cases = split == Split::Valid ? task.valid : task.test;
  model.eval();
  return report(cases, rank_targets(cases, model_scores(model, domain), eval_options(model.backbone().max_len())),
                stage, to_string(split));
}

MetricMap RunContext::report(const std::vector<EvalCase>& cases, const std::vector<Ranking>& ranks,
                             const std::string& stage, const std::string& split) {
  MetricMap m = ranking_metrics(ranks, eval_.int_list("ks"));
  for (auto& [k, v] : m) store_.log_metric(run_, stage, split, k, 0, v);
  if (eval_.flag("save_ranks")) {
    std::vector<CaseRank> rows(cases.size());
    for (size_t i = 0; i < cases.size(); ++i)
      rows[i] = {cases[i].user, cases[i].target, ranks[i].rank, ranks[i].candidates};
    store_.log_case_ranks(run_, stage, split, rows);
  }
  return m;
}

Batch RunContext::sample_batch(const Task& task, int64_t batch_size) {
  Batch b = batches(task).sample(batch_size);
  b.inputs = b.inputs.to(device_);
  b.targets = b.targets.to(device_);
  if (b.negatives.defined()) b.negatives = b.negatives.to(device_);
  return b;
}

void RunContext::log_metric(const std::string& stage, const std::string& split, const std::string& key, double value,
                            int64_t step) {
  store_.log_metric(run_, stage, split, key, step, value);
}

void RunContext::check_interrupted() const { engine::check_interrupted(); }

EvalOptions RunContext::eval_options(int64_t max_len) const { return eval_options_from(eval_, max_len); }

PluginContext RunContext::component_context(const std::string& name) const {
  PluginContext c = plugin_;
  c.log = plugin_.log->clone(name);
  return c;
}

ScoreFn RunContext::model_scores(SequenceModel& model, int64_t domain) {
  return [&model, domain, this](const torch::Tensor& inputs, const std::vector<const EvalCase*>&) {
    return model.score_next(domain, inputs.to(device_));
  };
}

MetricMap RunContext::score_cases(SequenceModel& model, int64_t domain, const std::vector<EvalCase>& cases) {
  model.eval();
  return evaluate_cases(cases, model_scores(model, domain), eval_options(model.backbone().max_len()));
}

TrainBatches& RunContext::batches(const Task& task) {
  if (max_len_ <= 0) throw Error("batches are shaped by the model: call make_model() before train() or sample_batch()");
  auto it = batchers_.find(&task);
  if (it == batchers_.end()) {
    BatchOptions o;
    o.max_len = max_len_;
    o.batch_size = train_.integer("batch_size");
    o.negatives = train_.str("loss") == "bce" ? train_.integer("negatives") : 0;
    const std::string samples = train_.str("samples");
    o.samples = samples == "prefix"   ? BatchOptions::Samples::Prefix
                : samples == "window" ? BatchOptions::Samples::Window
                                      : BatchOptions::Samples::Sequence;
    const uint64_t seed = plugin_.seed * 7919 + batchers_.size() + 1;
    it = batchers_.emplace(&task, std::make_unique<TrainBatches>(task, o, seed)).first;
  }
  return *it->second;
}

void RunContext::save(SequenceModel& model, const std::string& stage) {
  const auto path = (fs::path(plugin_.run_dir) / (stage + "-best.pt")).string();
  torch::serialize::OutputArchive archive;
  model.save(archive);
  archive.save_to(path);
  store_.add_artifact(run_, "checkpoint", path, static_cast<int64_t>(fs::file_size(path)));
}

// ---- user cold start -------------------------------------------------------------------------------------

const ColdStartTask& RunContext::cold_start_task() {
  if (!cold_start_) {
    if (!target_.data) throw Error("cold_start_task: the target task has no data");
    const Params& c = config_.section("cold_start");
    ColdStartOptions o;
    o.order = c.str("order");
    o.cold_fraction = c.real("cold_fraction");
    o.support = c.integer("support");
    o.min_query = c.integer("min_query");
    o.negatives = c.integer("negatives");
    o.seed = plugin_.seed * 7919 + 104729;  // its own stream: the split does not move the batches' draws
    cold_start_ = std::make_unique<ColdStartTask>(cold_start_split(*target_.data, o));
  }
  return *cold_start_;
}

PointwiseFields RunContext::pointwise_fields() const {
  if (!target_.data) throw Error("pointwise_fields: the target task has no data");
  return engine::pointwise_fields(*target_.data);
}

PointwiseBatch RunContext::pointwise_batch(const std::vector<const UserTask*>& users, UserPart part) {
  if (!target_.data) throw Error("pointwise_batch: the target task has no data");
  return to_device(engine::pointwise_batch(*target_.data, pointwise_rows(users, part)), device_);
}

MetricMap RunContext::evaluate_pointwise(PointwiseModel& model, const std::vector<UserTask>& users, UserPart part,
                                         const std::string& stage, const std::string& split, const FastWeights& w) {
  if (!target_.data) throw Error("evaluate_pointwise: the target task has no data");
  MetricMap m = engine::evaluate_pointwise(model, *target_.data, users, part, w, eval_.integer("batch_size"), device_);
  for (auto& [k, v] : m) store_.log_metric(run_, stage, split, k, 0, v);
  return m;
}

}  // namespace xrec::engine
