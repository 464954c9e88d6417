#include "xrec/engine/evaluator.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "xrec/api/errors.hpp"

using namespace xrec;
using namespace xrec::engine;

namespace {
EvalCase make_case(std::vector<int64_t> history, int64_t target, std::vector<int64_t> negatives = {}) {
  EvalCase c;
  c.history = std::move(history);
  c.target = target;
  c.negatives = std::move(negatives);
  return c;
}
}  // namespace

TEST(Evaluator, FullRankingMasksHistoryAndPadding) {
  // Items 1..5. Scores: item 2 (history) and padding column are the highest but must not count.
  auto scores = torch::tensor({{9.0f, 0.5f, 8.0f, 0.7f, 0.1f, 0.6f}});
  EvalCase c = make_case({2}, 3);
  auto r = ranks_from_scores(scores.clone(), {&c}, "full");
  EXPECT_EQ(r[0].rank, 0);  // 0.7 beats the unmasked 0.5, 0.1, 0.6
  EXPECT_EQ(r[0].candidates, 4);  // items 1, 3, 4, 5
  EvalCase d = make_case({}, 5);
  r = ranks_from_scores(scores.clone(), {&d}, "full");
  EXPECT_EQ(r[0].rank, 2);  // 8.0 and 0.7 are above 0.6
  EXPECT_EQ(r[0].candidates, 5);
}

TEST(Evaluator, HistoryCanStayAmongTheCandidates) {
  auto scores = torch::tensor({{9.0f, 0.5f, 8.0f, 0.7f, 0.1f, 0.6f}});
  EvalCase c = make_case({2}, 3);
  auto r = ranks_from_scores(scores.clone(), {&c}, "full", HistoryMode::None);
  EXPECT_EQ(r[0].rank, 1);  // item 2 (seen, 8.0) now ranks above the target (0.7); padding stays out
  EXPECT_EQ(r[0].candidates, 5);
}

TEST(Evaluator, RepeatedTargetKeepsItsScore) {
  auto scores = torch::tensor({{0.0f, 0.9f, 0.2f, 0.1f}});
  EvalCase c = make_case({1, 2}, 1);  // target 1 was seen before: not masked
  auto r = ranks_from_scores(scores, {&c}, "full");
  EXPECT_EQ(r[0].rank, 0);
  EXPECT_EQ(r[0].candidates, 2);  // item 2 masked
}

// One hand-computed case per eval.history mode. Items 1..6, scores below; history {2, 4, 4}, target 4
// (a repeat). Unmasked order by score: 2 (0.9), 4 (0.8), 6 (0.5), 1 (0.4), 5 (0.3), 3 (0.1).
TEST(Evaluator, HistoryModesOnARepeatedTarget) {
  auto scores = torch::tensor({{5.0f, 0.4f, 0.9f, 0.1f, 0.8f, 0.3f, 0.5f}});
  EvalCase c = make_case({2, 4, 4}, 4);
  // keep_target: item 2 leaves, the target stays with its 0.8: first of {1, 3, 4, 5, 6}.
  auto r = ranks_from_scores(scores.clone(), {&c}, "full", HistoryMode::KeepTarget);
  EXPECT_EQ(r[0].rank, 0);
  EXPECT_EQ(r[0].candidates, 5);
  // mask_all: the target's score is gone too, it ranks behind the 4 other candidates {1, 3, 5, 6}.
  r = ranks_from_scores(scores.clone(), {&c}, "full", HistoryMode::MaskAll);
  EXPECT_EQ(r[0].rank, 4);
  EXPECT_EQ(r[0].candidates, 5);
  // none: every item competes, item 2 (0.9) is ahead; padding is never a candidate.
  r = ranks_from_scores(scores.clone(), {&c}, "full", HistoryMode::None);
  EXPECT_EQ(r[0].rank, 1);
  EXPECT_EQ(r[0].candidates, 6);
  // A new target (5, 0.3) is ranked the same by keep_target and mask_all: 1 (0.4) and 6 (0.5) ahead, 2 and 4 out.
  EvalCase d = make_case({2, 4, 4}, 5);
  for (auto mode : {HistoryMode::KeepTarget, HistoryMode::MaskAll}) {
    r = ranks_from_scores(scores.clone(), {&d}, "full", mode);
    EXPECT_EQ(r[0].rank, 2) << to_string(mode);
    EXPECT_EQ(r[0].candidates, 4) << to_string(mode);
  }
  r = ranks_from_scores(scores.clone(), {&d}, "full", HistoryMode::None);
  EXPECT_EQ(r[0].rank, 4);  // 2, 4, 6, 1 ahead
  EXPECT_EQ(r[0].candidates, 6);
  // The sampled protocol ignores the history mode.
  EvalCase e = make_case({2, 4, 4}, 4, {2, 3});
  EXPECT_EQ(ranks_from_scores(scores.clone(), {&e}, "sampled", HistoryMode::MaskAll)[0].rank, 1);
}

