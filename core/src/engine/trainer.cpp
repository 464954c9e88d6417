#include "xrec/engine/trainer.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "xrec/api/errors.hpp"
#include "xrec/api/progress.hpp"
#include "xrec/distributed/data_parallel.hpp"
#include "xrec/distributed/group.hpp"
#include "xrec/engine/metrics.hpp"
#include "xrec/engine/sequence_model.hpp"

namespace xrec::engine {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string duration_text(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
  return buf;
}

Batch to_device(Batch b, const torch::Device& d) {
  if (d.is_cpu()) return b;
  b.inputs = b.inputs.to(d);
  b.targets = b.targets.to(d);
  if (b.negatives.defined()) b.negatives = b.negatives.to(d);
  return b;
}

}  // namespace

bool glob_match(const std::string& p, const std::string& n) {
  // Iterative wildcard match with backtracking to the last '*'.
  size_t i = 0, j = 0, star = std::string::npos, mark = 0;
  while (j < n.size()) {
    if (i < p.size() && (p[i] == '?' || p[i] == n[j])) {
      ++i;
      ++j;
    } else if (i < p.size() && p[i] == '*') {
      star = i++;
      mark = j;
    } else if (star != std::string::npos) {
      i = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (i < p.size() && p[i] == '*') ++i;
  return i == p.size();
}

namespace {
bool any_match(const std::vector<std::string>& patterns, const std::string& name) {
  for (auto& p : patterns)
    if (glob_match(p, name)) return true;
  return false;
}

void check_patterns(const torch::nn::Module& model, const std::vector<std::string>& patterns, const std::string& key,
                    const std::string& stage) {
  const auto named = model.named_parameters();
  for (auto& p : patterns) {
    bool hit = false;
    for (auto& item : named) hit = hit || glob_match(p, item.key());
    if (!hit) {
      std::string names;
      for (size_t i = 0; i < named.size() && i < 8; ++i) names += (i ? ", " : "") + named[i].key();
      throw InputError("stage '" + stage + "': " + key + " pattern '" + p +
                       "' matches no parameter of the model (names look like: " + names + ")");
    }
  }
}

template <class Options>
std::unique_ptr<torch::optim::OptimizerOptions> group_options(const Options& base, const ParamGroup& g) {
  auto o = std::make_unique<Options>(base);
  if (g.lr) o->lr(*g.lr);
  if (g.weight_decay) o->weight_decay(*g.weight_decay);
  return o;
}
}  // namespace

std::unique_ptr<torch::optim::Optimizer> prepare_stage(torch::nn::Module& model, const TrainOptions& o,
                                                       const std::string& stage) {
  check_patterns(model, o.freeze, "freeze", stage);
  check_patterns(model, o.reinit, "reinit", stage);
  std::vector<std::string> group_patterns;
  for (auto& g : o.groups) group_patterns.push_back(g.pattern);
  check_patterns(model, group_patterns, "groups", stage);

  // Parameters by group: index 0 = the stage's own options, g + 1 = o.groups[g] (first match wins).
  std::vector<std::vector<torch::Tensor>> grouped(o.groups.size() + 1);
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    torch::Tensor p = item.value();
    const std::string& name = item.key();
    if (any_match(o.reinit, name)) {
      if (p.dim() >= 2) torch::nn::init::xavier_normal_(p);
      else if (name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0) p.fill_(1);
      else p.zero_();
    }
    // A gradient left from an earlier stage would otherwise stay defined (and weight decay or momentum
    // would move the parameter): frozen parameters get none and never reach the optimizer.
    if (p.grad().defined()) p.mutable_grad().reset();
    const bool frozen = any_match(o.freeze, name);
    p.requires_grad_(!frozen);
    if (frozen) continue;
    size_t g = 0;
    for (size_t k = 0; k < o.groups.size(); ++k)
      if (glob_match(o.groups[k].pattern, name)) {
        g = k + 1;
        break;
      }
    grouped[g].push_back(p);
  }
  if (o.optimizer != "adam" && o.optimizer != "adamw" && o.optimizer != "sgd")
    throw InputError("stage '" + stage + "': optimizer '" + o.optimizer + "' is unknown (expected adam, adamw or sgd)");

  auto build = [&](const auto& base) {
    using Options = std::decay_t<decltype(base)>;
    std::vector<torch::optim::OptimizerParamGroup> groups;
    for (size_t g = 0; g < grouped.size(); ++g) {
      if (grouped[g].empty()) continue;
      if (g == 0) groups.emplace_back(grouped[g], std::make_unique<Options>(base));
      else groups.emplace_back(grouped[g], group_options(base, o.groups[g - 1]));
    }
    if (groups.empty()) throw InputError("stage '" + stage + "': every parameter is frozen; nothing to train");
    return groups;
  };
  if (o.optimizer == "sgd") {
    auto base = torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay);
    return std::make_unique<torch::optim::SGD>(build(base), base);
  }
  if (o.optimizer == "adamw") {
    auto base = torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay);
    return std::make_unique<torch::optim::AdamW>(build(base), base);
  }
  auto base = torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay);
  return std::make_unique<torch::optim::Adam>(build(base), base);
}

