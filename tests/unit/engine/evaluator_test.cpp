#include "xrec/engine/evaluator.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

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
  auto r = ranks_from_scores(scores.clone(), {&c}, "full", /*mask_history=*/false);
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

TEST(Evaluator, TiesAreBrokenByItemId) {
  auto scores = torch::zeros({1, 6});
  EvalCase low = make_case({}, 1), high = make_case({}, 5);
  EXPECT_EQ(ranks_from_scores(scores.clone(), {&low}, "full")[0].rank, 0);
  EXPECT_EQ(ranks_from_scores(scores.clone(), {&high}, "full")[0].rank, 4);
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
  auto m = evaluate_cases(cases, score, small);
  EXPECT_GT(m.at("hr@10"), 0.0);
  EXPECT_LE(m.at("hr@10"), 1.0);
}