TEST(Evaluator, HistoryOptionAndItsDeprecatedAlias) {
  EXPECT_EQ(parse_history_mode("keep_target"), HistoryMode::KeepTarget);
  EXPECT_EQ(parse_history_mode("mask_all"), HistoryMode::MaskAll);
  EXPECT_EQ(parse_history_mode("none"), HistoryMode::None);
  EXPECT_THROW(parse_history_mode("mask"), InputError);
  auto params = [](std::string history, bool mask) {
    return Params("eval", {{"protocol", Value(std::string("full"))},
                           {"history", Value(history)},
                           {"mask_history", Value(mask)},
                           {"ks", Value(std::vector<int64_t>{10})},
                           {"batch_size", Value(int64_t{8})}});
  };
  EXPECT_EQ(eval_options_from(params("mask_all", true), 50).history, HistoryMode::MaskAll);
  EXPECT_EQ(eval_options_from(params("keep_target", false), 50).history, HistoryMode::None);  // old spelling
  EXPECT_EQ(eval_options_from(params("none", false), 50).history, HistoryMode::None);
  try {
    eval_options_from(params("mask_all", false), 50);
    FAIL() << "contradicting history options accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("eval.mask_history is deprecated"), std::string::npos) << e.what();
  }
}

TEST(Evaluator, ProtocolsDeclareTheirMetrics) {
  auto full = protocol_metrics("full", {10});
  EXPECT_NE(std::find(full.begin(), full.end(), "ndcg@10"), full.end());
  EXPECT_EQ(std::find(full.begin(), full.end(), "logloss"), full.end());
  EXPECT_EQ(protocol_metrics("sampled", {10}), full);
  EXPECT_EQ(protocol_metrics("pointwise", {10}), (std::vector<std::string>{"auc", "gauc", "logloss"}));
  EXPECT_EQ(metric_direction("logloss"), MetricDirection::Lower);
  EXPECT_EQ(metric_direction("gauc"), MetricDirection::Higher);
  EXPECT_THROW(protocol_metrics("pairwise", {10}), InputError);
}

// Exact ties are broken by a fixed order that is not the item id: ids follow first appearance, which favours
// popular items, so "lower id first" put tied test targets ahead of most of their group. Over a group of tied
// items the ranks are 0 .. n-1 (a constant scorer gets an average rank), the same on every call, and the
// low ids are spread over the group instead of leading it.
TEST(Evaluator, TiesAreBrokenByAFixedOrderUnrelatedToItemIds) {
  const int64_t n = 1000;
  auto scores = torch::zeros({1, n + 1});
  std::vector<int64_t> ranks;
  for (int64_t item = 1; item <= n; ++item) {
    EvalCase c = make_case({}, item);
    ranks.push_back(ranks_from_scores(scores.clone(), {&c}, "full", HistoryMode::None)[0].rank);
  }
  std::vector<int64_t> sorted = ranks;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t r = 0; r < n; ++r) ASSERT_EQ(sorted[static_cast<size_t>(r)], r);  // a permutation of 0 .. n-1
  double low = 0;
  for (int64_t item = 1; item <= 50; ++item) low += static_cast<double>(ranks[static_cast<size_t>(item - 1)]);
  low /= 50;
  EXPECT_GT(low, 0.3 * n);  // "lower id first" gave 24.5; uniform placement gives about 500 (sd about 41)
  EXPECT_LT(low, 0.7 * n);
  EvalCase again = make_case({}, 7);
  EXPECT_EQ(ranks_from_scores(scores.clone(), {&again}, "full", HistoryMode::None)[0].rank, ranks[6]);
  // A higher score still ranks ahead whatever the order, and the sampled protocol uses the same rule.
  scores[0][3] = 1;
  EvalCase three = make_case({}, 3);
  EXPECT_EQ(ranks_from_scores(scores.clone(), {&three}, "full", HistoryMode::None)[0].rank, 0);
  // The sampled protocol uses the same rule: target 1 tied with negatives {2, 4, 5} ranks as in the full
  // protocol with item 3 taken out (as a history item).
  auto zeros = torch::zeros({1, 6});
  EvalCase sampled = make_case({}, 1, {2, 4, 5}), without_three = make_case({3}, 1);
  EXPECT_EQ(ranks_from_scores(zeros.clone(), {&sampled}, "sampled")[0].rank,
            ranks_from_scores(zeros.clone(), {&without_three}, "full", HistoryMode::KeepTarget)[0].rank);
}