std::vector<size_t> interleave(const std::vector<int64_t>& batches, const std::vector<double>& weights,
                               const std::string& mix, std::mt19937_64& rng) {
  std::vector<size_t> order;
  int64_t total = 0;
  for (auto b : batches) total += b;
  if (batches.size() == 1) return std::vector<size_t>(static_cast<size_t>(total), 0);
  if (mix == "proportional") {
    for (size_t d = 0; d < batches.size(); ++d) order.insert(order.end(), static_cast<size_t>(batches[d]), d);
    std::shuffle(order.begin(), order.end(), rng);
  } else if (mix == "round_robin") {
    // In turn; a domain that has run out of batches drops out of the rotation.
    for (int64_t k = 0; static_cast<int64_t>(order.size()) < total; ++k)
      for (size_t d = 0; d < batches.size(); ++d)
        if (k < batches[d]) order.push_back(d);
  } else if (mix == "uniform" || mix == "weighted") {
    std::vector<double> w = mix == "uniform" ? std::vector<double>(batches.size(), 1.0) : weights;
    std::discrete_distribution<size_t> pick(w.begin(), w.end());
    for (int64_t k = 0; k < total; ++k) order.push_back(pick(rng));
  } else {
    throw InputError("mix '" + mix + "' is unknown (expected proportional, uniform, round_robin or weighted)");
  }
  return order;
}

