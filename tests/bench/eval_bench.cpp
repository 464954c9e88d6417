// xrec_bench_eval: users per second of the engine's full-ranking evaluation (engine::evaluate_cases with a
// SASRec HostSequenceModel, every Beauty user's test case, batch 1024) against the bound of a bare
// torch::matmul of the same [users, D] x [D, I+1] shapes plus topk(k=20), measured in the same run.
//
//   xrec_bench_eval --data Beauty.txt [--threads 2] [--repeat 3] [--batch 1024] [--seed 42] [--plugins DIR]
//
// Besides the engine and the bound it times, on the same cases: the engine's parts (pack_histories,
// score_next, ranks_from_scores, in rank_targets' order), the engine under c10::InferenceMode, and the
// engine scoring through the backbone's full forward instead of forward_last (every position of the last
// block computed, as before forward_last existed; its ranks are checked equal).
// The model is freshly initialised: speed does not depend on the weights. Medians of --repeat runs.
#include <ATen/Parallel.h>

#include <cstdlib>
#include <limits>
#include <numeric>

#include "bench_args.hpp"
#include "sasrec_bench_common.hpp"
#include "xrec/engine/batching.hpp"
#include "xrec/engine/evaluator.hpp"
#include "xrec/engine/runtime.hpp"

using namespace xrec;
using namespace xrec::bench;

namespace {

struct Options {
  std::string data, plugins;
  int64_t threads = 2, repeat = 3, batch = 1024, seed = 42;
};

const char* const kUsage =
    "usage: xrec_bench_eval --data Beauty.txt [--threads 2] [--repeat 3] [--batch 1024] [--seed 42] [--plugins DIR]\n";

Options parse(int argc, char** argv) {
  Options o;
  Args a("xrec_bench_eval", kUsage, argc, argv);
  while (a.next()) {
    if (a.is("--data")) o.data = a.value();
    else if (a.is("--plugins")) o.plugins = a.value();
    else if (a.is("--threads")) o.threads = a.integer(1);
    else if (a.is("--repeat")) o.repeat = a.integer(1);
    else if (a.is("--batch")) o.batch = a.integer(1);
    else if (a.is("--seed")) o.seed = a.integer(0);
    else a.unknown();
  }
  if (o.data.empty()) a.fail("--data FILE is required (S3-Rec's Beauty.txt)");
  return o;
}

// rank_targets' batching: cases sorted by history length (stable), batches of options.batch_size. Calls
// fn(first position in that order, the batch's cases, their histories).
template <class Fn>
void for_each_engine_batch(const std::vector<EvalCase>& cases, int64_t batch_size, Fn fn) {
  std::vector<size_t> order(cases.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return cases[x].history.size() < cases[y].history.size(); });
  for (size_t lo = 0; lo < cases.size(); lo += static_cast<size_t>(batch_size)) {
    const size_t hi = std::min(cases.size(), lo + static_cast<size_t>(batch_size));
    std::vector<const EvalCase*> batch;
    std::vector<const std::vector<int64_t>*> histories;
    std::vector<size_t> at;
    for (size_t i = lo; i < hi; ++i) {
      batch.push_back(&cases[order[i]]);
      histories.push_back(&cases[order[i]].history);
      at.push_back(order[i]);
    }
    fn(at, batch, histories);
  }
}

// rank_targets' batching, with the time of each part and a choice of ranking function.
struct Parts {
  double pack = 0, score = 0, rank = 0;
  std::vector<Ranking> ranks;
};

bool same(const std::vector<Ranking>& a, const std::vector<Ranking>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].rank != b[i].rank || a[i].candidates != b[i].candidates) return false;
  return true;
}

// Scores of two scoring paths on the same packed batches: the largest score difference, and every case whose
// target rank differs, split into those a near-tie explains (the rank moved by no more than the number of
// candidates whose score is within twice the row's largest difference of the target's) and the rest. Two
// mathematically equal paths differ in the last bits (another summation order), and on an untrained model
// many scores are near-equal, so equal ranks cannot be demanded; unexplained moves are a real divergence.
struct Agreement {
  double max_abs_diff = 0, max_abs_score = 0;
  int64_t differing = 0, explained = 0, max_rank_move = 0;
  bool consistent() const { return differing == explained && max_abs_diff <= 1e-4 * std::max(1.0, max_abs_score); }
};

