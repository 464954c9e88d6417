#include "xrec/engine/trainer.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>

#include "xrec/api/errors.hpp"
#include "xrec/engine/metrics.hpp"

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

// A copy of every parameter and buffer, to restore the best epoch.
std::vector<torch::Tensor> snapshot(torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (auto& p : m.parameters()) out.push_back(p.detach().clone());
  for (auto& b : m.buffers()) out.push_back(b.detach().clone());
  return out;
}

void restore(torch::nn::Module& m, const std::vector<torch::Tensor>& saved) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : m.parameters()) p.copy_(saved[i++]);
  for (auto& b : m.buffers()) b.copy_(saved[i++]);
}
}  // namespace

TrainResult train_model(SequenceModel& model, int64_t domain, const std::string& stage, TrainBatches& batches,
                        const TrainOptions& o, const TrainHooks& hooks) {
  torch::optim::Adam optimizer(model.parameters(), torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  TrainResult result;
  std::vector<torch::Tensor> best;
  int64_t evals_without_gain = 0;
  const auto start = Clock::now();

  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    model.train();
    batches.shuffle();
    // Summed where the loss lives: reading it back once per epoch, not per batch, keeps a GPU from waiting.
    torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(hooks.device));
    const int64_t n = batches.num_batches();
    for (int64_t b = 0; b < n; ++b) {
      if (hooks.check_interrupted) hooks.check_interrupted();
      Batch batch = to_device(batches.get(b), hooks.device);
      optimizer.zero_grad();
      auto loss = model.loss(domain, batch);
      loss.backward();
      if (o.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model.parameters(), o.grad_clip);
      optimizer.step();
      loss_sum += loss.detach();
    }
    const double train_loss = loss_sum.item<double>() / static_cast<double>(std::max<int64_t>(n, 1));
    if (!std::isfinite(train_loss))
      throw Error("[" + stage + "] epoch " + std::to_string(epoch + 1) + ": the training loss is " +
                  std::to_string(train_loss) + " (training diverged); lower train.lr or set train.grad_clip");
    const double train_seconds = seconds_since(epoch_start);
    hooks.record("train", "loss", epoch, train_loss);
    hooks.record("train", "seconds", epoch, train_seconds);
    result.epochs_run = epoch + 1;

    const bool last = epoch + 1 == o.epochs;
    if ((epoch + 1) % o.eval_every != 0 && !last) {
      hooks.log->info("[{}] epoch {}/{} loss {:.4f} ({:.1f}s)", stage, epoch + 1, o.epochs, train_loss, train_seconds);
      continue;
    }
    model.eval();
    MetricMap valid = hooks.validate(model);
    for (auto& [k, v] : valid) hooks.record("valid", k, epoch, v);
    const double score = metric_value(valid, o.select_metric);
    const bool better = result.best_epoch < 0 || score > result.best_score;
    if (better) {
      result.best_epoch = epoch;
      result.best_score = score;
      result.best_valid = valid;
      best = snapshot(model);
      evals_without_gain = 0;
    } else {
      ++evals_without_gain;
    }
    const double per_epoch = seconds_since(start) / static_cast<double>(epoch + 1);
    const int64_t left_max = o.epochs - epoch - 1;
    const int64_t left_patience = (o.patience - evals_without_gain) * o.eval_every;
    // The end is unknown under early stopping: give the bound and when patience would run out.
    hooks.log->info("[{}] epoch {}/{} loss {:.4f} valid {} {:.4f} (best {:.4f} @{}) {:.1f}s/epoch, ETA <= {}{}", stage,
                    epoch + 1, o.epochs, train_loss, o.select_metric, score, result.best_score, result.best_epoch + 1,
                    per_epoch, duration_text(per_epoch * static_cast<double>(left_max)),
                    left_patience < left_max
                        ? " (early stop in " + duration_text(per_epoch * static_cast<double>(left_patience)) +
                              " without a better epoch)"
                        : std::string());
    if (evals_without_gain >= o.patience) {
      hooks.log->info("[{}] early stop: no better valid {} in {} evaluations; best epoch {}", stage, o.select_metric,
                      o.patience, result.best_epoch + 1);
      break;
    }
  }
  if (!best.empty()) restore(model, best);
  model.eval();
  return result;
}

}  // namespace xrec::engine