TrainResult train_stage(SequenceModel& model, const std::string& stage, const std::vector<TrainDomain>& domains,
                        const TrainOptions& o, const TrainHooks& hooks) {
  if (domains.empty()) throw InputError("stage '" + stage + "' has no domain to train on");
  auto optimizer = prepare_stage(model, o, stage);
  std::vector<torch::Tensor> trainable;
  for (auto& p : model.parameters())
    if (p.requires_grad()) trainable.push_back(p);
  std::mt19937_64 mix_rng(o.mix_seed);
  TrainResult result;
  BestTracker best(o.select_metric, o.patience);
  const auto start = Clock::now();
  const int64_t max_epochs = o.steps > 0 ? std::numeric_limits<int64_t>::max() : o.epochs;
  const std::string of_total = o.steps > 0 ? std::to_string(o.steps) + " steps" : std::to_string(o.epochs);
  int64_t steps = 0;
  int64_t first_epoch = 0;
  StageProgress progress{0, 0, {}, &best, optimizer.get(), &mix_rng};
  if (hooks.resume) {
    hooks.resume(model, progress);
    first_epoch = progress.next_epoch;
    steps = progress.steps;
    result = progress.result;
  }
  auto epoch_done = [&](int64_t epoch) {
    if (!hooks.epoch_done) return;
    progress.next_epoch = epoch + 1;
    progress.steps = steps;
    progress.result = result;
    hooks.epoch_done(model, progress);
  };

  for (int64_t epoch = first_epoch; epoch < max_epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    model.train();
    std::vector<int64_t> counts;
    std::vector<double> weights;
    std::vector<int64_t> next(domains.size(), 0);
    for (auto& d : domains) {
      d.batches->shuffle();
      counts.push_back(d.batches->num_batches());
      weights.push_back(d.weight);
    }
    const std::vector<size_t> order = interleave(counts, weights, o.mix, mix_rng);
    // Summed where the loss lives: reading it back once per epoch, not per batch, keeps a GPU from waiting.
    torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(hooks.device));
    int64_t n = 0;
    Progress bar("[" + stage + "] epoch " + std::to_string(epoch + 1) + "/" + of_total, static_cast<int64_t>(order.size()), "batches");
    for (size_t d : order) {
      if (o.steps > 0 && steps >= o.steps) break;
      if (hooks.check_interrupted) hooks.check_interrupted();
      TrainBatches& b = *domains[d].batches;
      // uniform / weighted draws may visit a domain more often than it has batches: wrap (reshuffled).
      if (next[d] == b.num_batches()) {
        b.shuffle();
        next[d] = 0;
      }
      Batch batch = to_device(b.get(next[d]++), hooks.device);
      // Data parallel (ADR 0016): this rank's rows, its loss weighted by its share of the target positions,
      // gradients summed over the ranks, so every rank steps as one process on the whole batch would.
      const bool dp = distributed::active();
      if (dp) batch = distributed::shard_batch(batch);
      optimizer->zero_grad();
      auto loss = model.loss(domains[d].model_domain, batch);
      if (dp) loss = distributed::weight_loss(loss, batch);
      loss.backward();
      if (dp) distributed::allreduce_gradients(trainable);
      if (o.grad_clip > 0) torch::nn::utils::clip_grad_norm_(trainable, o.grad_clip);
      optimizer->step();
      loss_sum += loss.detach();
      if (bar.due()) bar.set("loss", loss.detach().item<double>());  // read back only when drawn
      bar.tick();
      ++n;
      ++steps;
    }
    if (distributed::active()) loss_sum = distributed::allreduce_sum(loss_sum).reshape({});  // the whole batch's
    bar.finish();
    const double train_loss = loss_sum.item<double>() / static_cast<double>(std::max<int64_t>(n, 1));
    if (!std::isfinite(train_loss))
      throw Error("[" + stage + "] epoch " + std::to_string(epoch + 1) + ": the training loss is " +
                  std::to_string(train_loss) + " (training diverged); lower train.lr or set train.grad_clip");
    const double train_seconds = seconds_since(epoch_start);
    hooks.record("train", "loss", epoch, train_loss);
    hooks.record("train", "seconds", epoch, train_seconds);
    if (auto* host = dynamic_cast<HostSequenceModel*>(&model))
      for (const auto& [key, value] : host->quantizer_stats()) hooks.record("train", "quantizer/" + key, epoch, value);
    if (distributed::active()) hooks.record("train", "allreduce_seconds", epoch, distributed::take_comm_seconds());
    result.epochs_run = epoch + 1;

    const bool last = o.steps > 0 ? steps >= o.steps : epoch + 1 == o.epochs;
    if ((epoch + 1) % o.eval_every != 0 && !last) {
      hooks.log->info("[{}] epoch {}/{} loss {:.4f} ({:.1f}s)", stage, epoch + 1, of_total, train_loss, train_seconds);
      epoch_done(epoch);
      continue;
    }
    model.eval();
    MetricMap valid = hooks.validate(model);
    for (auto& [k, v] : valid) hooks.record("valid", k, epoch, v);
    const double score = metric_value(valid, o.select_metric);
    if (best.update(score, epoch, &model)) {
      result.best_epoch = epoch;
      result.best_score = score;
      result.best_valid = valid;
    }
    const double per_epoch = seconds_since(start) / static_cast<double>(epoch + 1 - first_epoch);
    const int64_t left_max = o.steps > 0 ? 0 : o.epochs - epoch - 1;
    const int64_t left_patience = (o.patience - best.since_best()) * o.eval_every;
    // The end is unknown under early stopping: give the bound and when patience would run out.
    hooks.log->info("[{}] epoch {}/{} loss {:.4f} valid {} {:.4f} (best {:.4f} @{}) {:.1f}s/epoch, ETA <= {}{}", stage,
                    epoch + 1, of_total, train_loss, o.select_metric, score, result.best_score, result.best_epoch + 1,
                    per_epoch, duration_text(per_epoch * static_cast<double>(left_max)),
                    left_patience < left_max
                        ? " (early stop in " + duration_text(per_epoch * static_cast<double>(left_patience)) +
                              " without a better epoch)"
                        : std::string());
    epoch_done(epoch);
    if (best.should_stop()) {
      hooks.log->info("[{}] early stop: no better valid {} ({}) in {} evaluations; best epoch {}", stage,
                      o.select_metric, to_string(best.direction()), o.patience, result.best_epoch + 1);
      break;
    }
    if (last) break;
  }
  best.restore(model);
  model.eval();
  return result;
}

TrainResult train_model(SequenceModel& model, int64_t domain, const std::string& stage, TrainBatches& batches,
                        const TrainOptions& o, const TrainHooks& hooks) {
  return train_stage(model, stage, {TrainDomain{domain, &batches, 1}}, o, hooks);
}

}  // namespace xrec::engine