Agreement compare_scoring(const std::vector<EvalCase>& cases, const engine::ScoreFn& a, const engine::ScoreFn& b,
                          const engine::EvalOptions& options) {
  torch::NoGradGuard no_grad;
  Agreement g;
  for_each_engine_batch(cases, options.batch_size, [&](const std::vector<size_t>&,
                                                       const std::vector<const EvalCase*>& batch,
                                                       const std::vector<const std::vector<int64_t>*>& histories) {
    auto packed = engine::pack_histories(histories, options.max_len);
    auto sa = a(packed, batch), sb = b(packed, batch);
    auto diff = (sa - sb).abs();
    g.max_abs_diff = std::max(g.max_abs_diff, diff.max().item<double>());
    g.max_abs_score = std::max(g.max_abs_score, sa.abs().max().item<double>());
    const auto ra = engine::ranks_from_scores(sa, batch, "full"), rb = engine::ranks_from_scores(sb, batch, "full");
    const auto row_diff = diff.amax(1);
    for (size_t i = 0; i < batch.size(); ++i) {
      const int64_t move = std::llabs(ra[i].rank - rb[i].rank);
      if (move == 0 && ra[i].candidates == rb[i].candidates) continue;
      ++g.differing;
      g.max_rank_move = std::max(g.max_rank_move, move);
      const auto row = sa[static_cast<int64_t>(i)];
      const double tol = 2 * row_diff[static_cast<int64_t>(i)].item<double>();
      const int64_t near = ((row - row[batch[i]->target]).abs() <= tol).sum().item<int64_t>() - 1;
      if (ra[i].candidates == rb[i].candidates && move <= near) ++g.explained;
    }
  });
  return g;
}

