// The pop baseline plugin: training counts by interactions and by users, the same row for every user.
#include <gtest/gtest.h>

#include <iostream>

#include "baseline_harness.hpp"

namespace xrec::test::baseline {
namespace {

// Items 1..5; item 3 is repeated by the second user, item 5 never appears.
std::unique_ptr<HandTask> counts_task() { return make_task(5, {{1, 2, 3}, {2, 3, 3}, {3, 4}}); }

TEST(PopBaseline, ScoresAreTrainingInteractionCountsForEveryUser) {
  auto t = counts_task();
  auto pop = make("pop");
  pop->fit(t->task);
  auto s = score(*pop, {{1, 2}, {}, {5, 5, 4}}, 5);
  for (size_t b = 0; b < s.size(); ++b) {
    expect_row(s[b], {0, 1, 2, 4, 1, 0}, "row " + std::to_string(b));
    EXPECT_EQ(s[b][0], 0.0f);
  }
  // Equal counts (items 1 and 4) stay tied: the evaluator breaks the tie by id.
  EXPECT_EQ(ranking(s[0]), (std::vector<int64_t>{3, 2, 1, 4, 5}));
}

TEST(PopBaseline, ByUsersCountsEachUserOnce) {
  auto t = counts_task();
  auto pop = make("pop", {{"by", "users"}});
  pop->fit(t->task);
  expect_row(score(*pop, {{1}}, 5)[0], {0, 1, 2, 3, 1, 0}, "by users");
}

TEST(PopBaseline, PaddingInTrainingIsSkippedAndRefittingReplacesCounts) {
  auto pop = make("pop");
  auto a = make_task(3, {{0, 0, 1, 2}, {0, 2}});
  pop->fit(a->task);
  expect_row(score(*pop, {{}}, 3)[0], {0, 1, 2, 0}, "first fit");
  auto b = make_task(4, {{4, 4, 4}});
  pop->fit(b->task);
  expect_row(score(*pop, {{}}, 4)[0], {0, 0, 0, 0, 3}, "second fit");
}

TEST(PopBaseline, EmptyBatchGivesZeroRows) {
  auto t = counts_task();
  auto pop = make("pop");
  pop->fit(t->task);
  torch::Tensor s = pop->score({});
  EXPECT_EQ(s.size(0), 0);
  EXPECT_EQ(s.size(1), 6);
}

TEST(PopBaseline, BadInputIsAnInputError) {
  EXPECT_NE(spec_error("pop", "by", "clicks"), "");
  expect_input_error([] { make("pop", {{"by", "clicks"}}, false); }, {"baseline (pop)", "by", "clicks", "users"});
  auto pop = make("pop");
  auto out_of_range = make_task(3, {{1, 4}});
  expect_input_error([&] { pop->fit(out_of_range->task); }, {"baseline (pop)", "item id 4", "1..3"});
  Task no_data;
  expect_input_error([&] { pop->fit(no_data); }, {"baseline (pop)", "domain data"});
  auto t = counts_task();
  pop->fit(t->task);
  expect_input_error([&] { score(*pop, {{1}, {6}}, 5); }, {"baseline (pop)", "history 1", "item id 6", "0..5"});
}

TEST(PopBaseline, ScoringBeforeFitIsAnError) {
  auto pop = make("pop");
  const std::vector<int64_t> h{1};
  EXPECT_THROW(pop->score({&h}), Error);
}

// The numbers of `xrec run` with `baseline: {type: pop}` on Amazon Beauty (full ranking, leave-one-out),
// recomputed here: the plugin ranks the same through the host and alone. Fitting and scoring all 22363 users
// must take seconds.
TEST(PopBaseline, BeautyTestNumbersMatchTheHostRun) {
  const Task* beauty_task = beauty();
  if (!beauty_task) GTEST_SKIP() << "real data not found at " << XREC_TEST_SHARED_DATA;
  ASSERT_EQ(beauty_task->test.size(), 22363u);
  auto b = make("pop");
  const FullRanking r = rank_full(*b, *beauty_task, beauty_task->test, 10);
  std::cout << "[ pop   ] Beauty test hr@10 " << static_cast<double>(r.hits) / 22363 << ", ndcg@10 " << r.ndcg
            << "; fit + score " << r.seconds << " s\n";
  EXPECT_EQ(r.hits, 258);  // hr@10 = 0.0115369
  EXPECT_NEAR(r.ndcg, 0.00545613728709575, 1e-9);
  EXPECT_LT(r.seconds, 30);
}

}  // namespace
}  // namespace xrec::test::baseline
