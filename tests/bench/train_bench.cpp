// xrec_bench_train: one SASRec training epoch on Beauty through xrec's own engine classes, split into phases
// the way tests/bench/sasrec_train.py (the plain PyTorch reference) splits it, then validation HR@10 /
// NDCG@10 under full ranking with the engine evaluator. tests/bench/sasrec_bench.sh runs both and compares.
//
//   xrec_bench_train --data Beauty.txt [--epochs 2] [--threads 2] [--loss ce|bce] [--negatives 1] [--seed 42]
//                    [--batches engine|bucket] [--bucket-chunk 16] [--encode engine|grouped] [--group-cost 256]
//                    [--head engine|fused] [--ce-chunk ROWS] [--max-batches N] [--no-eval]
//                    [--no-tune-allocator] [--plugins DIR]
//
// The loop is train_model's (core/src/engine/trainer.cpp): Adam over model.parameters(), per batch zero_grad,
// model.loss, backward, step, loss.item(). Phases: data = TrainBatches::get, forward = model.loss (+ item()),
// backward, optimizer = zero_grad + step. Everything runs on the CPU, so wall clocks around each call are
// exact (no device to synchronise). CPU time of the whole process is printed too: under load it shows how
// much of the wall time the process actually ran.
//
// Candidate speed-ups, measured here and not engine behaviour (the defaults are the engine's own path):
//   --batches bucket  sequences of similar length share a batch (changes which rows are batched together);
//   --encode grouped  same batches, the backbone run on length groups inside each batch (same loss);
//   --head fused      a fused full-softmax cross-entropy (same loss).
// The last two are checked against HostSequenceModel::loss (loss and every gradient) before training.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <random>

#include "sasrec_bench_common.hpp"
#include "xrec/engine/batching.hpp"
#include "xrec/engine/evaluator.hpp"
#include "xrec/engine/runtime.hpp"

using namespace xrec;
using namespace xrec::bench;

namespace {

struct Options {
  std::string data, plugins, loss = "ce", batches = "engine", encode = "engine", head = "engine";
  int64_t epochs = 2, threads = 2, negatives = 1, seed = 42, max_batches = 0;
  int64_t bucket_chunk = 16, group_cost = 256, ce_chunk = 0;
  bool eval = true, tune_allocator = true;
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "xrec_bench_train: " << problem << "\n"
            << "usage: xrec_bench_train --data Beauty.txt [--epochs 2] [--threads 2] [--loss ce|bce] [--negatives 1]\n"
               "       [--seed 42] [--batches engine|bucket] [--bucket-chunk 16] [--encode engine|grouped]\n"
               "       [--group-cost 256] [--head engine|fused] [--ce-chunk ROWS] [--max-batches N] [--no-eval]\n"
               "       [--no-tune-allocator] [--plugins DIR]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto integer = [&](int64_t lo) {
      const std::string v = value();
      char* end = nullptr;
      const long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || n < lo) usage(a + " expects an integer >= " + std::to_string(lo) + ", got '" + v + "'");
      return static_cast<int64_t>(n);
    };
    if (a == "--data") o.data = value();
    else if (a == "--plugins") o.plugins = value();
    else if (a == "--epochs") o.epochs = integer(1);
    else if (a == "--threads") o.threads = integer(1);
    else if (a == "--negatives") o.negatives = integer(1);
    else if (a == "--seed") o.seed = integer(0);
    else if (a == "--max-batches") o.max_batches = integer(0);
    else if (a == "--bucket-chunk") o.bucket_chunk = integer(1);
    else if (a == "--group-cost") o.group_cost = integer(0);
    else if (a == "--ce-chunk") o.ce_chunk = integer(0);
    else if (a == "--encode") o.encode = value();
    else if (a == "--head") o.head = value();
    else if (a == "--loss") o.loss = value();
    else if (a == "--batches") o.batches = value();
    else if (a == "--no-eval") o.eval = false;
    else if (a == "--no-tune-allocator") o.tune_allocator = false;
    else if (a == "--help" || a == "-h") usage("times SASRec training epochs through the engine");
    else usage("unknown argument '" + a + "'");
  }
  if (o.data.empty()) usage("--data FILE is required (S3-Rec's Beauty.txt)");
  if (o.loss != "ce" && o.loss != "bce") usage("--loss expects ce or bce, got '" + o.loss + "'");
  if (o.batches != "engine" && o.batches != "bucket")
    usage("--batches expects engine or bucket, got '" + o.batches + "'");
  if (o.encode != "engine" && o.encode != "grouped")
    usage("--encode expects engine or grouped, got '" + o.encode + "'");
  if (o.head != "engine" && o.head != "fused") usage("--head expects engine or fused, got '" + o.head + "'");
  if (o.head == "fused" && o.loss != "ce") usage("--head fused is a cross-entropy head: it needs --loss ce");
  return o;
}

