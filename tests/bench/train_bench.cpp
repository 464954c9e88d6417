// xrec_bench_train: one SASRec training epoch on Beauty through xrec's own engine classes, split into phases
// the way tests/bench/sasrec_train.py (the plain PyTorch reference) splits it, then validation HR@10 /
// NDCG@10 under full ranking with the engine evaluator. tests/bench/sasrec_bench.sh runs both and compares.
//
//   xrec_bench_train --data Beauty.txt [--epochs 2] [--threads 2] [--loss ce|bce] [--negatives 1] [--seed 42]
//                    [--batches engine|bucket] [--bucket-chunk 16] [--length-groups on|off] [--group-cost 256]
//                    [--max-batches N] [--no-eval] [--no-tune-allocator] [--plugins DIR]
//
// The loop is train_model's (core/src/engine/trainer.cpp): Adam over model.parameters(), per batch zero_grad,
// model.loss, backward, step, loss.item(). Phases: data = TrainBatches::get, forward = model.loss (+ item()),
// backward, optimizer = zero_grad + step. Everything runs on the CPU, so wall clocks around each call are
// exact (no device to synchronise). CPU time of the whole process is printed too: under load it shows how
// much of the wall time the process actually ran.
//
// Variants (the defaults are the engine's own path, train.length_groups on):
//   --length-groups off  one backbone call on the whole padded batch (train.length_groups: false);
//   --group-cost N       the engine's cost of one more backbone call, in cells;
//   --batches bucket     length-bucketed batches, not engine behaviour: sequences of similar length share a
//                        batch (changes which rows are batched together).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <random>

#include "bench_args.hpp"
#include "sasrec_bench_common.hpp"
#include "xrec/engine/batching.hpp"
#include "xrec/engine/evaluator.hpp"
#include "xrec/engine/runtime.hpp"

using namespace xrec;
using namespace xrec::bench;

namespace {

struct Options {
  std::string data, plugins, loss = "ce", batches = "engine";
  int64_t epochs = 2, threads = 2, negatives = 1, seed = 42, max_batches = 0;
  int64_t bucket_chunk = 16, group_cost = engine::HostSequenceModel::kDefaultGroupCost;
  bool eval = true, tune_allocator = true, length_groups = true;
};

const char* const kUsage =
    "usage: xrec_bench_train --data Beauty.txt [--epochs 2] [--threads 2] [--loss ce|bce] [--negatives 1]\n"
    "       [--seed 42] [--batches engine|bucket] [--bucket-chunk 16] [--length-groups on|off]\n"
    "       [--group-cost 256] [--max-batches N] [--no-eval] [--no-tune-allocator] [--plugins DIR]\n";

Options parse(int argc, char** argv) {
  Options o;
  Args a("xrec_bench_train", kUsage, argc, argv);
  while (a.next()) {
    if (a.is("--data")) o.data = a.value();
    else if (a.is("--plugins")) o.plugins = a.value();
    else if (a.is("--epochs")) o.epochs = a.integer(1);
    else if (a.is("--threads")) o.threads = a.integer(1);
    else if (a.is("--negatives")) o.negatives = a.integer(1);
    else if (a.is("--seed")) o.seed = a.integer(0);
    else if (a.is("--max-batches")) o.max_batches = a.integer(0);
    else if (a.is("--bucket-chunk")) o.bucket_chunk = a.integer(1);
    else if (a.is("--group-cost")) o.group_cost = a.integer(0);
    else if (a.is("--length-groups")) o.length_groups = a.choice({"on", "off"}) == "on";
    else if (a.is("--loss")) o.loss = a.choice({"ce", "bce"});
    else if (a.is("--batches")) o.batches = a.choice({"engine", "bucket"});
    else if (a.is("--no-eval")) o.eval = false;
    else if (a.is("--no-tune-allocator")) o.tune_allocator = false;
    else a.unknown();
  }
  if (o.data.empty()) a.fail("--data FILE is required (S3-Rec's Beauty.txt)");
  return o;
}

// Length-bucketed batches (a benchmark variant, not engine behaviour). Each epoch shuffles the samples,
// sorts every chunk of `chunk` batches' worth of them by length, cuts the chunk into batches and shuffles
// the batch order. A batch then holds sequences of similar length, so narrowing to its longest row removes
// most padding. Batches are built by the engine's own TrainBatches::batch_of (rows, padding, targets,
// negatives as in training).
class BucketBatches {
 public:
  BucketBatches(engine::TrainBatches& batches, int64_t batch_size, int64_t chunk, uint64_t seed)
      : batches_(batches), batch_size_(batch_size), chunk_(chunk), rng_(seed) {
    order_.resize(static_cast<size_t>(batches.num_samples()));
    std::iota(order_.begin(), order_.end(), 0);
  }

  int64_t num_batches() const { return batches_.num_batches(); }

  void shuffle() {
    std::shuffle(order_.begin(), order_.end(), rng_);
    const size_t span = static_cast<size_t>(chunk_ * batch_size_);
    for (size_t lo = 0; lo < order_.size(); lo += span) {
      const auto hi = order_.begin() + static_cast<std::ptrdiff_t>(std::min(order_.size(), lo + span));
      std::stable_sort(order_.begin() + static_cast<std::ptrdiff_t>(lo), hi, [&](int64_t a, int64_t b) {
        return batches_.sample_length(a) < batches_.sample_length(b);
      });
    }
    batch_order_.resize(static_cast<size_t>(num_batches()));
    std::iota(batch_order_.begin(), batch_order_.end(), 0);
    std::shuffle(batch_order_.begin(), batch_order_.end(), rng_);
  }

  Batch get(int64_t b) {
    const int64_t lo = batch_order_[static_cast<size_t>(b)] * batch_size_;
    const int64_t hi = std::min<int64_t>(lo + batch_size_, static_cast<int64_t>(order_.size()));
    return batches_.batch_of(std::vector<int64_t>(order_.begin() + lo, order_.begin() + hi));
  }

 private:
  engine::TrainBatches& batches_;
  int64_t batch_size_, chunk_;
  std::mt19937_64 rng_;
  std::vector<int64_t> order_, batch_order_;
};

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
  engine::TrainBatches bucket_source(task, bo, batch_seed);  // its own negatives stream, as a second batcher
  BucketBatches bucket_batches(bucket_source, bo.batch_size, o.bucket_chunk, batch_seed);
  const bool bucket = o.batches == "bucket";
  const int64_t total = bucket ? bucket_batches.num_batches() : engine_batches.num_batches();
  const int64_t n = o.max_batches > 0 ? std::min(o.max_batches, total) : total;

  model->set_length_groups(o.length_groups, o.group_cost);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3));
  std::cout << "# xrec engine, LibTorch " << TORCH_VERSION << ", " << threads << " threads, " << data.num_users()
            << " users, " << task.num_items() << " items, " << engine_batches.num_samples()
            << " training sequences, " << total << " batches/epoch, loss " << o.loss << ", batches " << o.batches
            << ", length groups " << (o.length_groups ? "on (cost " + std::to_string(o.group_cost) + ")" : "off")
            << ", load " << fixed(load_average(), 2) << std::endl;

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
      auto loss = model->loss(0, batch);
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
  out.str("batches", o.batches).str("length_groups", o.length_groups ? "on" : "off").num("group_cost", o.group_cost);
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
