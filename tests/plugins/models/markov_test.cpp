// The markov baseline plugin: transition probabilities of the last history item and the popularity
// backoff, computed by hand.
//
// Training {1, 2, 3}, {1, 2, 4}, {1, 3}, {2, 2}, {5, 5, 5, 5, 5}, items 1..5:
//   transitions 1->2 x2, 1->3 x1 (3 out of 1), 2->3, 2->4, 2->2 (3 out of 2), 5->5 x4, none out of 3, 4
//   popularity 1: 3, 2: 4, 3: 2, 4: 1, 5: 5 (max 5): not the id order, so a tie broken by popularity shows
#include <gtest/gtest.h>

#include <iostream>

#include "baseline_harness.hpp"

namespace xrec::test::baseline {
namespace {

std::unique_ptr<HandTask> chain() { return make_task(5, {{1, 2, 3}, {1, 2, 4}, {1, 3}, {2, 2}, {5, 5, 5, 5, 5}}); }

// backoff * popularity / max popularity, with the default backoff 1e-6.
double prior(int64_t item) {
  const double pop[] = {0, 3, 4, 2, 1, 5};
  return 1e-6 * pop[item] / 5;
}

std::vector<float> fit_and_score(const std::map<std::string, Value>& params, const std::vector<int64_t>& history) {
  auto t = chain();
  auto m = make("markov", params);
  m->fit(t->task);
  return score(*m, {history}, 5)[0];
}

TEST(MarkovBaseline, MaximumLikelihoodTransitionsOfTheLastItem) {
  expect_row(fit_and_score({}, {4, 1}), {0, prior(1), 2.0 / 3 + prior(2), 1.0 / 3 + prior(3), prior(4), prior(5)},
             "last item 1");
  expect_row(fit_and_score({}, {1, 2}),
             {0, prior(1), 1.0 / 3 + prior(2), 1.0 / 3 + prior(3), 1.0 / 3 + prior(4), prior(5)}, "last item 2");
  expect_row(fit_and_score({}, {5}), {0, prior(1), prior(2), prior(3), prior(4), 1 + prior(5)}, "last item 5");
  // Padding after the last item is skipped.
  expect_row(fit_and_score({}, {2, 1, 0}), {0, prior(1), 2.0 / 3 + prior(2), 1.0 / 3 + prior(3), prior(4), prior(5)},
             "trailing padding");
}

TEST(MarkovBaseline, BackoffOrdersWhatTheChainTiesByPopularity) {
  // After 1, items 1, 4 and 5 have P = 0: popularity decides (5: 5 > 1: 3 > 4: 1), not the id.
  EXPECT_EQ(ranking(fit_and_score({}, {1})), (std::vector<int64_t>{2, 3, 5, 1, 4}));
  // After 2, items 2, 3 and 4 tie at 1/3: popularity 4 > 2 > 1 keeps them apart, then 5 before 1.
  EXPECT_EQ(ranking(fit_and_score({}, {2})), (std::vector<int64_t>{2, 3, 4, 5, 1}));
  // Items 3 and 4 were never followed by anything: pure popularity.
  for (int64_t last : {3, 4}) {
    expect_row(fit_and_score({}, {last}), {0, prior(1), prior(2), prior(3), prior(4), prior(5)},
               "last item " + std::to_string(last));
    EXPECT_EQ(ranking(fit_and_score({}, {last})), (std::vector<int64_t>{5, 2, 1, 3, 4}));
  }
  // No backoff: the chain's ties fall back to ids.
  expect_row(fit_and_score({{"backoff", 0.0}}, {1}), {0, 0, 2.0 / 3, 1.0 / 3, 0, 0}, "no backoff");
  EXPECT_EQ(ranking(fit_and_score({{"backoff", 0.0}}, {1})), (std::vector<int64_t>{2, 3, 1, 4, 5}));
  EXPECT_EQ(ranking(fit_and_score({{"backoff", 0.0}}, {2})), (std::vector<int64_t>{2, 3, 4, 1, 5}));
  EXPECT_EQ(ranking(fit_and_score({{"backoff", 0.0}}, {3})), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  // A larger backoff scales the prior.
  expect_row(fit_and_score({{"backoff", 1e-3}}, {3}), {0, 1e3 * prior(1), 1e3 * prior(2), 1e3 * prior(3),
                                                        1e3 * prior(4), 1e3 * prior(5)}, "backoff 1e-3");
}

TEST(MarkovBaseline, AdditiveSmoothing) {
  // alpha = 1 over 5 items after 1: (c + 1) / (3 + 5).
  expect_row(fit_and_score({{"alpha", 1.0}}, {1}),
             {0, 1.0 / 8 + prior(1), 3.0 / 8 + prior(2), 2.0 / 8 + prior(3), 1.0 / 8 + prior(4), 1.0 / 8 + prior(5)},
             "alpha 1 after 1");
  // Never followed by anything: uniform 1/5, ordered by popularity.
  expect_row(fit_and_score({{"alpha", 1.0}}, {4}),
             {0, 0.2 + prior(1), 0.2 + prior(2), 0.2 + prior(3), 0.2 + prior(4), 0.2 + prior(5)}, "alpha 1 after 4");
  EXPECT_EQ(ranking(fit_and_score({{"alpha", 1.0}}, {1})), (std::vector<int64_t>{2, 3, 5, 1, 4}));
}

TEST(MarkovBaseline, EmptyHistoryIsPopularity) {
  auto t = chain();
  auto m = make("markov");
  m->fit(t->task);
  auto s = score(*m, {{}, {0, 0}, {1}}, 5);
  for (int r : {0, 1}) {
    expect_row(s[r], {0, prior(1), prior(2), prior(3), prior(4), prior(5)}, "empty row " + std::to_string(r));
    EXPECT_EQ(ranking(s[r]), (std::vector<int64_t>{5, 2, 1, 3, 4}));
  }
  EXPECT_NEAR(s[2][2], 2.0 / 3 + prior(2), 1e-6);  // rows are independent
}

TEST(MarkovBaseline, BadInputIsAnInputError) {
  EXPECT_NE(spec_error("markov", "alpha", -0.5), "");
  EXPECT_NE(spec_error("markov", "backoff", 0.5), "");
  expect_input_error([] { make("markov", {{"alpha", -0.5}}, false); }, {"baseline (markov)", "alpha", ">= 0"});
  expect_input_error([] { make("markov", {{"backoff", 0.5}}, false); }, {"baseline (markov)", "backoff"});
  auto m = make("markov");
  const std::vector<int64_t> h{1};
  EXPECT_THROW(m->score({&h}), Error);  // not fitted
  auto bad = make_task(2, {{1, 2, 3}});
  expect_input_error([&] { m->fit(bad->task); }, {"baseline (markov)", "item id 3", "1..2"});
  auto t = chain();
  m->fit(t->task);
  expect_input_error([&] { score(*m, {{1, 6}}, 5); }, {"baseline (markov)", "item id 6"});
}

// The numbers of `xrec run` with `baseline: {type: markov}` on Amazon Beauty (full ranking, leave-one-out),
// recomputed here: the plugin ranks the same through the host and alone. Fitting and scoring all 22363 users
// must take seconds.
TEST(MarkovBaseline, BeautyTestNumbersMatchTheHostRun) {
  const Task* beauty_task = beauty();
  if (!beauty_task) GTEST_SKIP() << "real data not found at " << XREC_TEST_SHARED_DATA;
  ASSERT_EQ(beauty_task->test.size(), 22363u);
  auto b = make("markov");
  const FullRanking r = rank_full(*b, *beauty_task, beauty_task->test, 10);
  std::cout << "[ markov   ] Beauty test hr@10 " << static_cast<double>(r.hits) / 22363 << ", ndcg@10 " << r.ndcg
            << "; fit + score " << r.seconds << " s\n";
  EXPECT_EQ(r.hits, 1494);  // hr@10 = 0.0668068
  EXPECT_NEAR(r.ndcg, 0.0439516374669687, 1e-9);
  EXPECT_LT(r.seconds, 30);
}

}  // namespace
}  // namespace xrec::test::baseline
