#include "xrec/engine/run_context.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <filesystem>
#include <optional>

#include "xrec/api/errors.hpp"
#include "xrec/data/cold_start.hpp"
#include "xrec/engine/item_encoders.hpp"
#include "xrec/engine/pointwise.hpp"
#include "xrec/engine/runtime.hpp"
#include "xrec/engine/schema.hpp"
#include "xrec/engine/sequence_model.hpp"
#include "xrec/engine/trainer.hpp"

namespace fs = std::filesystem;

namespace xrec::engine {

namespace {
// A config value wins over the spec's when it differs from the schema default (the config layer does not
// say whether a key was written, so a value equal to the default counts as unset: docs/adr/0004-stages.md).
struct Resolver {
  const Params& config;
  Params defaults;
  template <class T, class Get>
  T pick(const std::string& key, const std::optional<T>& spec, Get get) const {
    if (!spec || !(config.at(key) == defaults.at(key))) return get(config, key);
    return *spec;
  }
};

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

ParamGroup parse_group(const std::string& text, const std::string& stage) {
  const auto eq = text.rfind('=');
  auto bad = [&](const std::string& why) {
    return InputError("stages." + stage + ".groups: '" + text + "' " + why +
                      " (expected 'pattern=lr' or 'pattern=lr:weight_decay', e.g. 'items.*=1e-4')");
  };
  if (eq == std::string::npos || eq == 0) throw bad("has no pattern=");
  ParamGroup g;
  g.pattern = text.substr(0, eq);
  const std::string rest = text.substr(eq + 1);
  const auto colon = rest.find(':');
  try {
    size_t used = 0;
    const std::string lr = rest.substr(0, colon);
    g.lr = std::stod(lr, &used);
    if (used != lr.size() || *g.lr < 0) throw bad("has an invalid learning rate");
    if (colon != std::string::npos) {
      const std::string wd = rest.substr(colon + 1);
      g.weight_decay = std::stod(wd, &used);
      if (used != wd.size() || *g.weight_decay < 0) throw bad("has an invalid weight decay");
    }
  } catch (const std::logic_error&) {
    throw bad("has a value that is not a number");
  }
  return g;
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
  // No `item_encoder:` means the built-in `id` tables; they draw with the backbone's init_std when the backbone
  // has one and the encoder sets none.
  std::shared_ptr<ItemEncoder> encoder;
  const ComponentConfig* ec = config_.component("item_encoder");
  if (!ec || ec->type == "id") {
    double init_std = bc->params.has("init_std") ? bc->params.real("init_std") : 0.02;
    if (ec && ec->params.real("init_std") > 0) init_std = ec->params.real("init_std");
    encoder = std::make_shared<IdItemEncoder>(init_std);
  } else {
    encoder = registry_.get(Kind::ItemEncoder, ec->type).item_encoder(ec->params, component_context(ec->type));
  }
  // Transductive (item_encoder.with_ids): the id tables added to the encoder's vectors.
  std::shared_ptr<ItemEncoder> ids;
  if (ec && ec->params.has("with_ids") && ec->params.flag("with_ids")) {
    if (ec->type == "id")
      throw InputError("item_encoder.with_ids: true adds id tables to a feature encoder, but the encoder is `id` "
                       "(already the id tables); remove with_ids or choose another item_encoder.type");
    ids = std::make_shared<IdItemEncoder>(bc->params.has("init_std") ? bc->params.real("init_std") : 0.02);
  }
  auto model =
      std::make_shared<HostSequenceModel>(items, encoder, backbone, quantizer, parse_loss(train_.str("loss")), ids);
  model->set_scoring(train_.str("score") == "cosine" ? Scoring::Cosine : Scoring::Dot, train_.real("temperature"));
  model->set_length_groups(train_.flag("length_groups"));
  model->to(device_);
  max_len_ = backbone->max_len();
  return model;
}

TrainOptions RunContext::stage_options(const StageSpec& spec) const {
  const Params config = config_.stage(spec.name);
  Resolver r{config, Params::defaults(run_schema().sections.at("train"))};
  auto integer = [](const Params& p, const std::string& k) { return p.integer(k); };
  auto real = [](const Params& p, const std::string& k) { return p.real(k); };
  auto str = [](const Params& p, const std::string& k) { return p.str(k); };
  auto list = [](const Params& p, const std::string& k) { return p.str_list(k); };
  TrainOptions o;
  o.epochs = r.pick("epochs", spec.epochs, integer);
  o.steps = r.pick("steps", spec.steps, integer);
  o.optimizer = r.pick("optimizer", spec.optimizer, str);
  o.lr = r.pick("lr", spec.lr, real);
  o.weight_decay = r.pick("weight_decay", spec.weight_decay, real);
  o.momentum = r.pick("momentum", spec.momentum, real);
  o.grad_clip = r.pick("grad_clip", spec.grad_clip, real);
  o.freeze = r.pick("freeze", spec.freeze, list);
  o.reinit = r.pick("reinit", spec.reinit, list);
  o.mix = r.pick("mix", spec.mix, str);
  o.patience = r.pick("patience", spec.patience, integer);
  o.eval_every = r.pick("eval_every", spec.eval_every, integer);
  o.select_metric = r.pick("select_metric", spec.select_metric, str);
  // Config groups come first (first match wins), then the spec's.
  for (auto& text : config.str_list("groups")) o.groups.push_back(parse_group(text, spec.name));
  o.groups.insert(o.groups.end(), spec.groups.begin(), spec.groups.end());
  o.mix_seed = plugin_.seed * 7919 + 2;
  // ce and inbatch train on the same batches (no negatives), so a stage may switch between them; bce needs
  // negatives in the batches, which are shaped for the whole run.
  const std::string loss = r.pick("loss", spec.loss, str), made = train_.str("loss");
  if (loss != made && (loss == "bce" || made == "bce"))
    throw InputError("stage '" + spec.name + "' asks for loss " + loss + ", but the model was made with train.loss " +
                     made + " (bce is fixed when the model is made; a stage may switch between ce and inbatch)");
  for (const char* key : {"score", "temperature"})
    if (!(config.at(key) == train_.at(key)))
      throw InputError("stages." + spec.name + "." + key + " differs from train." + key +
                       ", but scoring is fixed when the model is made: set train." + key + " instead");
  return o;
}

TrainResult RunContext::run_stage(SequenceModel& model, const StageSpec& spec) {
  if (spec.domains.empty()) throw InputError("stage '" + spec.name + "' names no domain to train on");
  const TrainOptions o = stage_options(spec);
  std::vector<TrainDomain> domains;
  for (auto& d : spec.domains) {
    if (!d.task) throw InputError("stage '" + spec.name + "': a training domain has no task");
    if (d.model_domain < 0 || d.model_domain >= model.num_domains())
      throw InputError("stage '" + spec.name + "': model domain " + std::to_string(d.model_domain) +
                       " does not exist (the model has " + std::to_string(model.num_domains()) + ")");
    domains.push_back({d.model_domain, &batches(*d.task), d.weight});
  }
  const int64_t valid_domain = spec.valid_domain.value_or(spec.domains.front().model_domain);
  const Task& valid_task = spec.valid_task ? *spec.valid_task : *spec.domains.front().task;
  TrainHooks hooks;
  hooks.validate = [&](SequenceModel& m) { return score_cases(m, valid_domain, valid_task.valid, FastWeights()); };
  hooks.record = [&](const std::string& split, const std::string& key, int64_t step, double v) {
    store_.log_metric(run_, spec.name, split, key, step, v);
  };
  hooks.check_interrupted = [] { engine::check_interrupted(); };
  hooks.log = plugin_.log;
  hooks.device = device_;
  // The stage's loss and auxiliary loss, on the host's model for this stage only.
  const Resolver r_loss{config_.stage(spec.name), Params::defaults(run_schema().sections.at("train"))};
  const LossKind loss = parse_loss(r_loss.pick("loss", spec.loss, [](const Params& p, const std::string& k) {
    return p.str(k);
  }));
  const bool aux = r_loss.pick("aux_loss", spec.aux_loss, [](const Params& p, const std::string& k) { return p.flag(k); });
  auto* host = dynamic_cast<HostSequenceModel*>(&model);
  if (!host && (loss != parse_loss(train_.str("loss")) || !aux))
    throw InputError("stage '" + spec.name + "' sets loss or aux_loss, which only the host's sequence model supports");
  struct Restore {
    HostSequenceModel* m;
    LossKind loss;
    bool aux;
    ~Restore() {
      if (m) m->set_loss(loss), m->set_aux_loss(aux);
    }
  } restore{host, host ? host->loss_kind() : loss, host ? host->aux_loss() : aux};
  if (host) host->set_loss(loss), host->set_aux_loss(aux);
  TrainResult r = train_stage(model, spec.name, domains, o, hooks);
  const bool checkpoint = Resolver{config_.stage(spec.name), Params::defaults(run_schema().sections.at("train"))}.pick(
      "checkpoint", spec.checkpoint, [](const Params& p, const std::string& k) { return p.flag(k); });
  if (checkpoint) save_checkpoint(model, spec.name);
  return r;
}

TrainResult RunContext::train(SequenceModel& model, int64_t domain, const Task& task, const std::string& stage) {
  StageSpec spec;
  spec.name = stage;
  spec.domains = {StageDomain{domain, &task, 1}};
  return run_stage(model, spec);
}

MetricMap RunContext::evaluate(SequenceModel& model, int64_t domain, const Task& task, Split split,
                               const std::string& stage, const FastWeights& w) {
  const auto& cases = split == Split::Valid ? task.valid : task.test;
  model.eval();
  return report(cases, rank_targets(cases, model_scores(model, domain, w), eval_options(model.backbone().max_len())),
                stage, to_string(split));
}

MetricMap RunContext::validate(SequenceModel& model, int64_t domain, const Task& task, const FastWeights& w) {
  return score_cases(model, domain, task.valid, w);
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

ScoreFn RunContext::model_scores(SequenceModel& model, int64_t domain, const FastWeights& w) {
  return [&model, domain, &w, this](const torch::Tensor& inputs, const std::vector<const EvalCase*>&) {
    torch::NoGradGuard no_grad;  // scores only: no graph through the fast weights
    return model.score_next(domain, inputs.to(device_), w);
  };
}

MetricMap RunContext::score_cases(SequenceModel& model, int64_t domain, const std::vector<EvalCase>& cases,
                                  const FastWeights& w) {
  model.eval();
  return evaluate_cases(cases, model_scores(model, domain, w), eval_options(model.backbone().max_len()));
}

TrainBatches& RunContext::batches(const Task& task) {
  if (max_len_ <= 0) throw Error("batches are shaped by the model: call make_model() before train() or sample_batch()");
  const bool owned = &task == &target_ || (!sources_.empty() && &task >= &sources_.front() && &task <= &sources_.back());
  // Owned tasks are fixed for the run: their role and name identify them without hashing their data.
  const std::string key = owned ? task.role + '\0' + task.name : task_identity(task);
  auto it = batchers_.find(key);
  if (it == batchers_.end()) {
    BatchOptions o;
    o.max_len = max_len_;
    o.batch_size = train_.integer("batch_size");
    o.negatives = train_.str("loss") == "bce" ? train_.integer("negatives") : 0;
    const std::string samples = train_.str("samples");
    o.samples = samples == "prefix"   ? BatchOptions::Samples::Prefix
                : samples == "window" ? BatchOptions::Samples::Window
                                      : BatchOptions::Samples::Sequence;
    Batcher b;
    if (!owned) b.copy = std::make_unique<Task>(task);
    b.batches = std::make_unique<TrainBatches>(owned ? task : *b.copy, o, batch_seed(plugin_.seed, task));
    it = batchers_.emplace(key, std::move(b)).first;
  }
  return *it->second.batches;
}

std::string RunContext::save_checkpoint(SequenceModel& model, const std::string& stage) {
  if (!config_.section("").flag("save_checkpoint") || plugin_.run_dir.empty()) return "";
  const auto path = (fs::path(plugin_.run_dir) / (stage + "-best.pt")).string();
  torch::serialize::OutputArchive archive;
  model.save(archive);
  archive.save_to(path);
  store_.add_artifact(run_, "checkpoint", path, static_cast<int64_t>(fs::file_size(path)));
  return path;
}

void RunContext::load_checkpoint(SequenceModel& model, const std::string& path) {
  if (!fs::exists(path)) throw InputError("checkpoint " + path + " does not exist");
  // Module::load replaces tensors whatever their shape: compare against the model's own shapes.
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (auto& p : model.named_parameters()) shapes.emplace_back(p.key(), p.value().sizes().vec());
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, device_);
    model.load(archive);
  } catch (const c10::Error& e) {
    throw InputError("checkpoint " + path + " does not fit this model: " + e.what_without_backtrace());
  }
  const auto named = model.named_parameters();
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto now = named[shapes[i].first].sizes().vec();
    if (now != shapes[i].second)
      throw InputError("checkpoint " + path + ": parameter " + shapes[i].first + " has shape " + shape_text(now) +
                       ", the model expects " + shape_text(shapes[i].second));
  }
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

std::shared_ptr<PointwiseModel> RunContext::make_pointwise_model() {
  const ComponentConfig* pc = config_.component("pointwise_model");
  if (!pc)
    throw InputError("this transfer strategy needs a pointwise model, but the config has no `pointwise_model:` section");
  auto model = registry_.get(Kind::PointwiseModel, pc->type).pointwise_model(pc->params, component_context(pc->type));
  if (!model) throw Error("pointwise model '" + pc->type + "': its factory returned no model");
  model->bind(pointwise_fields());
  model->to(device_);
  return model;
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