template <class RankFn>
Parts timed_rank_targets(const std::vector<EvalCase>& cases, const engine::ScoreFn& score,
                         const engine::EvalOptions& options, RankFn rank) {
  torch::NoGradGuard no_grad;
  Parts p;
  p.ranks.resize(cases.size());
  for_each_engine_batch(cases, options.batch_size, [&](const std::vector<size_t>& at,
                                                       const std::vector<const EvalCase*>& batch,
                                                       const std::vector<const std::vector<int64_t>*>& histories) {
    auto t0 = Clock::now();
    auto packed = engine::pack_histories(histories, options.max_len);
    auto t1 = Clock::now();
    auto scores = score(packed, batch);
    auto t2 = Clock::now();
    auto r = rank(scores, batch);
    auto t3 = Clock::now();
    for (size_t i = 0; i < at.size(); ++i) p.ranks[at[i]] = r[i];
    p.pack += std::chrono::duration<double>(t1 - t0).count();
    p.score += std::chrono::duration<double>(t2 - t1).count();
    p.rank += std::chrono::duration<double>(t3 - t2).count();
  });
  return p;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  auto log = quiet_logger();
  Registry registry;
  load_plugins(registry, o.plugins, log);
  const int threads = engine::configure_threads(o.threads);
  engine::tune_allocator();
  engine::seed_everything(static_cast<uint64_t>(o.seed));

  const DomainData data = load_sequences(registry, o.data, log);
  const Task task = engine::leave_one_out(data, "target", engine::SplitOptions{});
  const std::vector<EvalCase>& cases = task.test;
  const double users = static_cast<double>(cases.size());
  auto model = make_sasrec(registry, task.num_items(), ModelOptions{}, log);
  model->eval();

  engine::EvalOptions eo;  // full protocol, ks 5/10/20
  eo.batch_size = o.batch;
  eo.max_len = model->backbone().max_len();
  engine::ScoreFn score = [&](const torch::Tensor& inputs, const std::vector<const EvalCase*>&) {
    return model->score_next(0, inputs);
  };
  auto items = model->item_vectors(0).detach();  // [I+1, D]
  const int64_t D = items.size(1), I1 = items.size(0);
  std::cout << "# xrec_bench_eval: LibTorch " << TORCH_VERSION << ", " << threads << " threads, " << cases.size()
            << " users (test cases), " << I1 - 1 << " items, D " << D << ", batch " << o.batch << ", median of "
            << o.repeat << ", load " << fixed(load_average(), 2) << std::endl;

  // Scores from the backbone's full forward, last column: what score_next computed before forward_last.
  engine::ScoreFn full_forward_score = [&](const torch::Tensor& inputs, const std::vector<const EvalCase*>&) {
    auto states = model->encode(0, inputs);
    return torch::matmul(states.select(1, states.size(1) - 1), model->item_vectors(0).t());
  };

  std::vector<double> engine_s, inference_s, bound_s, matmul_s, pack_s, score_s, rank_s, full_s, full_score_s;
  MetricMap metrics;
  bool same_ranks = true;
  for (int64_t r = 0; r < o.repeat; ++r) {
    auto t0 = Clock::now();
    metrics = engine::evaluate_cases(cases, score, eo);
    engine_s.push_back(seconds_since(t0));

    t0 = Clock::now();
    {
      c10::InferenceMode guard;
      engine::evaluate_cases(cases, score, eo);
    }
    inference_s.push_back(seconds_since(t0));

    // The bound: one [batch, D] x [D, I+1] matmul and topk(20) per batch of users, nothing else.
    const auto states = torch::randn({static_cast<int64_t>(cases.size()), D});
    t0 = Clock::now();
    {
      torch::NoGradGuard no_grad;
      for (int64_t lo = 0; lo < states.size(0); lo += o.batch) {
        auto s = torch::matmul(states.slice(0, lo, std::min(states.size(0), lo + o.batch)), items.t());
        auto top = std::get<1>(s.topk(20, 1));
        (void)top;
      }
    }
    bound_s.push_back(seconds_since(t0));
    t0 = Clock::now();
    {
      torch::NoGradGuard no_grad;
      for (int64_t lo = 0; lo < states.size(0); lo += o.batch)
        (void)torch::matmul(states.slice(0, lo, std::min(states.size(0), lo + o.batch)), items.t());
    }
    matmul_s.push_back(seconds_since(t0));

    auto engine_ranks = [](const torch::Tensor& s, const std::vector<const EvalCase*>& c) {
      return engine::ranks_from_scores(s, c, "full");
    };
    Parts parts = timed_rank_targets(cases, score, eo, engine_ranks);
    pack_s.push_back(parts.pack);
    score_s.push_back(parts.score);
    rank_s.push_back(parts.rank);
    Parts full = timed_rank_targets(cases, full_forward_score, eo, engine_ranks);
    full_s.push_back(full.pack + full.score + full.rank);
    full_score_s.push_back(full.score);
    same_ranks = same_ranks && same(full.ranks, parts.ranks);
  }

  const Agreement agree = compare_scoring(cases, score, full_forward_score, eo);
  const double engine_m = median(engine_s), bound_m = median(bound_s), inference_m = median(inference_s);
  auto row = [&](const std::string& what, double s) {
    std::cout << "| " << what << " | " << fixed(s, 3) << " | " << fixed(users / s, 0) << " | " << fixed(s / bound_m, 2)
              << "x |\n";
  };
  std::cout << "\n| what | seconds | users/s | / bound |\n|---|---:|---:|---:|\n";
  row("engine evaluate_cases (full ranking, NoGradGuard)", engine_m);
  row("  its pack_histories", median(pack_s));
  row("  its score_next (encode + [B, D] x [D, I+1])", median(score_s));
  row("  its ranks_from_scores (mask + rank)", median(rank_s));
  row("engine evaluate_cases under c10::InferenceMode", inference_m);
  row("engine with the full forward (no forward_last)", median(full_s));
  row("  its scoring", median(full_score_s));
  row("bound: matmul [users, D] x [D, I+1] + topk(20)", bound_m);
  row("  its matmul alone", median(matmul_s));
  std::cout << "\nengine / bound = " << fixed(engine_m / bound_m, 2) << "x (goal <= 2x); ranks through the full forward "
            << (same_ranks ? "equal" : "differ from") << " the engine's; ndcg@10 " << fixed(metrics.at("ndcg@10"), 4)
            << " (untrained model)\nscores, full forward vs score_next: max |diff| " << agree.max_abs_diff << " (max |score| "
            << agree.max_abs_score << "); " << agree.differing << " of " << cases.size() << " target ranks differ, "
            << agree.explained << " by near-ties, largest move " << agree.max_rank_move << ": "
            << (agree.consistent() ? "consistent" : "INCONSISTENT") << "\n";
  Json out;
  out.str("impl", "xrec-eval")
      .num("threads", threads)
      .num("users", users)
      .num("engine_seconds", engine_m)
      .num("inference_mode_seconds", inference_m)
      .num("pack_seconds", median(pack_s))
      .num("score_seconds", median(score_s))
      .num("rank_seconds", median(rank_s))
      .num("bound_seconds", bound_m)
      .num("matmul_seconds", median(matmul_s))
      .num("ratio", engine_m / bound_m)
      .num("full_forward_seconds", median(full_s))
      .num("full_forward_score_seconds", median(full_score_s))
      .num("same_ranks", same_ranks ? 1 : 0)
      .num("max_abs_score_diff", agree.max_abs_diff)
      .num("differing_ranks", static_cast<double>(agree.differing))
      .num("differing_ranks_explained_by_ties", static_cast<double>(agree.explained))
      .num("load", load_average());
  std::cout << out.text() << std::endl;
  return agree.consistent() ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "xrec_bench_eval: " << e.what() << "\n";
  return 1;
}
