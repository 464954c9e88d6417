#pragma once
// Shared meta-learning core of the `maml` and `metarec` transfer plugins (plugin-internal, header only: the
// host never names it). One meta-iteration: for each source task k, inner SGD steps on the source's support
// batches from theta to fast weights phi_k (second order: the inner gradients stay in the graph; first order:
// they are constants), the meta gradient g_k = d L_query(phi_k) / d theta on a target batch, the similarity
// s_k = mean over parameter tensors of cos(theta - phi_k, g_k) (sign a parameter), the weights
// w = softmax(s / tau) (or uniform: MAML's average), then one AdamW step on sum_k w_k g_k with clipping.
// Everything reads parameters through FastWeights, so a quantizer between item table and encoder is
// differentiated through like any other module. See docs/adr/0012-maml-metarec.md.
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "xrec/api/errors.hpp"
#include "xrec/api/fast_weights.hpp"
#include "xrec/api/model.hpp"

namespace xrec::meta {

enum class Weighting { Uniform, Softmax };
// theta - phi_k is the accumulated source gradient (ascent direction of the source loss), so with the default
// a source whose steps agree with the target's gradient is trusted most; MetaAdapt's code uses phi_k - theta.
enum class Sign { ThetaMinusPhi, PhiMinusTheta };

struct MetaOptions {
  int64_t inner_steps = 3;
  double inner_lr = 0.01;
  bool first_order = false;
  bool learned_lr = false;  // one inner learning rate per trainable tensor and inner step, meta-learned
  double lr_lr = 1e-3;      // AdamW learning rate of the learned inner learning rates
  Weighting weighting = Weighting::Softmax;
  double tau = 0.1;
  Sign sign = Sign::ThetaMinusPhi;
  double lr = 1e-3, weight_decay = 0.01, grad_clip = 1.0;  // the outer AdamW step; grad_clip 0 = off
};

// One source task of a meta-iteration: its model domain and one support batch per inner step (a single
// batch is reused for every step).
struct SourceTask {
  int64_t domain = 0;
  std::vector<Batch> support;
};

struct TaskResult {
  std::vector<torch::Tensor> grad;  // g_k per trainable tensor (zeros where the query loss does not reach)
  std::vector<torch::Tensor> lr_grad;  // d L_query / d inner lr (learned_lr only), per step x tensor
  double similarity = 0;
  double weight = 0;
  double support_loss = 0;  // the source loss before the first inner step
  double query_loss = 0;    // the target loss at phi_k
};

struct StepResult {
  std::vector<TaskResult> tasks;
  std::vector<torch::Tensor> combined;  // sum_k w_k g_k per trainable tensor
  double grad_norm = 0;                 // of `combined`, before clipping
};

// Mean over tensors of cos(delta_i, g_i), counting only tensors where both are non-zero (a tensor the inner
// loop never touches, e.g. the target's item table, carries no evidence about the source); 0 when none.
inline double mean_cosine(const std::vector<torch::Tensor>& delta, const std::vector<torch::Tensor>& g) {
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < delta.size(); ++i) {
    const double nd = delta[i].norm().item<double>(), ng = g[i].norm().item<double>();
    if (nd <= 0 || ng <= 0 || !std::isfinite(nd) || !std::isfinite(ng)) continue;
    sum += (delta[i] * g[i]).sum().item<double>() / (nd * ng);
    ++n;
  }
  return n ? sum / static_cast<double>(n) : 0.0;
}

// softmax(s / tau), or 1/K each (uniform weighting or tau = inf).
inline std::vector<double> task_weights(const std::vector<double>& s, Weighting weighting, double tau) {
  std::vector<double> w(s.size(), s.empty() ? 0.0 : 1.0 / static_cast<double>(s.size()));
  if (s.empty() || weighting == Weighting::Uniform || std::isinf(tau)) return w;
  if (!(tau > 0)) throw Error("meta weights: tau must be > 0 (got " + std::to_string(tau) + ")");
  double mx = -std::numeric_limits<double>::infinity();
  for (double v : s) mx = std::max(mx, v / tau);
  double z = 0;
  for (size_t k = 0; k < s.size(); ++k) z += (w[k] = std::exp(s[k] / tau - mx));
  for (double& v : w) v /= z;
  return w;
}