// Candidate speed-up: length-bucketed batches. Each epoch shuffles the sequences, sorts every chunk of
// `chunk` batches' worth of them by length, cuts the chunk into batches and shuffles the batch order. A batch
// then holds sequences of similar length, so narrowing to its longest row removes most padding (Beauty's
// median training sequence has 4 pairs, but one row in 256 reaching 50 widens a random batch to 50). Rows,
// padding, targets and negatives are built exactly as engine::TrainBatches builds them.
class BucketBatches {
 public:
  BucketBatches(const Task& task, const engine::BatchOptions& o, int64_t chunk, uint64_t seed)
      : task_(task), o_(o), chunk_(chunk), rng_(seed) {
    for (size_t r = 0; r < task.train.size(); ++r) {
      if (task.train[r].size() < 2) continue;
      rows_.push_back(static_cast<int64_t>(r));
      if (o_.negatives > 0) {
        std::vector<int64_t> s = task.train[r];
        std::sort(s.begin(), s.end());
        s.erase(std::unique(s.begin(), s.end()), s.end());
        seen_.push_back(std::move(s));
      }
    }
    order_.resize(rows_.size());
    std::iota(order_.begin(), order_.end(), 0);
  }

  int64_t num_batches() const {
    return (static_cast<int64_t>(rows_.size()) + o_.batch_size - 1) / o_.batch_size;
  }

  void shuffle() {
    std::shuffle(order_.begin(), order_.end(), rng_);
    const size_t span = static_cast<size_t>(chunk_ * o_.batch_size);
    auto length = [&](int64_t i) { return task_.train[static_cast<size_t>(rows_[static_cast<size_t>(i)])].size(); };
    for (size_t lo = 0; lo < order_.size(); lo += span) {
      const auto hi = order_.begin() + static_cast<std::ptrdiff_t>(std::min(order_.size(), lo + span));
      std::stable_sort(order_.begin() + static_cast<std::ptrdiff_t>(lo), hi,
                       [&](int64_t a, int64_t b) { return length(a) < length(b); });
    }
    batch_order_.resize(static_cast<size_t>(num_batches()));
    std::iota(batch_order_.begin(), batch_order_.end(), 0);
    std::shuffle(batch_order_.begin(), batch_order_.end(), rng_);
  }

  Batch get(int64_t b) {
    const int64_t k = batch_order_[static_cast<size_t>(b)];
    const int64_t lo = k * o_.batch_size;
    const int64_t hi = std::min<int64_t>(lo + o_.batch_size, static_cast<int64_t>(rows_.size()));
    return make(std::vector<int64_t>(order_.begin() + lo, order_.begin() + hi));
  }

 private:
  // engine::TrainBatches::make, line for line.
  Batch make(const std::vector<int64_t>& idx) {
    auto row = [&](int64_t i) -> const std::vector<int64_t>& {
      return task_.train[static_cast<size_t>(rows_[static_cast<size_t>(i)])];
    };
    int64_t longest = 1;
    for (int64_t i : idx) longest = std::max<int64_t>(longest, static_cast<int64_t>(row(i).size()) - 1);
    const int64_t B = static_cast<int64_t>(idx.size()), L = std::min(o_.max_len, longest), N = o_.negatives;
    Batch batch;
    batch.inputs = torch::zeros({B, L}, torch::kLong);
    batch.targets = torch::zeros({B, L}, torch::kLong);
    auto in = batch.inputs.accessor<int64_t, 2>();
    auto tg = batch.targets.accessor<int64_t, 2>();
    int64_t* neg = nullptr;
    if (N > 0) {
      batch.negatives = torch::zeros({B, L, N}, torch::kLong);
      neg = batch.negatives.data_ptr<int64_t>();
    }
    std::uniform_int_distribution<int64_t> item(1, task_.num_items());
    for (int64_t b = 0; b < B; ++b) {
      const auto& s = row(idx[static_cast<size_t>(b)]);
      const int64_t n = static_cast<int64_t>(s.size()) - 1;
      const int64_t take = std::min(n, L);
      for (int64_t k = 0; k < take; ++k) {
        const int64_t pos = L - take + k, src = n - take + k;
        in[b][pos] = s[static_cast<size_t>(src)];
        tg[b][pos] = s[static_cast<size_t>(src + 1)];
        if (N > 0) {
          const auto& seen = seen_[static_cast<size_t>(idx[static_cast<size_t>(b)])];
          for (int64_t j = 0; j < N; ++j) {
            int64_t x;
            do x = item(rng_);
            while (std::binary_search(seen.begin(), seen.end(), x) &&
                   static_cast<int64_t>(seen.size()) < task_.num_items());
            neg[(b * L + pos) * N + j] = x;
          }
        }
      }
    }
    return batch;
  }

