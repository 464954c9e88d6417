// The itemknn baseline plugin on a 4-item example computed by hand.
//
// Training users (binary incidence; the repeated 1 of the first user counts once):
//   u1 {1, 2, 3}, u2 {1, 2}, u3 {2, 3, 4}, u4 {1, 4}
// Users per item n = (3, 3, 2, 2); co-occurrences co(1,2) = 2, co(2,3) = 2, every other pair 1. Cosine:
//   s12 = 2/3, s23 = 2/sqrt(6), s34 = 1/2, s13 = s14 = s24 = 1/sqrt(6)
// Neighbours best first (ties by lower id): 1: 2, 3, 4 | 2: 3, 1, 4 | 3: 2, 4, 1 | 4: 3, 1, 2
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "baseline_harness.hpp"

namespace xrec::test::baseline {
namespace {

const double s12 = 2.0 / 3, s23 = 2 / std::sqrt(6.0), s34 = 0.5, s13 = 1 / std::sqrt(6.0), s14 = s13, s24 = s13;

std::unique_ptr<HandTask> four_items() { return make_task(4, {{1, 2, 3, 1}, {1, 2}, {2, 3, 4}, {1, 4}}); }

std::vector<float> fit_and_score(const std::map<std::string, Value>& params, const std::vector<int64_t>& history) {
  auto t = four_items();
  auto knn = make("itemknn", params);
  knn->fit(t->task);
  return score(*knn, {history}, 4)[0];
}

TEST(ItemKNNBaseline, CosineOfOneItemGivesItsSimilarities) {
  expect_row(fit_and_score({}, {1}), {0, 0, s12, s13, s14}, "history {1}");
  expect_row(fit_and_score({}, {1, 4}), {0, s14, s12 + s24, s13 + s34, s14}, "history {1, 4}");
}

TEST(ItemKNNBaseline, TopKKeepsTheMostSimilarNeighboursOfEachHistoryItem) {
  // k = 1: 1 keeps 2, 4 keeps 3.
  expect_row(fit_and_score({{"neighbours", 1}}, {1, 4}), {0, 0, s12, s34, 0}, "k = 1");
  // k = 2: 1 keeps 2 and 3 (3 ties 4, lower id wins), 4 keeps 3 and 1 (1 ties 2).
  expect_row(fit_and_score({{"neighbours", 2}}, {1, 4}), {0, s14, s12, s13 + s34, 0}, "k = 2");
}

TEST(ItemKNNBaseline, CandidateNeighboursAsInRecBole) {
  // Item j sums over history items among j's own top-k: N(1) = {2}, N(2) = {3}, N(3) = {2}, N(4) = {3} for
  // k = 1, so a history {1, 4} reaches nothing; k = 2: N(2) = {3, 1}, N(3) = {2, 4}, N(4) = {3, 1}.
  expect_row(fit_and_score({{"neighbours", 1}, {"neighbours_of", "candidate"}}, {1, 4}), {0, 0, 0, 0, 0}, "k = 1");
  expect_row(fit_and_score({{"neighbours", 2}, {"neighbours_of", "candidate"}}, {1, 4}), {0, 0, s12, s34, s14},
             "k = 2");
}

TEST(ItemKNNBaseline, ShrinkDampsTheCosine) {
  const double r6 = std::sqrt(6.0);
  // sim = co / (sqrt(n_i n_j) + 1)
  expect_row(fit_and_score({{"shrink", 1.0}}, {1, 4}),
             {0, 1 / (r6 + 1), 2.0 / 4 + 1 / (r6 + 1), 1 / (r6 + 1) + 1.0 / 3, 1 / (r6 + 1)}, "shrink 1");
}

TEST(ItemKNNBaseline, CooccurrenceCountsWithTheTopKCut) {
  // co(4, 1) = co(4, 2) = co(4, 3) = 1: k = 1 keeps item 1 (lowest id).
  expect_row(fit_and_score({{"similarity", "cooccurrence"}, {"neighbours", 1}}, {1, 4}), {0, 1, 2, 0, 0}, "co, k = 1");
  expect_row(fit_and_score({{"similarity", "cooccurrence"}}, {2}), {0, 2, 0, 2, 1}, "co, history {2}");
}

TEST(ItemKNNBaseline, RecencyWeighsTheLatestOccurrence) {
  // The last item weighs 1, the one before 0.5; the earlier 4 of {4, 1, 4} does not count twice.
  const std::vector<double> expected{0, s14, 0.5 * s12 + s24, 0.5 * s13 + s34, 0.5 * s14};
  expect_row(fit_and_score({{"recency", 0.5}}, {1, 4}), expected, "recency 0.5");
  expect_row(fit_and_score({{"recency", 0.5}}, {4, 1, 4}), expected, "repeated 4");
  // Without decay a repeated item still counts once (binary history, as the incidence).
  expect_row(fit_and_score({}, {4, 1, 4, 1}), {0, s14, s12 + s24, s13 + s34, s14}, "repeats, no decay");
}

TEST(ItemKNNBaseline, EmptyHistoryAndUnseenItemsScoreZero) {
  auto t = make_task(5, {{1, 2, 3, 1}, {1, 2}, {2, 3, 4}, {1, 4}});  // item 5 never seen
  auto knn = make("itemknn");
  knn->fit(t->task);
  auto s = score(*knn, {{}, {5}, {0, 0, 1}}, 5);
  expect_row(s[0], {0, 0, 0, 0, 0, 0}, "empty history");
  expect_row(s[1], {0, 0, 0, 0, 0, 0}, "unseen item");
  expect_row(s[2], {0, 0, s12, s13, s14, 0}, "padded history");
}

TEST(ItemKNNBaseline, BadInputIsAnInputError) {
  EXPECT_NE(spec_error("itemknn", "similarity", "jaccard"), "");
  EXPECT_NE(spec_error("itemknn", "neighbours", 0), "");
  EXPECT_NE(spec_error("itemknn", "shrink", -1.0), "");
  EXPECT_NE(spec_error("itemknn", "recency", 1.5), "");
  expect_input_error([] { make("itemknn", {{"similarity", "jaccard"}}, false); },
                     {"baseline (itemknn)", "similarity", "jaccard", "cosine"});
  expect_input_error([] { make("itemknn", {{"neighbours", 0}}, false); }, {"baseline (itemknn)", "neighbours", ">= 1"});
  expect_input_error([] { make("itemknn", {{"shrink", -1.0}}, false); }, {"baseline (itemknn)", "shrink"});
  expect_input_error([] { make("itemknn", {{"recency", 1.5}}, false); }, {"baseline (itemknn)", "recency", "[0, 1]"});
  expect_input_error([] { make("itemknn", {{"neighbours_of", "user"}}, false); },
                     {"baseline (itemknn)", "neighbours_of", "candidate"});
  auto knn = make("itemknn");
  auto bad = make_task(4, {{1, 2}, {3, -1}});
  expect_input_error([&] { knn->fit(bad->task); }, {"baseline (itemknn)", "training sequence 1", "item id -1"});
  const std::vector<int64_t> h{1};
  EXPECT_THROW(knn->score({&h}), Error);  // not fitted
  auto t = four_items();
  knn->fit(t->task);
  expect_input_error([&] { score(*knn, {{9}}, 4); }, {"baseline (itemknn)", "item id 9"});
}

// The numbers of `xrec run` with `baseline: {type: itemknn}` on Amazon Beauty (full ranking, leave-one-out),
// recomputed here: the plugin ranks the same through the host and alone. Fitting and scoring all 22363 users
// must take seconds.
TEST(ItemKNNBaseline, BeautyTestNumbersMatchTheHostRun) {
  const Task* beauty_task = beauty();
  if (!beauty_task) GTEST_SKIP() << "real data not found at " << XREC_TEST_SHARED_DATA;
  ASSERT_EQ(beauty_task->test.size(), 22363u);
  auto b = make("itemknn");
  const FullRanking r = rank_full(*b, *beauty_task, beauty_task->test, 10);
  std::cout << "[ itemknn   ] Beauty test hr@10 " << static_cast<double>(r.hits) / 22363 << ", ndcg@10 " << r.ndcg
            << "; fit + score " << r.seconds << " s\n";
  EXPECT_EQ(r.hits, 1235);  // hr@10 = 0.0552251
  EXPECT_NEAR(r.ndcg, 0.0316473151280173, 1e-9);
  EXPECT_LT(r.seconds, 30);
}

}  // namespace
}  // namespace xrec::test::baseline