class MetaLearner {
 public:
  MetaLearner(SequenceModel& model, MetaOptions o) : model_(model), o_(o) {
    if (o_.inner_steps < 1) throw Error("meta learner: inner_steps must be >= 1");
    all_ = model_.parameters();
    for (size_t i = 0; i < all_.size(); ++i)
      if (all_[i].requires_grad()) {
        trainable_.push_back(all_[i]);
        index_.push_back(i);
      }
    if (trainable_.empty()) throw Error("meta learner: the model has no trainable parameters");
    for (int64_t s = 0; s < o_.inner_steps; ++s) {
      std::vector<torch::Tensor> row;
      for (auto& p : trainable_) {
        auto lr = torch::full({}, o_.inner_lr, p.options().requires_grad(false));
        if (o_.learned_lr) lr.set_requires_grad(true);
        row.push_back(lr);
      }
      lrs_.push_back(row);
    }
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(trainable_, std::make_unique<torch::optim::AdamWOptions>(
                                        torch::optim::AdamWOptions(o_.lr).weight_decay(o_.weight_decay)));
    if (o_.learned_lr) {
      std::vector<torch::Tensor> flat;
      for (auto& row : lrs_) flat.insert(flat.end(), row.begin(), row.end());
      groups.emplace_back(flat, std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(o_.lr_lr).weight_decay(0)));
    }
    opt_ = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(o_.lr));
  }

  const MetaOptions& options() const { return o_; }
  const std::vector<torch::Tensor>& trainable() const { return trainable_; }
  // The inner learning rate of step `s` for trainable tensor `i` (its current value when learned).
  double inner_lr(int64_t s, size_t i) const { return lrs_.at(s).at(i).item<double>(); }

  // Fast weights for model.parameters() with the trainable ones replaced by `phi`.
  FastWeights fast(const std::vector<torch::Tensor>& phi) const {
    std::vector<torch::Tensor> full = all_;
    for (size_t j = 0; j < index_.size(); ++j) full[index_[j]] = phi[j];
    return FastWeights::from(model_, full);
  }

  // phi after the inner steps on `task`. Second order: phi is a differentiable function of theta (and of the
  // learned learning rates). First order: phi = theta - sum_t lr_t * g_t with every g_t a constant.
  std::vector<torch::Tensor> adapt(const SourceTask& task, double* first_loss = nullptr) {
    if (task.support.empty()) throw Error("meta learner: a source task needs at least one support batch");
    std::vector<torch::Tensor> phi = trainable_;
    std::vector<torch::Tensor> work;  // first order: detached leaves the inner gradients are taken at
    if (o_.first_order)
      for (auto& p : trainable_) work.push_back(p.detach().requires_grad_(true));
    for (int64_t s = 0; s < o_.inner_steps; ++s) {
      const Batch& b = task.support[static_cast<size_t>(s) % task.support.size()];
      const auto& at = o_.first_order ? work : phi;
      auto loss = model_.loss(task.domain, b, fast(at));
      if (s == 0 && first_loss) *first_loss = loss.item<double>();
      auto g = torch::autograd::grad({loss}, at, {}, /*retain_graph=*/!o_.first_order,
                                     /*create_graph=*/!o_.first_order, /*allow_unused=*/true);
      for (size_t i = 0; i < phi.size(); ++i) {
        if (!g[i].defined()) continue;  // this tensor does not reach the source loss (another domain's table)
        if (o_.first_order) {
          auto step = g[i].detach();
          phi[i] = phi[i] - lrs_[s][i] * step;
          work[i] = (work[i].detach() - lrs_[s][i].detach() * step).requires_grad_(true);
        } else {
          phi[i] = phi[i] - lrs_[s][i] * g[i];
        }
      }
    }
    return phi;
  }

  // g_k and the query loss of one source task, without touching theta.
  TaskResult task_gradient(const SourceTask& task, int64_t query_domain, const Batch& query) {
    TaskResult r;
    auto phi = adapt(task, &r.support_loss);
    auto qloss = model_.loss(query_domain, query, fast(phi));
    r.query_loss = qloss.item<double>();
    std::vector<torch::Tensor> wrt = trainable_;
    if (o_.learned_lr)
      for (auto& row : lrs_) wrt.insert(wrt.end(), row.begin(), row.end());
    auto g = torch::autograd::grad({qloss}, wrt, {}, false, false, /*allow_unused=*/true);
    for (size_t i = 0; i < wrt.size(); ++i) {
      auto gi = g[i].defined() ? g[i].detach() : torch::zeros_like(wrt[i]);
      (i < trainable_.size() ? r.grad : r.lr_grad).push_back(gi);
    }
    std::vector<torch::Tensor> delta;
    for (size_t i = 0; i < phi.size(); ++i) delta.push_back(trainable_[i].detach() - phi[i].detach());
    r.similarity = mean_cosine(delta, r.grad) * (o_.sign == Sign::ThetaMinusPhi ? 1.0 : -1.0);
    return r;
  }

  // Meta gradients, similarities, weights and the combined gradient of one meta-iteration, theta unchanged.
  StepResult compute(const std::vector<SourceTask>& tasks, int64_t query_domain, const Batch& query) {
    if (tasks.empty()) throw Error("meta learner: a meta-iteration needs at least one source task");
    StepResult r;
    std::vector<double> s;
    for (auto& t : tasks) {
      r.tasks.push_back(task_gradient(t, query_domain, query));
      s.push_back(r.tasks.back().similarity);
    }
    auto w = task_weights(s, o_.weighting, o_.tau);
    double sq = 0;
    for (size_t i = 0; i < trainable_.size(); ++i) {
      auto c = torch::zeros_like(trainable_[i]);
      for (size_t k = 0; k < tasks.size(); ++k) c.add_(r.tasks[k].grad[i], w[k]);
      sq += c.pow(2).sum().item<double>();
      r.combined.push_back(c);
    }
    for (size_t k = 0; k < tasks.size(); ++k) r.tasks[k].weight = w[k];
    r.grad_norm = std::sqrt(sq);
    return r;
  }

  // Applies sum_k w_k g_k (and the weighted learning-rate gradients) with AdamW after clipping.
  void apply(const StepResult& r) {
    opt_->zero_grad();
    for (size_t i = 0; i < trainable_.size(); ++i) trainable_[i].mutable_grad() = r.combined[i].clone();
    if (o_.grad_clip > 0) torch::nn::utils::clip_grad_norm_(trainable_, o_.grad_clip);
    if (o_.learned_lr) {
      size_t j = 0;
      for (auto& row : lrs_)
        for (auto& lr : row) {
          auto g = torch::zeros_like(lr);
          for (auto& t : r.tasks) g.add_(t.lr_grad[j], t.weight);
          lr.mutable_grad() = g;
          ++j;
        }
    }
    opt_->step();
  }

  StepResult step(const std::vector<SourceTask>& tasks, int64_t query_domain, const Batch& query) {
    StepResult r = compute(tasks, query_domain, query);
    apply(r);
    return r;
  }

 private:
  SequenceModel& model_;
  MetaOptions o_;
  std::vector<torch::Tensor> all_, trainable_;
  std::vector<size_t> index_;  // trainable_[j] = all_[index_[j]]
  std::vector<std::vector<torch::Tensor>> lrs_;
  std::unique_ptr<torch::optim::AdamW> opt_;
};

}  // namespace xrec::meta