  const Task& task_;
  engine::BatchOptions o_;
  int64_t chunk_;
  std::mt19937_64 rng_;
  std::vector<int64_t> rows_, order_, batch_order_;
  std::vector<std::vector<int64_t>> seen_;
};

// Candidate speed-ups that keep the batches as they are; together they recompute HostSequenceModel::loss
// (non-Cloze backbone, no quantizer) and are checked against it at start-up.
struct LossOptions {
  bool ce = true;
  bool grouped = false;  // encode in length groups
  bool fused = false;    // fused cross-entropy head
  int64_t group_cost = 256;
  int64_t ce_chunk = 1 << 30;  // rows per chunk of the fused head
};

// Encoding in length groups: the backbone runs on groups of rows of similar length, each group narrowed to
// its own longest row. Rows are independent in the backbone (padding keys are masked, positions are
// right-aligned), so the states, hence loss and gradients, are the engine's (up to dropout draws and the
// order of a sum). Groups: the rows sorted by length, cut where sum(rows * width) + group_cost * groups is
// smallest (exact, by dynamic programming over the sorted rows). Returns the states of the positions with a
// target, those targets and their negatives (if any), in the same order.
struct Positions {
  torch::Tensor h, targets, negatives;
};

Positions encode_positions(engine::HostSequenceModel& model, const Batch& batch, const LossOptions& o) {
  if (!o.grouped) {
    auto mask = batch.targets.gt(0);
    return {model.encode(0, batch.inputs).index({mask}), batch.targets.index({mask}),
            batch.negatives.defined() ? batch.negatives.index({mask}) : torch::Tensor()};
  }
  const int64_t B = batch.inputs.size(0), L = batch.inputs.size(1);
  auto lengths = batch.inputs.gt(0).sum(1).contiguous();
  auto len = lengths.accessor<int64_t, 1>();
  std::vector<int64_t> rows(static_cast<size_t>(B));
  std::iota(rows.begin(), rows.end(), 0);
  std::stable_sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) { return len[a] < len[b]; });
  auto width = [&](size_t i) { return std::max<int64_t>(1, len[rows[i]]); };
  std::vector<int64_t> best(static_cast<size_t>(B) + 1, 0), cut(static_cast<size_t>(B) + 1, 0);
  for (size_t j = 1; j <= static_cast<size_t>(B); ++j) {  // best[j]: cost of the first j sorted rows
    best[j] = std::numeric_limits<int64_t>::max();
    for (size_t i = 0; i < j; ++i) {  // the last group is rows i..j-1, as wide as row j-1
      const int64_t c = best[i] + static_cast<int64_t>(j - i) * width(j - 1) + o.group_cost;
      if (c < best[j]) best[j] = c, cut[j] = static_cast<int64_t>(i);
    }
  }
  std::vector<torch::Tensor> hs, ts, ns;
  for (size_t j = static_cast<size_t>(B); j > 0; j = static_cast<size_t>(cut[j])) {
    const size_t i = static_cast<size_t>(cut[j]);
    auto idx = torch::tensor(std::vector<int64_t>(rows.begin() + static_cast<std::ptrdiff_t>(i),
                                                  rows.begin() + static_cast<std::ptrdiff_t>(j)), torch::kLong);
    const int64_t w = std::min(L, width(j - 1));
    auto inputs = batch.inputs.index_select(0, idx).slice(1, L - w);
    auto targets = batch.targets.index_select(0, idx).slice(1, L - w);
    auto mask = targets.gt(0);
    hs.push_back(model.encode(0, inputs).index({mask}));
    ts.push_back(targets.index({mask}));
    if (batch.negatives.defined()) ns.push_back(batch.negatives.index_select(0, idx).slice(1, L - w).index({mask}));
  }
  return {torch::cat(hs), torch::cat(ts), ns.empty() ? torch::Tensor() : torch::cat(ns)};
}