TEST(Evaluator, SampledRanksAgainstNegativesOnly) {
  auto scores = torch::tensor({{0.0f, 0.3f, 0.9f, 0.8f, 0.1f, 0.2f}});
  EvalCase c = make_case({}, 1, {4, 5});  // 0.3 vs 0.1, 0.2: first; 0.9 and 0.8 are not candidates
  auto r = ranks_from_scores(scores.clone(), {&c}, "sampled");
  EXPECT_EQ(r[0].rank, 0);
  EXPECT_EQ(r[0].candidates, 3);
  EvalCase d = make_case({}, 4, {1, 2, 3});
  EXPECT_EQ(ranks_from_scores(scores.clone(), {&d}, "sampled")[0].rank, 3);
}

TEST(Evaluator, BatchedEvaluationMatchesOneBatch) {
  std::vector<EvalCase> cases;
  for (int64_t u = 0; u < 37; ++u) cases.push_back(make_case({u % 7 + 1}, (u * 3) % 10 + 1));
  // A fixed scoring rule that depends on the history: score(i) = sin(i * last item).
  ScoreFn score = [](const torch::Tensor& inputs, const std::vector<const EvalCase*>&) {
    auto last = inputs.select(1, inputs.size(1) - 1).to(torch::kFloat).unsqueeze(1);
    return torch::sin(torch::arange(11, torch::kFloat).unsqueeze(0) * last);
  };
  EvalOptions big, small;
  big.batch_size = 100;
  small.batch_size = 4;
  auto a = rank_targets(cases, score, big), b = rank_targets(cases, score, small);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].rank, b[i].rank) << i;
    EXPECT_EQ(a[i].candidates, b[i].candidates) << i;
  }
  // Exact metrics on three hand-made cases over items 1..4, score(i) = i * 0.1 + 0.1 * [i == last history item]:
  // history {1} target 4: scores 0.2 (masked), 0.2, 0.3, 0.4 -> rank 0 of 3;
  // history {4} target 3: 0.1, 0.2, 0.3, 0.5 (masked) -> rank 0 of 3;
  // history {2} target 1: 0.1, 0.3 (masked), 0.3, 0.4 -> rank 2 of 3.
  std::vector<EvalCase> three = {make_case({1}, 4), make_case({4}, 3), make_case({2}, 1)};
  ScoreFn bump = [](const torch::Tensor& inputs, const std::vector<const EvalCase*>&) {
    auto last = inputs.select(1, inputs.size(1) - 1).unsqueeze(1);
    auto ids = torch::arange(5).unsqueeze(0);
    return ids.to(torch::kFloat) * 0.1f + ids.eq(last).to(torch::kFloat) * 0.1f;
  };
  EvalOptions o;
  o.ks = {1, 2};
  auto m = evaluate_cases(three, bump, o);
  EXPECT_DOUBLE_EQ(m.at("hr@1"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.at("hr@2"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.at("ndcg@2"), 2.0 / 3);             // two hits at rank 0 (gain 1), one miss
  EXPECT_DOUBLE_EQ(m.at("mrr"), (1.0 + 1.0 + 1.0 / 3) / 3);  // ranks 0, 0, 2
  EXPECT_DOUBLE_EQ(m.at("auc"), (1.0 + 1.0 + 0.0) / 3);     // others below the target: 2/2, 2/2, 0/2
}
