#include "xrec/engine/run_context.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>

#include "xrec/api/errors.hpp"
#include "xrec/api/version.hpp"
#include "xrec/sha256.hpp"
#include "xrec/data/cold_start.hpp"
#include "xrec/distributed/data_parallel.hpp"
#include "xrec/distributed/group.hpp"
#include "xrec/engine/item_encoders.hpp"
#include "xrec/engine/pointwise.hpp"
#include "xrec/engine/runtime.hpp"
#include "xrec/engine/schema.hpp"
#include "xrec/engine/sequence_model.hpp"
#include "xrec/engine/stage_cache.hpp"
#include "xrec/engine/trainer.hpp"

namespace fs = std::filesystem;

namespace xrec::engine {

namespace {
// Who decides a stage option (docs/adr/0004-stages.md): the config's `stages.<name>.<key>` when written
// (even if equal to a default), else `train.<key>` when it differs from the schema default (a run-wide
// change such as `train.epochs=1`), else the strategy's value for the stage, else the schema default.
struct Resolver {
  const ResolvedConfig& resolved;
  std::string stage;
  Params config = resolved.stage(stage);
  Params defaults = Params::defaults(run_schema().sections.at("train"));
  template <class T, class Get>
  T pick(const std::string& key, const std::optional<T>& spec, Get get) const {
    if (!spec || resolved.stage_sets(stage, key) || !(config.at(key) == defaults.at(key))) return get(config, key);
    return *spec;
  }
};

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
      eval_(config.section("eval")) {
  // A testing aid for resume (tests/e2e): end the run as if Ctrl-C came right after the N-th epoch's checkpoint.
  if (const char* n = std::getenv("XREC_INTERRUPT_AFTER_EPOCHS"); n && *n) interrupt_after_ = std::atoll(n);
}

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
  for (auto* t : domains) items.push_back({t->name, t->num_items(), t->data, &t->train});
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
  Resolver r{config_, spec.name};
  const Params& config = r.config;
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
  // Scoring (dot or cosine with a temperature) is fixed when the model is made.
  for (const char* key : {"score", "temperature"})
    if (!(config.at(key) == train_.at(key)))
      throw InputError("stages." + spec.name + "." + key + " differs from train." + key +
                       ", but scoring is fixed when the model is made: set train." + key + " instead");
  return o;
}

namespace {
// Switches a host model's loss for one stage (stages.<name>.loss) and back when the stage ends.
class LossScope {
 public:
  LossScope(SequenceModel& model, const std::string& loss, const std::string& run_loss, const std::string& stage)
      : host_(dynamic_cast<HostSequenceModel*>(&model)) {
    if (loss == run_loss) {
      host_ = nullptr;
      return;
    }
    if (!host_)
      throw InputError("stage '" + stage + "' asks for loss " + loss + ", but this model was not made by make_model() "
                       "(only the host's models switch their loss per stage)");
    before_ = host_->loss_kind();
    host_->set_loss(parse_loss(loss));
  }
  ~LossScope() {
    if (host_) host_->set_loss(before_);
  }
  LossScope(const LossScope&) = delete;
  LossScope& operator=(const LossScope&) = delete;