// Fused full-softmax cross-entropy: mean over rows of logsumexp(h w^T) - (h w^T)[target], with w = items
// 1..I and targets 0-based. Forward turns the logits into exp(logit - row max) in place and keeps them with
// the row sums; backward scales them into the softmax in place, subtracts 1 at the targets and multiplies by
// the two matrices. One exp per logit instead of two (log_softmax, then its backward), and no [P, I] zero
// tensor, scatter or second [P, I] gradient. Not re-entrant (backward consumes the saved buffer).
struct FusedCrossEntropy : public torch::autograd::Function<FusedCrossEntropy> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& h, const torch::Tensor& w,
                               const torch::Tensor& targets, int64_t chunk) {
    const int64_t P = h.size(0);
    auto e = torch::empty({P, w.size(0)}, h.options());  // logits, then exp(logits - max) in place
    auto picked = torch::empty({P}, h.options()), max = torch::empty({P, 1}, h.options());
    auto sum = torch::empty({P}, h.options());
    // Row chunks small enough for the cache: each chunk's logits are read back while still there.
    for (int64_t lo = 0; lo < P; lo += chunk) {
      const int64_t hi = std::min(P, lo + chunk);
      auto ec = e.slice(0, lo, hi);
      torch::mm_out(ec, h.slice(0, lo, hi), w.t());
      picked.slice(0, lo, hi).copy_(ec.gather(1, targets.slice(0, lo, hi).unsqueeze(1)).squeeze(1));
      auto mc = max.slice(0, lo, hi);
      mc.copy_(std::get<0>(ec.max(1, /*keepdim=*/true)));
      ec.sub_(mc).exp_();
      auto sc = sum.slice(0, lo, hi);
      torch::sum_out(sc, ec, 1);
    }
    auto loss = (sum.log() + max.squeeze(1) - picked).mean();
    ctx->saved_data["exp"] = e;
    ctx->saved_data["chunk"] = chunk;
    ctx->save_for_backward({h, w, targets, sum});
    return loss;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &h = saved[0], &w = saved[1], &targets = saved[2], &sum = saved[3];
    auto g = ctx->saved_data["exp"].toTensor();
    const int64_t chunk = ctx->saved_data["chunk"].toInt(), P = h.size(0);
    ctx->saved_data.erase("exp");
    auto grad_h = torch::empty_like(h), grad_w = torch::zeros_like(w);
    for (int64_t lo = 0; lo < P; lo += chunk) {
      const int64_t hi = std::min(P, lo + chunk);
      auto gc = g.slice(0, lo, hi);
      gc.div_(sum.slice(0, lo, hi).unsqueeze(1));  // softmax
      gc.scatter_add_(1, targets.slice(0, lo, hi).unsqueeze(1), torch::full({hi - lo, 1}, -1.0, g.options()));
      auto hc = grad_h.slice(0, lo, hi);
      torch::mm_out(hc, gc, w);
      grad_w.addmm_(gc.t(), h.slice(0, lo, hi));
    }
    auto scale = grads[0] / static_cast<double>(P);
    return {grad_h * scale, grad_w * scale, torch::Tensor(), torch::Tensor()};
  }
};

torch::Tensor bench_loss(engine::HostSequenceModel& model, const Batch& batch, const LossOptions& o) {
  if (!o.grouped && !o.fused) return model.loss(0, batch);
  const Positions p = encode_positions(model, batch, o);
  auto items = model.item_vectors(0);
  if (o.ce) {
    if (o.fused) return FusedCrossEntropy::apply(p.h, items.slice(0, 1), p.targets - 1, o.ce_chunk);
    return torch::nn::functional::cross_entropy(torch::matmul(p.h, items.slice(0, 1).t()), p.targets - 1);
  }
  auto pos = (p.h * items.index({p.targets})).sum(-1);
  auto neg = (p.h.unsqueeze(1) * items.index({p.negatives})).sum(-1);
  return torch::nn::functional::softplus(-pos).mean() + torch::nn::functional::softplus(neg).sum(-1).mean();
}

