#pragma once
// Training stages: a strategy describes a stage (what it trains on, which parameters, how) and the host
// runs it (TransferContext::run_stage) with early stopping, best-weight restore, logging, checkpoints and
// interruption. Every option here is a default: the config's `train:` section merged with
// `stages.<name>:` overrides it (see docs/adr/0004-stages.md for the precedence).
// BestTracker is the same selection logic for custom loops (meta learning) that do not use run_stage.
#include <torch/nn/module.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "xrec/api/metrics.hpp"
#include "xrec/api/task.hpp"

namespace xrec {

// One domain a stage trains on: the model's domain index and the task whose training data feeds it.
struct StageDomain {
  int64_t model_domain = 0;
  const Task* task = nullptr;
  double weight = 1;  // share of batches under mix "weighted" (relative; ignored otherwise)
};

// Options for the parameters whose name (named_parameters(), e.g. "backbone.layers.0.attn.in_proj_weight")
// matches `pattern` (glob: * any run of characters, ? one character). The first matching group wins;
// unmatched parameters use the stage's lr and weight_decay.
struct ParamGroup {
  std::string pattern;
  std::optional<double> lr, weight_decay;
};

struct StageSpec {
  std::string name;                  // the stage in the store and config (`stages.<name>`)
  std::vector<StageDomain> domains;  // one domain, or several interleaved (joint training)
  // How batches of several domains interleave: proportional (to each domain's batch count: every sample
  // once per epoch), uniform (each domain equally often), round_robin (in turn), weighted (by weight).
  std::optional<std::string> mix;
  // ce | inbatch | bce. ce and inbatch (in-batch contrastive) need the same batches, so a stage may switch
  // between them; bce (sampled negatives) is fixed when the model is made.
  std::optional<std::string> loss;
  std::optional<bool> aux_loss;  // add the item encoder's auxiliary_loss (default: train.aux_loss, on)
  std::vector<ParamGroup> groups;                 // config: train.groups (pattern=lr[:weight_decay])
  std::optional<std::vector<std::string>> freeze;  // glob patterns: never given to the optimizer
  std::optional<std::vector<std::string>> reinit;  // glob patterns: re-initialised before training
  std::optional<int64_t> epochs;
  std::optional<int64_t> steps;             // > 0: a budget of optimizer steps instead of epochs
  std::optional<std::string> optimizer;     // adam | adamw | sgd
  std::optional<double> lr, weight_decay, momentum, grad_clip;
  std::optional<int64_t> patience, eval_every;
  // Validation: model domain and task (default: the first training domain), the metric that selects the
  // best epoch (its direction from metric_direction()).
  std::optional<int64_t> valid_domain;
  const Task* valid_task = nullptr;
  std::optional<std::string> select_metric;
  std::optional<bool> checkpoint;  // write <stage>-best.pt to the run folder
};

// Keeps the best value of one metric in its direction, a snapshot of the weights that reached it, and
// counts evaluations without improvement (patience). For custom loops; run_stage uses the same class.
class BestTracker {
 public:
  explicit BestTracker(std::string metric, int64_t patience = std::numeric_limits<int64_t>::max())
      : metric_(std::move(metric)), direction_(metric_direction(metric_)), patience_(patience) {}

  // Records the value at `step`; true when it is the best so far (then snapshots `model` if given).
  bool update(double value, int64_t step, torch::nn::Module* model = nullptr) {
    if (best_step_ >= 0 && !metric_better(direction_, value, best_)) {
      ++since_best_;
      return false;
    }
    best_ = value;
    best_step_ = step;
    since_best_ = 0;
    if (model) {
      saved_.clear();
      for (auto& p : model->parameters()) saved_.push_back(p.detach().clone());
      for (auto& b : model->buffers()) saved_.push_back(b.detach().clone());
    }
    return true;
  }
  // Copies the best snapshot back into `model` (a no-op when nothing was snapshotted).
  void restore(torch::nn::Module& model) const {
    if (saved_.empty()) return;
    torch::NoGradGuard no_grad;
    size_t i = 0;
    for (auto& p : model.parameters()) p.copy_(saved_.at(i++));
    for (auto& b : model.buffers()) b.copy_(saved_.at(i++));
  }
  bool should_stop() const { return since_best_ >= patience_; }
  bool has_best() const { return best_step_ >= 0; }
  double best() const { return best_; }
  int64_t best_step() const { return best_step_; }
  int64_t since_best() const { return since_best_; }
  const std::string& metric() const { return metric_; }
  MetricDirection direction() const { return direction_; }
  // The snapshot of the best weights (parameters, then buffers), and the whole state back: for resuming a
  // stage from its last epoch checkpoint (xrec run --resume).
  const std::vector<torch::Tensor>& snapshot() const { return saved_; }
  void set_state(double best, int64_t best_step, int64_t since_best, std::vector<torch::Tensor> snapshot) {
    best_ = best;
    best_step_ = best_step;
    since_best_ = since_best;
    saved_ = std::move(snapshot);
  }

 private:
  std::string metric_;
  MetricDirection direction_;
  int64_t patience_;
  double best_ = 0;
  int64_t best_step_ = -1;
  int64_t since_best_ = 0;
  std::vector<torch::Tensor> saved_;
};

}  // namespace xrec