 private:
  HostSequenceModel* host_;
  LossKind before_ = LossKind::CrossEntropy;
};

std::string real_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string list_text(const std::vector<std::string>& items) {
  std::string out;
  for (auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return "[" + out + "]";
}

// What a stage trains with after config and strategy are resolved, for its log line (the canonical YAML
// holds only what the config writes; a strategy's own stage values show here).
std::string options_text(const TrainOptions& o, const std::string& loss) {
  std::ostringstream t;
  t << (o.steps > 0 ? "steps " + std::to_string(o.steps) : "epochs " + std::to_string(o.epochs)) << ", "
    << o.optimizer << " lr " << o.lr << " weight_decay " << o.weight_decay << ", loss " << loss << ", patience "
    << o.patience << " on " << o.select_metric << ", mix " << o.mix << ", freeze " << list_text(o.freeze)
    << ", reinit " << list_text(o.reinit);
  for (auto& g : o.groups) {
    t << ", group " << g.pattern << " lr ";
    g.lr ? t << *g.lr : t << '-';
    t << " wd ";
    g.weight_decay ? t << *g.weight_decay : t << '-';
  }
  return t.str();
}

// The validation cases that select a stage's best epoch, as text for the cache key.
std::string cases_text(const std::vector<EvalCase>& cases) {
  std::string out = std::to_string(cases.size());
  for (auto& c : cases) out += ' ' + std::to_string(c.user) + ':' + std::to_string(c.target) + ':' +
                               std::to_string(c.history.size());
  return sha256_hex(out);
}
}  // namespace

TrainResult RunContext::run_stage(SequenceModel& model, const StageSpec& spec) {
  if (spec.domains.empty()) throw InputError("stage '" + spec.name + "' names no domain to train on");
  const TrainOptions o = stage_options(spec);
  const BatchOptions bo = stage_batch_options(spec);
  std::vector<TrainDomain> domains;
  for (auto& d : spec.domains) {
    if (!d.task) throw InputError("stage '" + spec.name + "': a training domain has no task");
    if (d.model_domain < 0 || d.model_domain >= model.num_domains())
      throw InputError("stage '" + spec.name + "': model domain " + std::to_string(d.model_domain) +
                       " does not exist (the model has " + std::to_string(model.num_domains()) + ")");
    domains.push_back({d.model_domain, &batches(*d.task, bo), d.weight});
  }
  if (auto reused = reuse(model, spec, bo)) return *reused;
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
  // The last epoch's state, kept (one file per stage, replaced every epoch) so an interrupted run resumes.
  const std::vector<std::string> batcher_keys = stage_batchers(spec, bo);
  const bool progress_on =
      stage_checkpoint_on(spec) && config_.section("").flag("save_checkpoint") && !plugin_.run_dir.empty();
  const std::string last = (fs::path(plugin_.run_dir) / (spec.name + "-last.pt")).string();
  if (progress_on) {
    hooks.epoch_done = [&](SequenceModel& m, StageProgress& p) {
      save_progress(last, m, p, batcher_states(batcher_keys));
      if (interrupt_after_ > 0 && ++epochs_done_ == interrupt_after_)
        throw Interrupted("XREC_INTERRUPT_AFTER_EPOCHS=" + std::to_string(interrupt_after_) + " reached");
    };
    if (resuming_)
      hooks.resume = [&](SequenceModel& m, StageProgress& p) {
        std::map<std::string, std::string> states;
        if (!load_progress(last, m, p, states, device_.str())) return;
        restore_batchers(states);
        store_.add_stage_input(run_, {spec.name, "resume", run_, spec.name, "", last, sha256_file(last)});
        plugin_.log->info("[{}] resumed after epoch {} from {}", spec.name, p.next_epoch, last);
      };
  }
  // The item encoder's auxiliary loss (e.g. ANT's cross-modal term), on or off for this stage only.
  const bool aux = Resolver{config_, spec.name}.pick(
      "aux_loss", spec.aux_loss, [](const Params& p, const std::string& k) { return p.flag(k); });
  auto* host = dynamic_cast<HostSequenceModel*>(&model);
  if (!host && !aux)
    throw InputError("stage '" + spec.name + "' turns aux_loss off, which only the host's sequence model supports");
  struct RestoreAux {
    HostSequenceModel* m;
    bool before;
    ~RestoreAux() {
      if (m) m->set_aux_loss(before);
    }
  } restore_aux{host, host ? host->aux_loss() : aux};
  if (host) host->set_aux_loss(aux);
  TrainResult r;
  {
    const std::string stage_loss_kind = stage_loss(spec);
    LossScope loss(model, stage_loss_kind, train_.str("loss"), spec.name);
    plugin_.log->info("[{}] trains with {}", spec.name, options_text(o, stage_loss_kind));
    r = train_stage(model, spec.name, domains, o, hooks);
  }
  keep(model, spec, r, bo);
  return r;
}

std::string RunContext::stage_loss(const StageSpec& spec) const {
  return Resolver{config_, spec.name}.pick(
      "loss", spec.loss, [](const Params& p, const std::string& k) { return p.str(k); });
}

BatchOptions RunContext::stage_batch_options(const StageSpec& spec) const {
  const Params stage = config_.stage(spec.name);
  BatchOptions o = batch_options(stage);
  o.negatives = stage_loss(spec) == "bce" ? stage.integer("negatives") : 0;  // a spec's loss decides too
  return o;
}

bool RunContext::stage_checkpoint_on(const StageSpec& spec) const {
  return Resolver{config_, spec.name}.pick(
      "checkpoint", spec.checkpoint, [](const Params& p, const std::string& k) { return p.flag(k); });
}

std::optional<TrainResult> RunContext::reuse_stage(torch::nn::Module& model, const StageSpec& spec,
                                                   const std::string& options) {
  return reuse(model, spec, batch_options(train_), options);
}

void RunContext::store_stage(torch::nn::Module& model, const StageSpec& spec, const TrainResult& result) {
  keep(model, spec, result, batch_options(train_));
}

std::vector<std::string> RunContext::stage_batchers(const StageSpec& spec, const BatchOptions& options) {
  std::vector<std::string> keys;
  if (max_len_ <= 0) return keys;  // no sequence model made: a custom loop that draws no sequence batches
  for (auto& d : spec.domains)
    if (d.task) {
      batches(*d.task, options);
      keys.push_back(batcher_key(*d.task, options));
    }
  return keys;
}

std::string RunContext::stage_cache_key(torch::nn::Module& model, const StageSpec& spec, const std::string& extra) {
  const BatchOptions bo = stage_batch_options(spec);
  const TrainOptions o = stage_options(spec);
  std::ostringstream k;
  // What determines a stage's output: the code, where it runs, the seed, the weights and random state at
  // its start, its resolved options, its data and its validation. Not the stage's name: one pre-training
  // serves strategies that call it differently.
  k << "xrec-stage-cache 1\nxrec " << XREC_VERSION_STRING << "\ntorch " << XREC_TORCH_VERSION << "\ndevice "
    << device_.str() << "\nseed " << plugin_.seed << "\nstate " << state_hash(model) << "\ntorch_rng "
    << sha256_hex(torch_rng_state()) << "\n";
  k << "epochs " << o.epochs << "\nsteps " << o.steps << "\noptimizer " << o.optimizer << "\nlr " << real_text(o.lr)
    << "\nweight_decay " << real_text(o.weight_decay) << "\nmomentum " << real_text(o.momentum) << "\ngrad_clip "
    << real_text(o.grad_clip) << "\nmix " << o.mix << ' ' << o.mix_seed << "\npatience " << o.patience
    << "\neval_every " << o.eval_every << "\nselect_metric " << o.select_metric << "\n";
  for (auto& g : o.groups)
    k << "group " << g.pattern << ' ' << (g.lr ? real_text(*g.lr) : "-") << ' '
      << (g.weight_decay ? real_text(*g.weight_decay) : "-") << "\n";
  for (auto& f : o.freeze) k << "freeze " << f << "\n";
  for (auto& f : o.reinit) k << "reinit " << f << "\n";
  k << "loss " << stage_loss(spec) << "\nbatches " << bo.max_len << ' ' << bo.batch_size << ' ' << bo.negatives << ' '
    << static_cast<int>(bo.samples) << "\nlength_groups " << train_.flag("length_groups") << "\n";
  for (auto& [key, v] : config_.flat)
    if (key.rfind("eval.", 0) == 0 && key != "eval.save_ranks") k << key << '=' << v << "\n";
  for (auto& d : spec.domains) {
    if (!d.task) continue;
    k << "domain " << d.model_domain << ' ' << real_text(d.weight) << ' ' << sha256_hex(task_identity(*d.task)) << ' '
      << cases_text(d.task->valid);
    if (max_len_ > 0) k << ' ' << sha256_hex(batches(*d.task, bo).state());
    k << "\n";
  }
  const Task* valid = spec.valid_task ? spec.valid_task
                      : !spec.domains.empty() ? spec.domains.front().task
                                              : &target_;
  k << "valid " << spec.valid_domain.value_or(spec.domains.empty() ? 0 : spec.domains.front().model_domain) << ' '
    << sha256_hex(task_identity(*valid)) << ' ' << cases_text(valid->valid) << "\n";
  k << "options " << extra << "\n" << model_identity(spec);
  return sha256_hex(k.str());
}

std::string RunContext::model_identity(const StageSpec& spec) const {
  // The weights' names, shapes and values at the stage's start do not tell two models apart that differ
  // only in what draws no parameter: dropout, gate noise, heads, scoring, a feature option, a plugin rebuilt
  // with other code. So the key also holds the resolved config of the model's components and of the data
  // sections the stage reads, and each of those plugins' sha256. Not the strategy's section: one
  // pre-training serves fine-tuning strategies that differ only in what they do after it.
  std::set<std::string> sections{"backbone", "item_encoder", "quantizer"};
  auto add_task = [&](const Task* task) {
    if (task == &target_) sections.insert("data.target");
    for (size_t i = 0; i < sources_.size(); ++i)
      if (task == &sources_[i]) sections.insert("data.sources[" + std::to_string(i) + "]");
  };
  for (auto& d : spec.domains) add_task(d.task);
  add_task(spec.valid_task ? spec.valid_task : !spec.domains.empty() ? spec.domains.front().task : &target_);
  std::ostringstream k;
  for (auto& c : config_.components) {
    if (!sections.count(c.path)) continue;
    const Component* component = registry_.find(c.kind, c.type);
    std::string sha = "built-in";
    if (component && !component->plugin.empty()) {
      std::string name = component->plugin;
      for (size_t q = 0; (q = name.find('\'', q)) != std::string::npos; q += 2) name.insert(q, 1, '\'');
      const QueryResult r = store_.query("SELECT sha256 FROM plugins WHERE run_id = " + std::to_string(run_) +
                                         " AND name = '" + name + "'");
      sha = !r.rows.empty() && r.rows[0][0] ? *r.rows[0][0] : "unrecorded " + component->path;
    }
    k << "component " << c.path << ' ' << c.type << ' ' << sha << "\n";
  }
  for (auto& [key, v] : config_.flat) {
    // A data section's `cache` says where its data is kept, not what it is.
    const auto dot = key.rfind('.');
    if (dot == std::string::npos || key.compare(dot, std::string::npos, ".cache") == 0) continue;
    for (auto& section : sections)
      if (key.size() > section.size() && key.compare(0, section.size() + 1, section + ".") == 0) {
        k << key << '=' << v << "\n";
        break;
      }
  }
  k << "score " << train_.str("score") << ' ' << real_text(train_.real("temperature")) << "\n";
  return k.str();
}

std::optional<TrainResult> RunContext::reuse(torch::nn::Module& model, const StageSpec& spec,
                                             const BatchOptions& options, const std::string& extra) {
  const Params stage = config_.stage(spec.name);
  stage_batchers(spec, options);  // the streams a reused stage restores must exist
  // Resuming: a stage this run completed before the interruption is loaded with its result and streams.
  if (resuming_ && !plugin_.run_dir.empty())
    if (auto done = read_cache_entry(plugin_.run_dir, spec.name + "-best")) {
      load_module(model, done->path, device_.str(), "checkpoint " + done->path);
      model.eval();
      if (!done->torch_rng.empty()) set_torch_rng_state(done->torch_rng);
      restore_batchers(done->batches);
      plugin_.log->info("[{}] completed before the interruption: loaded {}", spec.name, done->path);
      return done->result;
    }
  auto validated = [&]() {
    TrainResult r;
    auto* seq = dynamic_cast<SequenceModel*>(&model);
    if (seq && (spec.valid_task || !spec.domains.empty())) {
      const Task& task = spec.valid_task ? *spec.valid_task : *spec.domains.front().task;
      r.best_valid =
          validate(*seq, spec.valid_domain.value_or(spec.domains.empty() ? 0 : spec.domains.front().model_domain), task);
      const std::string metric = stage_options(spec).select_metric;
      if (r.best_valid.count(metric)) r.best_score = r.best_valid.at(metric);
    }
    return r;
  };
  if (const std::string init = stage.str("init_from"); !init.empty()) {
    const std::string key = init_from_key(config_, spec.name);
    const InitFrom from = parse_init_from(init, key);
    const CheckpointRecord rec = find_init_checkpoint(store_, from, key);
    load_module(model, rec.path, device_.str(), key + ": checkpoint " + rec.path);
    model.eval();
    store_.add_stage_input(run_, {spec.name, "init_from", from.run, from.stage, "", rec.path, rec.sha256});
    plugin_.log->info("[{}] not trained: starts from {} ({})", spec.name, init, rec.path);
    TrainResult r = validated();
    if (stage_checkpoint_on(spec))
      write_checkpoint(model, spec.name, &r, batcher_states(stage_batchers(spec, options)));
    return r;
  }
  if (!stage.flag("cache")) return std::nullopt;
  const std::string key = stage_cache_key(model, spec, extra);
  const auto dir = stage_cache_dir(store_.path());
  if (auto entry = read_cache_entry(dir, key)) {
    load_module(model, entry->path, device_.str(), "stage cache entry " + entry->path);
    model.eval();
    // The random state the stage left behind, so what follows runs as it would after training.
    if (!entry->torch_rng.empty()) set_torch_rng_state(entry->torch_rng);
    restore_batchers(entry->batches);
    store_.add_stage_input(run_, {spec.name, "cache", std::nullopt, "", key, entry->path, entry->sha256});
    plugin_.log->info("[{}] not trained: stage cache hit {} (best epoch {} of {})", spec.name, key.substr(0, 12),
                      entry->result.best_epoch + 1, entry->result.epochs_run);
    if (stage_checkpoint_on(spec)) write_checkpoint(model, spec.name, &entry->result, entry->batches);
    return entry->result;
  }
  plugin_.log->info("[{}] stage cache miss {}: training", spec.name, key.substr(0, 12));
  pending_cache_[spec.name] = key;
  return std::nullopt;
}

void RunContext::keep(torch::nn::Module& model, const StageSpec& spec, const TrainResult& result,
                      const BatchOptions& options) {
  const std::vector<std::string> keys = stage_batchers(spec, options);
  if (stage_checkpoint_on(spec)) write_checkpoint(model, spec.name, &result, batcher_states(keys));
  if (!plugin_.run_dir.empty()) {
    std::error_code ec;
    fs::remove(fs::path(plugin_.run_dir) / (spec.name + "-last.pt"), ec);  // the stage is complete
  }
  auto it = pending_cache_.find(spec.name);
  if (it == pending_cache_.end()) {
    if (config_.stage(spec.name).flag("cache"))
      throw Error("store_stage('" + spec.name + "'): call reuse_stage() at the stage's start first (the cache key is "
                  "the weights the stage started from)");
    return;
  }
  const std::string key = it->second;
  pending_cache_.erase(it);
  const CacheEntry e =
      write_cache_entry(stage_cache_dir(store_.path()), key, model, result, torch_rng_state(), batcher_states(keys));
  store_.add_stage_input(run_, {spec.name, "cache_store", std::nullopt, "", key, e.path, e.sha256});
  plugin_.log->info("[{}] stored in the stage cache as {}", spec.name, key.substr(0, 12));
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

namespace {
// A strategy that draws its own batches runs its own loop, which the engine's data parallelism (ADR 0016) does
// not split or all-reduce: refused rather than trained N times over, unless it declared DataParallel::own.
void refuse_custom_loop(DataParallel mode, const char* what) {
  if (distributed::active() && mode != DataParallel::own)
    throw InputError(std::string("data parallel (--nproc / srun / distributed:) needs the engine's training loop, but "
                                 "this transfer strategy runs its own (it called ") +
                     what + ") and does not declare DataParallel::own; run it in one process");
}
}  // namespace

int RunContext::rank() const { return distributed::active() ? distributed::rank() : 0; }
int RunContext::world_size() const { return distributed::world_size(); }
void RunContext::allreduce_gradients(const std::vector<torch::Tensor>& params) {
  if (distributed::active()) distributed::allreduce_gradients(params);
}

Batch RunContext::sample_batch(const Task& task, int64_t batch_size) {
  refuse_custom_loop(data_parallel_, "sample_batch");
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

BatchOptions RunContext::batch_options(const Params& stage) const {
  BatchOptions o;
  o.max_len = max_len_;
  o.batch_size = stage.integer("batch_size");
  o.negatives = stage.str("loss") == "bce" ? stage.integer("negatives") : 0;
  const std::string samples = stage.str("samples");
  o.samples = samples == "prefix"   ? BatchOptions::Samples::Prefix
              : samples == "window" ? BatchOptions::Samples::Window
                                    : BatchOptions::Samples::Sequence;
  return o;
}

std::string RunContext::batcher_key(const Task& task, const BatchOptions& o) const {
  const bool owned = &task == &target_ || (!sources_.empty() && &task >= &sources_.front() && &task <= &sources_.back());
  // Owned tasks are fixed for the run: their role and name identify them without hashing their data.
  std::string key = owned ? task.role + '\0' + task.name : task_identity(task);
  const BatchOptions run = batch_options(train_);
  // A stage's own batch options get their own batcher; the run's keep the key they always had.
  if (o.batch_size != run.batch_size || o.negatives != run.negatives || o.samples != run.samples)
    key += std::string(1, '\0') + "#" + std::to_string(o.batch_size) + '/' + std::to_string(o.negatives) + '/' +
           std::to_string(static_cast<int>(o.samples));
  return key;
}

TrainBatches& RunContext::batches(const Task& task) { return batches(task, batch_options(train_)); }

TrainBatches& RunContext::batches(const Task& task, const BatchOptions& o) {
  if (max_len_ <= 0) throw Error("batches are shaped by the model: call make_model() before train() or sample_batch()");
  const bool owned = &task == &target_ || (!sources_.empty() && &task >= &sources_.front() && &task <= &sources_.back());
  const std::string key = batcher_key(task, o);
  auto it = batchers_.find(key);
  if (it == batchers_.end()) {
    Batcher b;
    if (!owned) b.copy = std::make_unique<Task>(task);
    b.batches = std::make_unique<TrainBatches>(owned ? task : *b.copy, o, batch_seed(plugin_.seed, task));
    it = batchers_.emplace(key, std::move(b)).first;
  }
  return *it->second.batches;
}

std::string RunContext::save_checkpoint(SequenceModel& model, const std::string& stage) {
  return write_checkpoint(model, stage);
}

std::map<std::string, std::string> RunContext::batcher_states(const std::vector<std::string>& keys) const {
  std::map<std::string, std::string> states;
  for (auto& k : keys) states[k] = batchers_.at(k).batches->state();
  return states;
}

void RunContext::restore_batchers(const std::map<std::string, std::string>& states) {
  for (auto& [key, state] : states)
    if (auto it = batchers_.find(key); it != batchers_.end()) it->second.batches->set_state(state);
}

std::string RunContext::write_checkpoint(torch::nn::Module& model, const std::string& stage, const TrainResult* result,
                                         const std::map<std::string, std::string>& states) {
  if (!config_.section("").flag("save_checkpoint") || plugin_.run_dir.empty()) return "";
  const auto path = (fs::path(plugin_.run_dir) / (stage + "-best.pt")).string();
  // With the stage's result and the random streams it left (<stage>-best.meta), a resumed run can load a
  // completed stage and continue exactly where the interrupted process was.
  if (result) write_cache_entry(plugin_.run_dir, stage + "-best", model, *result, torch_rng_state(), states);
  else save_module(model, path);
  // The checksum lets init_from refuse a file changed after it was written.
  store_.add_artifact(run_, "checkpoint", path, static_cast<int64_t>(fs::file_size(path)), sha256_file(path));
  return path;
}

void RunContext::load_checkpoint(SequenceModel& model, const std::string& path) {
  load_module(model, path, device_.str(), "checkpoint " + path);
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
  refuse_custom_loop(data_parallel_, "pointwise_batch");
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