// The candidate's loss and gradients against the engine's, without dropout, on one batch.
void check_candidate(engine::HostSequenceModel& model, const Batch& b, const LossOptions& o) {
  model.eval();
  auto run = [&](bool engine_path) {
    for (auto& p : model.parameters()) p.mutable_grad() = torch::Tensor();
    auto loss = engine_path ? model.loss(0, b) : bench_loss(model, b, o);
    loss.backward();
    std::vector<torch::Tensor> g{loss.detach()};
    for (auto& p : model.parameters()) g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    return g;
  };
  const auto a = run(true), c = run(false);
  // Relative to each parameter's largest gradient, floored at 1% of the largest of all: the key biases'
  // gradients are rounding noise (softmax ignores a shift that is the same for every key).
  double worst = 0, largest = 0;
  std::string where;
  const auto names = model.named_parameters().keys();
  for (size_t i = 1; i < a.size(); ++i) largest = std::max(largest, a[i].abs().max().item<double>());
  for (size_t i = 1; i < a.size(); ++i) {
    const double d = (a[i] - c[i]).abs().max().item<double>() /
                     std::max(a[i].abs().max().item<double>(), 1e-2 * largest);
    if (d > worst) worst = d, where = names[i - 1];
  }
  const double la = a[0].item<double>(), lc = c[0].item<double>();
  std::cout << "# candidate check (eval mode, one batch): loss engine " << fixed(la, 6) << ", candidate "
            << fixed(lc, 6) << ", largest relative gradient difference " << worst << " (" << where << ")" << std::endl;
  for (auto& p : model.parameters()) p.mutable_grad() = torch::Tensor();
  if (std::abs(la - lc) > 1e-4 * std::max(1.0, std::abs(la)) || worst > 1e-3)
    throw Error("the candidate loss differs from HostSequenceModel::loss");
}

