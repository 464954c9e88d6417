// Transfer plugin `mpp`: user cold start with a pointwise model (docs/adr/0015-mpp.md). Five strategies share
// one loop, differing in what is adapted per user and whether the model is meta-trained:
//   pointwise    conventional training on the warm users' pairs, no per-user adaptation;
//   maml-full    MAML with every parameter adapted per user (the costly approach MPP improves on);
//   melu         MeLU's local update: the decision layers (fc*, out) adapted, the embeddings shared;
//   mpp-offline  MPP's offline stage: only the adaptive part (default the last layers) adapted per user; the
//                outer step learns the fixed part and the adaptive initialisation (first or second order);
//   mpp-online   mpp-offline, then the cold users stream in time order (seeded random order without
//                timestamps): each is adapted from the current initialisation, scored on its query set
//                (prequential), stored, and only then used to meta-update the initialisation (fixed part frozen).
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>

#include "meta.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"
#include "xrec/api/transfer.hpp"

namespace {

using namespace xrec;
using namespace xrec::mpp;

enum class Mode { Pointwise, MamlFull, Melu, MppOffline, MppOnline };

struct UserBatches {
  const UserTask* task = nullptr;
  PointwiseBatch support, query;
};

// Per-user probabilities on the query sets, for pointwise_metrics.
struct Scored {
  std::vector<float> labels, probs;
  std::vector<int64_t> groups;
  void add(int64_t user, const torch::Tensor& labels_t, const torch::Tensor& logits) {
    auto l = labels_t.to(torch::kCPU, torch::kFloat).contiguous();
    auto p = torch::sigmoid(logits.detach().to(torch::kCPU, torch::kFloat)).contiguous();
    labels.insert(labels.end(), l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
    probs.insert(probs.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    groups.insert(groups.end(), static_cast<size_t>(l.numel()), user);
  }
  MetricMap metrics() const { return pointwise_metrics(labels, probs, groups); }
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

class ColdStartStrategy : public Transfer {
 public:
  ColdStartStrategy(Mode mode, const Params& p) : mode_(mode), p_(p) {
    if (mode_ != Mode::Pointwise) {
      inner_.steps = p.integer("inner_steps");
      inner_.lr = p.real("inner_lr");
      graph_ = p.flag("first_order") ? Graph::First : Graph::Second;
    }
  }

  // Per-user episodes in its own loop: not sharded over ranks.
  DataParallel data_parallel() const override { return DataParallel::none; }

  TransferResult run(TransferContext& ctx) override {
    log_ = ctx.plugin().log.get();
    if (!ctx.sources().empty() && log_)
      log_->warn("{} ignores the {} source domain(s): user cold start is within the target", name(), ctx.sources().size());
    const ColdStartTask& cs = ctx.cold_start_task();
    const DomainData& data = *cs.data;
    rng_.seed(ctx.plugin().seed * 2654435761ull + 17);
    auto warm = stream(cs.warm, data), cold = stream(cs.cold, data);
    const auto n_valid = static_cast<size_t>(std::ceil(p_.real("valid_fraction") * static_cast<double>(warm.size())));
    if (cold.empty()) throw InputError(name() + ": the cold-start split has no cold users (cold_start.cold_fraction)");
    if (warm.size() <= n_valid)
      throw InputError(name() + ": " + std::to_string(warm.size()) + " warm users leave none to train on after " +
                       std::to_string(n_valid) + " validation users (valid_fraction)");
    // The latest warm starters validate (model selection); the earlier ones train.
    std::vector<const UserTask*> valid(warm.end() - static_cast<std::ptrdiff_t>(n_valid), warm.end());
    warm.resize(warm.size() - n_valid);

    auto model = ctx.make_pointwise_model();
    if (mode_ != Mode::Pointwise) part_ = partition(*model, adaptive_patterns());
    if (log_ && mode_ != Mode::Pointwise)
      log_->info("{}: {} adaptive parameters ({} values, {} bytes per user), {} fixed", name(),
                 part_.adaptive.size(), part_.adaptive_numel(), part_.bytes_per_user(), part_.fixed.size());
    auto train = batches(ctx, warm), val = batches(ctx, valid), test = batches(ctx, cold);

    TransferResult r;
    r.valid = mode_ == Mode::Pointwise ? train_conventional(ctx, *model, cs, train, val)
                                       : train_meta(ctx, *model, train, val);
    if (mode_ != Mode::MppOnline) {
      r.test = evaluate(ctx, *model, test, "final", "cold_query");
    } else {
      // The offline stage's numbers on the same cold users, for the ladder within one run.
      evaluate(ctx, *model, test, "offline", "cold_query");
      r.test = run_online(ctx, *model, test);
    }
    return r;
  }

 private:
  std::string name() const {
    switch (mode_) {
      case Mode::Pointwise: return "pointwise";
      case Mode::MamlFull: return "maml-full";
      case Mode::Melu: return "melu";
      case Mode::MppOffline: return "mpp-offline";
      default: return "mpp-online";
    }
  }
  std::vector<std::string> adaptive_patterns() const { return p_.str_list("adaptive"); }

  // Users in stream order: by first interaction time when the data has timestamps, else a seeded shuffle.
  std::vector<const UserTask*> stream(const std::vector<UserTask>& users, const DomainData& data) {
    std::vector<const UserTask*> out;
    for (auto& u : users) out.push_back(&u);
    if (!data.timestamps.empty()) {
      auto first = [&](const UserTask* u) {
        const auto& ts = data.timestamps[static_cast<size_t>(u->user)];
        return ts.empty() ? int64_t{0} : *std::min_element(ts.begin(), ts.end());
      };
      std::stable_sort(out.begin(), out.end(), [&](auto* a, auto* b) { return first(a) < first(b); });
    } else {
      std::shuffle(out.begin(), out.end(), rng_);
    }
    return out;
  }

  std::vector<UserBatches> batches(TransferContext& ctx, const std::vector<const UserTask*>& users) {
    std::vector<UserBatches> out;
    for (auto* u : users)
      out.push_back({u, ctx.pointwise_batch({u}, UserPart::Support), ctx.pointwise_batch({u}, UserPart::Query)});
    return out;
  }

  std::unique_ptr<torch::optim::Adam> adam(PointwiseModel& model) const {
    return std::make_unique<torch::optim::Adam>(
        model.parameters(), torch::optim::AdamOptions(p_.real("lr")).weight_decay(p_.real("weight_decay")));
  }

  // Keeps a copy of the parameters of the best validation epoch.
  struct Best {
    std::string metric;
    double score = 0;
    bool any = false;
    MetricMap metrics;
    std::vector<torch::Tensor> params;
    void offer(PointwiseModel& m, const MetricMap& v) {
      const double s = v.at(metric);
      if (any && !metric_better(metric_direction(metric), s, score)) return;
      any = true, score = s, metrics = v, params.clear();
      torch::NoGradGuard g;
      for (auto& t : m.parameters()) params.push_back(t.detach().clone());
    }
    void restore(PointwiseModel& m) {
      torch::NoGradGuard g;
      auto ps = m.parameters();
      for (size_t k = 0; k < ps.size(); ++k) ps[k].copy_(params[k]);
    }
  };

  MetricMap validate_epoch(TransferContext& ctx, PointwiseModel& model, const std::vector<UserBatches>& val,
                           Best& best, int64_t epoch, double loss) {
    ctx.log_metric("train", "train", "loss", loss, epoch);
    Scored s;
    for (auto& u : val) {
      const FastWeights w = mode_ == Mode::Pointwise ? FastWeights() : fast_weights(part_, adapt(model, part_, u.support, inner_, Graph::None, log_, u.task->user));
      torch::NoGradGuard g;
      s.add(u.task->user, u.query.labels, model.logits(u.query, w));
    }
    const MetricMap m = s.metrics();
    for (auto& [k, v] : m) ctx.log_metric("train", "valid", k, v, epoch);
    if (log_) log_->info("{} epoch {}: loss {:.4f}, valid auc {:.4f} logloss {:.4f}", name(), epoch, loss, m.at("auc"), m.at("logloss"));
    best.offer(model, m);
    return m;
  }

  MetricMap train_conventional(TransferContext& ctx, PointwiseModel& model, const ColdStartTask& cs,
                               const std::vector<UserBatches>& train, const std::vector<UserBatches>& val) {
    // Training pairs: warm users' support and query sets, plus (use_cold_support) the cold users' support sets,
    // which a conventionally trained production model would have seen too.
    std::vector<const PointwiseBatch*> pool;
    for (auto& u : train) pool.push_back(&u.support), pool.push_back(&u.query);
    std::vector<PointwiseBatch> cold_support;
    if (p_.flag("use_cold_support"))
      for (auto& u : cs.cold) cold_support.push_back(ctx.pointwise_batch({&u}, UserPart::Support));
    for (auto& b : cold_support) pool.push_back(&b);
    auto opt = adam(model);
    Best best{p_.str("select_metric")};
    const auto chunk = static_cast<size_t>(p_.integer("batch_users"));
    for (int64_t epoch = 0; epoch < p_.integer("epochs"); ++epoch) {
      model.train();
      std::shuffle(pool.begin(), pool.end(), rng_);
      double total = 0;
      int64_t steps = 0;
      for (size_t lo = 0; lo < pool.size(); lo += chunk) {
        ctx.check_interrupted();
        torch::Tensor sum;
        int64_t n = 0;
        for (size_t k = lo; k < std::min(pool.size(), lo + chunk); ++k) {
          const auto& b = *pool[k];
          auto l = torch::binary_cross_entropy_with_logits(model.logits(b), b.labels, {}, {}, at::Reduction::Sum);
          sum = sum.defined() ? sum + l : l;
          n += b.labels.size(0);
        }
        auto loss = sum / static_cast<double>(std::max<int64_t>(n, 1));
        opt->zero_grad();
        loss.backward();
        opt->step();
        total += loss.item<double>(), ++steps;
      }
      model.eval();
      validate_epoch(ctx, model, val, best, epoch, total / std::max<int64_t>(steps, 1));
    }
    best.restore(model);
    return best.metrics;
  }

  MetricMap train_meta(TransferContext& ctx, PointwiseModel& model, const std::vector<UserBatches>& train,
                       const std::vector<UserBatches>& val) {
    auto opt = adam(model);
    Best best{p_.str("select_metric")};
    std::vector<size_t> order(train.size());
    std::iota(order.begin(), order.end(), size_t{0});
    const auto chunk = static_cast<size_t>(p_.integer("meta_batch"));
    for (int64_t epoch = 0; epoch < p_.integer("epochs"); ++epoch) {
      model.train();
      std::shuffle(order.begin(), order.end(), rng_);
      double total = 0;
      int64_t steps = 0;
      for (size_t lo = 0; lo < order.size(); lo += chunk) {
        ctx.check_interrupted();
        std::vector<const PointwiseBatch*> sup, qry;
        for (size_t k = lo; k < std::min(order.size(), lo + chunk); ++k)
          sup.push_back(&train[order[k]].support), qry.push_back(&train[order[k]].query);
        auto loss = meta_loss(model, part_, sup, qry, inner_, graph_);
        opt->zero_grad();
        loss.backward();
        opt->step();
        total += loss.item<double>(), ++steps;
      }
      model.eval();
      validate_epoch(ctx, model, val, best, epoch, total / std::max<int64_t>(steps, 1));
    }
    best.restore(model);
    return best.metrics;
  }

  // Scores of every item for one user under `w`, indexed by item id (0 unused).
  std::vector<float> all_item_scores(TransferContext& ctx, PointwiseModel& model, const UserTask& u,
                                     const FastWeights& w) {
    const int64_t n = ctx.cold_start_task().data->num_items;
    UserTask all;
    all.user = u.user;
    for (int64_t i = 1; i <= n; ++i) all.query.push_back({i, 0.f});
    torch::NoGradGuard g;
    auto s = model.logits(ctx.pointwise_batch({&all}, UserPart::Query), w).to(torch::kCPU, torch::kFloat).contiguous();
    std::vector<float> out{-std::numeric_limits<float>::infinity()};
    out.insert(out.end(), s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
    return out;
  }

  // HR/NDCG of each cold user's held-out (query) positives against every item the user never interacted with.
  void add_ranking(TransferContext& ctx, PointwiseModel& model, const UserBatches& u, const FastWeights& w,
                   std::vector<Ranking>& cases) {
    std::vector<int64_t> positives;
    for (auto& l : u.task->query)
      if (l.label > 0.5f) positives.push_back(l.item);
    const auto& seq = ctx.cold_start_task().data->sequences[static_cast<size_t>(u.task->user)];
    const auto r = rank_positives(all_item_scores(ctx, model, *u.task, w), positives, seq);
    cases.insert(cases.end(), r.begin(), r.end());
  }

  void add_ranking_metrics(const std::vector<Ranking>& cases, MetricMap& m) const {
    if (cases.empty()) return;
    const auto rm = ranking_metrics(cases, p_.int_list("rank_ks"));
    for (auto& [k, v] : rm)
      if (k.rfind("hr@", 0) == 0 || k.rfind("ndcg@", 0) == 0 || k == "mrr") m["rank_" + k] = v;
  }

  bool ranked(size_t i) const {
    const int64_t cap = p_.integer("rank_users");
    return cap < 0 ? false : (cap == 0 || static_cast<int64_t>(i) < cap);
  }

  // Each user adapted on its support set (none for pointwise), scored on its query set.
  MetricMap evaluate(TransferContext& ctx, PointwiseModel& model, const std::vector<UserBatches>& users,
                     const std::string& stage, const std::string& split) {
    model.eval();
    Scored s;
    std::vector<Ranking> cases;
    double adapt_ms = 0;
    for (size_t i = 0; i < users.size(); ++i) {
      const auto& u = users[i];
      FastWeights w;
      if (mode_ != Mode::Pointwise) {
        const auto t0 = std::chrono::steady_clock::now();
        w = fast_weights(part_, adapt(model, part_, u.support, inner_, Graph::None, log_, u.task->user));
        adapt_ms += ms_since(t0);
      }
      {
        torch::NoGradGuard g;
        s.add(u.task->user, u.query.labels, model.logits(u.query, w));
      }
      if (ranked(i)) add_ranking(ctx, model, u, w, cases);
      ctx.check_interrupted();
    }
    MetricMap m = s.metrics();
    add_ranking_metrics(cases, m);
    m["storage_bytes_per_user"] = mode_ == Mode::Pointwise ? 0.0 : static_cast<double>(part_.bytes_per_user());
    m["adapt_ms_per_user"] = adapt_ms / static_cast<double>(users.size());
    for (auto& [k, v] : m) ctx.log_metric(stage, split, k, v, 0);
    return m;
  }

  MetricMap run_online(TransferContext& ctx, PointwiseModel& model, const std::vector<UserBatches>& cold) {
    // The fixed part is frozen; only the adaptive initialisation keeps learning.
    for (auto& t : part_.fixed) t.requires_grad_(false);
    torch::optim::SGD opt(part_.adaptive, torch::optim::SGDOptions(p_.real("online_lr")));
    UserParamStore store(part_);
    Scored all, window;
    const auto every = static_cast<size_t>(p_.integer("curve_every"));
    const auto n_early = std::max<size_t>(1, static_cast<size_t>(std::llround(p_.real("early_fraction") * cold.size())));
    Scored early_prequential;
    double adapt_ms = 0;
    model.eval();
    for (size_t i = 0; i < cold.size(); ++i) {
      ctx.check_interrupted();
      const auto& u = cold[i];
      const auto t0 = std::chrono::steady_clock::now();
      const auto phi = adapt(model, part_, u.support, inner_, graph_, log_, u.task->user);
      adapt_ms += ms_since(t0);
      // Prequential: the user is scored before any update has seen its query set.
      const auto logits = model.logits(u.query, fast_weights(part_, phi));
      all.add(u.task->user, u.query.labels, logits);
      window.add(u.task->user, u.query.labels, logits);
      if (i < n_early) early_prequential.add(u.task->user, u.query.labels, logits);
      store.add(u.task->user, phi);
      auto loss = torch::binary_cross_entropy_with_logits(logits, u.query.labels);
      opt.zero_grad();
      loss.backward();
      opt.step();
      if ((i + 1) % every == 0 || i + 1 == cold.size()) {
        const auto step = static_cast<int64_t>(i + 1);
        for (auto& [k, v] : window.metrics()) ctx.log_metric("online", "window", k, v, step);
        for (auto& [k, v] : all.metrics()) ctx.log_metric("online", "cumulative", k, v, step);
        window = Scored();
      }
    }
    MetricMap m = all.metrics();
    m["storage_bytes_per_user"] = static_cast<double>(part_.bytes_per_user());
    m["adapt_ms_per_user"] = adapt_ms / static_cast<double>(cold.size());

    // The artifact: every cold user's adapted parameters, read back below to rank that user.
    std::string stem;
    if (!ctx.plugin().run_dir.empty() && p_.flag("save_params")) {
      stem = (std::filesystem::path(ctx.plugin().run_dir) / "mpp-online-users").string();
      const int64_t bytes = store.write(stem);
      ctx.log_metric("online", "store", "bytes", static_cast<double>(bytes), 0);
      ctx.log_metric("online", "store", "users", static_cast<double>(store.users()), 0);
      if (log_) log_->info("mpp-online: {} users' adaptive parameters in {}.bin ({} bytes) + .index", store.users(), stem, bytes);
    }
    // Ranking and the early users, after the stream: with each user's stored parameters (loaded back from the
    // artifact when there is one) and re-adapted from the final initialisation (does it forget them?).
    std::vector<Ranking> cases;
    Scored early_stored, early_readapted;
    for (size_t i = 0; i < cold.size(); ++i) {
      const bool early = i < n_early;
      if (!early && !ranked(i)) continue;
      const auto& u = cold[i];
      std::vector<torch::Tensor> phi;
      if (!stem.empty()) {
        phi = UserParamStore::load(stem, u.task->user);
        for (auto& t : phi) t = t.to(part_.adaptive[0].device());
      } else {
        phi = adapt(model, part_, u.support, inner_, Graph::None, nullptr, u.task->user);  // no store: re-adapt
      }
      const FastWeights w = fast_weights(part_, phi);
      if (ranked(i)) add_ranking(ctx, model, u, w, cases);
      if (early) {
        const auto again = adapt(model, part_, u.support, inner_, Graph::None, log_, u.task->user);
        torch::NoGradGuard g;
        early_stored.add(u.task->user, u.query.labels, model.logits(u.query, w));
        early_readapted.add(u.task->user, u.query.labels, model.logits(u.query, fast_weights(part_, again)));
      }
    }
    add_ranking_metrics(cases, m);
    for (auto& [split, s] : {std::pair<std::string, const Scored*>{"early_prequential", &early_prequential},
                             {"early_stored", &early_stored}, {"early_readapted", &early_readapted}})
      for (auto& [k, v] : s->metrics()) {
        ctx.log_metric("online", split, k, v, 0);
        m[split + "_" + k] = v;
      }
    for (auto& [k, v] : m) ctx.log_metric("online", "cold_query", k, v, 0);
    for (auto& t : part_.fixed) t.requires_grad_(true);
    return m;
  }

  Mode mode_;
  Params p_;
  AdaptOptions inner_;
  Graph graph_ = Graph::Second;
  Partition part_;
  spdlog::logger* log_ = nullptr;
  std::mt19937_64 rng_;
};

ParamSpecs common_params() {
  return {xrec::param::integer("epochs", 10, "Training epochs over the warm users (the best validation epoch is kept)")
              .at_least(1),
          xrec::param::real("lr", 1e-3, "Adam learning rate (outer / global update)").above(0),
          xrec::param::real("weight_decay", 0, "Adam weight decay").at_least(0),
          xrec::param::real("valid_fraction", 0.1,
                            "Share of the warm users (the latest starters) held out to choose the epoch")
              .range(0, 1).above(0),
          xrec::param::string("select_metric", "auc", "Validation metric that chooses the epoch")
              .one_of({"auc", "gauc", "logloss"}),
          xrec::param::int_list("rank_ks", {10, 20}, "Cut-offs of rank_hr@K / rank_ndcg@K (all-item ranking)"),
          xrec::param::integer("rank_users", 0,
                               "Cold users ranked against every item they never saw: 0 = all, N = the first N of "
                               "the stream, -1 = none")
              .at_least(-1)};
}

ParamSpecs meta_params(std::vector<std::string> adaptive, bool first_order) {
  auto p = common_params();
  p.push_back(xrec::param::string_list("adaptive", std::move(adaptive),
                                       "Glob patterns of the parameters adapted per user (the adaptive part); the "
                                       "rest is the fixed part"));
  p.push_back(xrec::param::integer("inner_steps", 3, "SGD steps on a user's support set (local update)").at_least(0));
  p.push_back(xrec::param::real("inner_lr", 0.05, "Learning rate of the local update").above(0));
  p.push_back(xrec::param::boolean("first_order", first_order,
                                   "First-order MAML (no gradient through the local update); false = second order"));
  p.push_back(xrec::param::integer("meta_batch", 32, "Users per outer (global) update").at_least(1));
  return p;
}

template <Mode M>
std::shared_ptr<Transfer> make(const Params& p, const PluginContext&) {
  return std::make_shared<ColdStartStrategy>(M, p);
}

}  // namespace

XREC_PLUGIN("mpp", "1.0.0", "User cold start: conventional, MAML, MeLU and MPP (offline, online) strategies") {
  auto pointwise = common_params();
  pointwise.push_back(xrec::param::integer("batch_users", 32, "Users whose pairs form one training batch").at_least(1));
  pointwise.push_back(xrec::param::boolean("use_cold_support", true,
                                           "Train on the cold users' support sets too (no per-user adaptation)"));
  registrar.add_transfer("pointwise",
                         "Conventional CTR training of the pointwise model on the warm users' pairs (and the cold "
                         "users' support sets); cold users are scored without adaptation.",
                         pointwise, make<Mode::Pointwise>);
  registrar.add_transfer("maml-full",
                         "MAML over warm users with every parameter of the pointwise model adapted per user; stores "
                         "the whole model per user.",
                         meta_params({"*"}, false), make<Mode::MamlFull>);
  registrar.add_transfer("melu",
                         "MeLU: local update of the decision layers (fc*, out) on each user's support set, global "
                         "update of everything on the query loss.",
                         meta_params({"fc*", "out_*"}, false), make<Mode::Melu>);
  registrar.add_transfer("mpp-offline",
                         "MPP offline stage: the adaptive part (default the last hidden and output layers) adapted "
                         "per user, the fixed part and the adaptive initialisation meta-learned (first or second "
                         "order).",
                         meta_params({"fc2_*", "out_*"}, false), make<Mode::MppOffline>);
  auto online = meta_params({"fc2_*", "out_*"}, false);
  online.push_back(xrec::param::real("online_lr", 0.01, "SGD rate of the online meta-update of the initialisation")
                       .at_least(0));
  online.push_back(xrec::param::integer("curve_every", 20, "Users per point of the online curve").at_least(1));
  online.push_back(xrec::param::real("early_fraction", 0.2,
                                     "Share of the stream's first users re-evaluated at its end (forgetting)")
                       .range(0, 1).above(0));
  online.push_back(xrec::param::boolean("save_params", true,
                                        "Write each cold user's adapted parameters to mpp-online-users.bin/.index "
                                        "in the run folder"));
  registrar.add_transfer("mpp-online",
                         "MPP offline, then online: cold users streamed in time order (seeded random without "
                         "timestamps), adapted from the current initialisation, scored prequentially, stored, then "
                         "used to meta-update the initialisation with the fixed part frozen.",
                         online, make<Mode::MppOnline>);
}