struct Phases {
  double data = 0, forward = 0, backward = 0, optimizer = 0;
};

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  auto log = quiet_logger();
  Registry registry;
  load_plugins(registry, o.plugins, log);

  // As run_experiment sets the process up.
  const int threads = engine::configure_threads(o.threads);
  if (o.tune_allocator) engine::tune_allocator();
  engine::seed_everything(static_cast<uint64_t>(o.seed));

  const DomainData data = load_sequences(registry, o.data, log);
  const Task task = engine::leave_one_out(data, "target", engine::SplitOptions{});
  ModelOptions mo;
  mo.loss = o.loss;
  auto model = make_sasrec(registry, task.num_items(), mo, log);

  engine::BatchOptions bo;
  bo.max_len = model->backbone().max_len();
  bo.batch_size = 256;
  bo.negatives = o.loss == "bce" ? o.negatives : 0;
  const uint64_t batch_seed = static_cast<uint64_t>(o.seed) * 7919 + 1;  // the first batcher of a run
  engine::TrainBatches engine_batches(task, bo, batch_seed);
  BucketBatches bucket_batches(task, bo, o.bucket_chunk, batch_seed);
  const bool bucket = o.batches == "bucket";
  const int64_t total = bucket ? bucket_batches.num_batches() : engine_batches.num_batches();
  const int64_t n = o.max_batches > 0 ? std::min(o.max_batches, total) : total;

  LossOptions lo;
  lo.ce = o.loss == "ce";
  lo.grouped = o.encode == "grouped";
  lo.fused = o.head == "fused";
  lo.group_cost = o.group_cost;
  if (o.ce_chunk > 0) lo.ce_chunk = o.ce_chunk;
  if (lo.grouped || lo.fused) {
    engine::TrainBatches probe(task, bo, batch_seed + 1);
    probe.shuffle();
    check_candidate(*model, probe.get(0), lo);
    engine::seed_everything(static_cast<uint64_t>(o.seed));
  }
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3));
  std::cout << "# xrec engine, LibTorch " << TORCH_VERSION << ", " << threads << " threads, " << data.num_users()
            << " users, " << task.num_items() << " items, " << engine_batches.num_samples()
            << " training sequences, " << total << " batches/epoch, loss " << o.loss << ", batches " << o.batches
            << ", encode " << o.encode << ", head " << o.head << ", load " << fixed(load_average(), 2) << std::endl;

  std::vector<std::string> epochs_json;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    model->train();
    if (bucket) bucket_batches.shuffle();
    else engine_batches.shuffle();
    Phases ph;
    double loss_sum = 0;
    int64_t positions = 0, cells = 0;
    double stats_seconds = 0;
    const auto start = Clock::now();
    const double cpu_start = process_cpu_seconds();
    for (int64_t b = 0; b < n; ++b) {
      auto t0 = Clock::now();
      Batch batch = bucket ? bucket_batches.get(b) : engine_batches.get(b);
      auto t1 = Clock::now();
      optimizer.zero_grad();
      auto t2 = Clock::now();
      auto loss = bench_loss(*model, batch, lo);
      loss_sum += loss.item<double>();
      auto t3 = Clock::now();
      loss.backward();
      auto t4 = Clock::now();
      optimizer.step();
      auto t5 = Clock::now();
      auto d = [](Clock::time_point a, Clock::time_point z) { return std::chrono::duration<double>(z - a).count(); };
      ph.data += d(t0, t1);
      ph.optimizer += d(t1, t2) + d(t4, t5);
      ph.forward += d(t2, t3);
      ph.backward += d(t3, t4);
      const auto s0 = Clock::now();  // padding statistics, kept out of the epoch time
      positions += batch.targets.gt(0).sum().item<int64_t>();
      cells += batch.targets.numel();
      stats_seconds += seconds_since(s0);
    }
    const double seconds = seconds_since(start) - stats_seconds, cpu = process_cpu_seconds() - cpu_start;
    const double mean_loss = loss_sum / static_cast<double>(std::max<int64_t>(n, 1));
    std::cout << "epoch " << epoch + 1 << ": " << fixed(seconds, 2) << "s (data " << fixed(ph.data, 2) << ", forward "
              << fixed(ph.forward, 2) << ", backward " << fixed(ph.backward, 2) << ", optimizer "
              << fixed(ph.optimizer, 2) << ") loss " << fixed(mean_loss, 4) << ", cpu " << fixed(cpu, 2)
              << "s, padding " << fixed(100.0 * static_cast<double>(cells - positions) / static_cast<double>(cells), 1)
              << "% of " << cells << " cells, load " << fixed(load_average(), 2) << std::endl;
    epochs_json.push_back(Json()
                              .num("epoch", static_cast<double>(epoch + 1))
                              .num("seconds", seconds)
                              .num("cpu_seconds", cpu)
                              .num("loss", mean_loss)
                              .num("batches", static_cast<double>(n))
                              .num("data", ph.data)
                              .num("forward", ph.forward)
                              .num("backward", ph.backward)
                              .num("optimizer", ph.optimizer)
                              .num("positions", static_cast<double>(positions))
                              .num("cells", static_cast<double>(cells))
                              .text());
  }

  Json out;
  out.str("impl", "xrec").str("torch", TORCH_VERSION).num("threads", threads).str("loss", o.loss);
  out.str("batches", o.batches).str("encode", o.encode).str("head", o.head);
  std::string list;
  for (auto& e : epochs_json) list += (list.empty() ? "" : ", ") + e;
  out.raw("epochs", "[" + list + "]");
  if (o.eval) {
    model->eval();
    engine::EvalOptions eo;  // full ranking, ks 5/10/20, batch 1024
    eo.max_len = model->backbone().max_len();
    engine::ScoreFn score = [&](const torch::Tensor& inputs, const std::vector<const EvalCase*>&) {
      return model->score_next(0, inputs);
    };
    const auto t0 = Clock::now();
    const MetricMap valid = engine::evaluate_cases(task.valid, score, eo);
    const double eval_seconds = seconds_since(t0);
    std::cout << "valid hr@10 " << fixed(valid.at("hr@10"), 4) << " ndcg@10 " << fixed(valid.at("ndcg@10"), 4) << " ("
              << task.valid.size() << " users, " << fixed(eval_seconds, 2) << "s)" << std::endl;
    out.raw("valid", metrics_json(valid)).num("eval_seconds", eval_seconds);
    out.num("users", static_cast<double>(task.valid.size()));
  }
  out.num("load", load_average());
  std::cout << out.text() << std::endl;
  return 0;
} catch (const std::exception& e) {
  std::cerr << "xrec_bench_train: " << e.what() << "\n";
  return 1;
}
