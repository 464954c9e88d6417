#include "xrec/data/split.hpp"

#include <gtest/gtest.h>

#include <set>

#include "xrec/api/errors.hpp"

using namespace xrec;
using namespace xrec::engine;

namespace {
DomainData toy() {
  DomainData d;
  d.name = "toy";
  d.num_items = 30;
  d.sequences = {{1, 2, 3, 4}, {5, 6}, {7}, {8, 9, 10}};
  return d;
}
}  // namespace

TEST(Split, LeaveOneOutByTime) {
  DomainData d = toy();
  Task t = leave_one_out(d, "target", SplitOptions{});
  ASSERT_EQ(t.train.size(), 3u);  // the single-item user is dropped
  EXPECT_EQ(t.train[0], (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(t.train[1], (std::vector<int64_t>{5, 6}));  // too short to evaluate: training only
  EXPECT_EQ(t.train[2], (std::vector<int64_t>{8}));
  ASSERT_EQ(t.valid.size(), 2u);
  EXPECT_EQ(t.valid[0].user, 0);
  EXPECT_EQ(t.valid[0].history, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(t.valid[0].target, 3);
  EXPECT_EQ(t.test[0].history, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(t.test[0].target, 4);
  EXPECT_EQ(t.test[1].user, 3);
  EXPECT_EQ(t.test[1].target, 10);
}

TEST(Split, NothingToEvaluateIsAnError) {
  DomainData d;
  d.name = "short";
  d.num_items = 3;
  d.sequences = {{1, 2}, {2, 3}};
  EXPECT_THROW(leave_one_out(d, "target", SplitOptions{}), InputError);
}

TEST(Split, UniformNegativesAvoidTheUsersItemsAndRepeatWithTheSeed) {
  DomainData d = toy();
  Task a = leave_one_out(d, "target", {}), b = leave_one_out(d, "target", {}), c = leave_one_out(d, "target", {});
  NegativeOptions o;
  o.count = 20;
  o.seed = 7;
  attach_negatives(a, o);
  attach_negatives(b, o);
  o.seed = 8;
  attach_negatives(c, o);
  for (auto& cs : a.test) {
    ASSERT_EQ(cs.negatives.size(), 20u);
    std::set<int64_t> distinct(cs.negatives.begin(), cs.negatives.end());
    EXPECT_EQ(distinct.size(), 20u);
    for (int64_t n : cs.negatives) {
      EXPECT_GE(n, 1);
      EXPECT_LE(n, 30);
      for (int64_t seen : d.sequences[static_cast<size_t>(cs.user)]) EXPECT_NE(n, seen);
    }
  }
  EXPECT_EQ(a.test[0].negatives, b.test[0].negatives);
  EXPECT_NE(a.test[0].negatives, c.test[0].negatives);
}

TEST(Split, NegativesNeverExceedTheUnseenItems) {
  DomainData d;
  d.name = "tiny";
  d.num_items = 5;
  d.sequences = {{1, 2, 3}};
  Task t = leave_one_out(d, "target", {});
  NegativeOptions o;
  o.count = 99;
  attach_negatives(t, o);
  EXPECT_EQ(t.test[0].negatives.size(), 2u);  // only items 4 and 5 were never seen
}

TEST(Split, FileNegativesComeFromTheDataset) {
  DomainData d = toy();
  d.fixed_negatives = {{11, 12}, {13}, {14}, {15, 16}};
  Task t = leave_one_out(d, "target", {});
  NegativeOptions o;
  o.sampler = "file";
  attach_negatives(t, o);
  EXPECT_EQ(t.valid[1].negatives, (std::vector<int64_t>{15, 16}));
  d.fixed_negatives.clear();
  Task u = leave_one_out(d, "target", {});
  EXPECT_THROW(attach_negatives(u, o), InputError);
}

// ---------------------------------------------------------------------------------------------------------
// Ratio, time and given splits, and keeping part of the training users.

namespace {
DomainData timed() {
  DomainData d;
  d.name = "timed";
  d.num_items = 20;
  d.sequences = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {11, 12}, {13}, {14, 15, 16}};
  d.timestamps = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {5, 20}, {30}, {15, 25, 35}};
  return d;
}
}  // namespace

TEST(Split, RatioSplitPerUserByTimeAsRecBole) {
  DomainData d = timed();
  Task t = ratio_split(d, "target", {0.8, 0.1, 0.1});
  // 10 interactions: 8 train, 1 valid, 1 test. 2: 1 train, 0 valid, 1 test (the test share rounds up first).
  // 1: training only. 3: floor(0.3) = 0 each, test then valid take one: 1 train, 1 valid, 1 test.
  ASSERT_EQ(t.train.size(), 4u);
  EXPECT_EQ(t.train[0], (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(t.train[1], (std::vector<int64_t>{11}));
  EXPECT_EQ(t.train[2], (std::vector<int64_t>{13}));
  EXPECT_EQ(t.train[3], (std::vector<int64_t>{14}));
  ASSERT_EQ(t.valid.size(), 2u);
  EXPECT_EQ(t.valid[0].user, 0);
  EXPECT_EQ(t.valid[0].history, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(t.valid[0].target, 9);
  EXPECT_EQ(t.valid[1].user, 3);
  EXPECT_EQ(t.valid[1].target, 15);
  ASSERT_EQ(t.test.size(), 3u);
  EXPECT_EQ(t.test[0].history, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));  // valid items are history
  EXPECT_EQ(t.test[0].target, 10);
  EXPECT_EQ(t.test[1].user, 1);
  EXPECT_EQ(t.test[1].history, (std::vector<int64_t>{11}));
  EXPECT_EQ(t.test[1].target, 12);
  EXPECT_EQ(t.test[2].history, (std::vector<int64_t>{14, 15}));
}

TEST(Split, RatioSplitEveryLaterInteractionIsACase) {
  DomainData d;
  d.name = "long";
  d.num_items = 20;
  d.sequences = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}};
  Task t = ratio_split(d, "target", {6, 2, 2});  // normalised: 0.6, 0.2, 0.2
  EXPECT_EQ(t.train[0].size(), 12u);
  ASSERT_EQ(t.valid.size(), 4u);
  ASSERT_EQ(t.test.size(), 4u);
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(t.valid[k].target, static_cast<int64_t>(13 + k));
    EXPECT_EQ(t.valid[k].history.size(), 12 + k);
    EXPECT_EQ(t.test[k].target, static_cast<int64_t>(17 + k));
    EXPECT_EQ(t.test[k].history.size(), 16 + k);
  }
}

TEST(Split, RatioSplitRejectsBadRatios) {
  DomainData d = timed();
  for (const std::vector<double>& bad : std::vector<std::vector<double>>{{0.8, 0.2}, {0, 0.5, 0.5}, {0.8, -0.1, 0.3}}) {
    try {
      ratio_split(d, "target", bad);
      ADD_FAILURE() << "accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("split.ratios must be three shares"), std::string::npos) << e.what();
    }
  }
}

TEST(Split, TimeSplitAtTheGivenTimestamps) {
  DomainData d = timed();
  Task t = time_split(d, "target", 9, 20);
  // User 0: 1..8 train, 9 and 10 valid. User 1: 11 train, 12 (t=20) test. User 2: its only interaction
  // (t=30) has no history. User 3: 14 (t=15) is its first, so only history; 15 (t=25) and 16 (t=35) test.
  ASSERT_EQ(t.train.size(), 2u);
  EXPECT_EQ(t.train[0], (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(t.train[1], (std::vector<int64_t>{11}));
  ASSERT_EQ(t.valid.size(), 2u);
  EXPECT_EQ(t.valid[0].target, 9);
  EXPECT_EQ(t.valid[1].target, 10);
  EXPECT_EQ(t.valid[1].history.size(), 9u);
  ASSERT_EQ(t.test.size(), 3u);
  EXPECT_EQ(t.test[0].user, 1);
  EXPECT_EQ(t.test[0].target, 12);
  EXPECT_EQ(t.test[1].user, 3);
  EXPECT_EQ(t.test[1].history, (std::vector<int64_t>{14}));
  EXPECT_EQ(t.test[1].target, 15);
  EXPECT_EQ(t.test[2].history, (std::vector<int64_t>{14, 15}));
}

TEST(Split, TimeSplitNeedsTimestampsAndOrderedTimes) {
  DomainData d = toy();
  EXPECT_THROW(time_split(d, "target", 1, 2), InputError);
  DomainData e = timed();
  EXPECT_THROW(time_split(e, "target", 20, 9), InputError);
  SplitOptions o;
  o.method = "time";
  o.valid_time = 100;
  o.test_time = 200;
  try {
    split_domain(e, "target", o);
    ADD_FAILURE() << "a split with no cases was accepted";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("timestamps run from 1 to 35"), std::string::npos) << err.what();
  }
}

TEST(Split, GivenSplitIsTakenAsItIs) {
  DomainData d = toy();
  EXPECT_THROW(given_split(d, "target"), InputError);
  d.given_split = GivenSplit{{{1, 2}, {5}}, {EvalCase{0, {1, 2}, 3, {}}}, {EvalCase{0, {1, 2, 3}, 4, {}}}};
  SplitOptions o;
  o.method = "given";
  Task t = split_domain(d, "target", o);
  EXPECT_EQ(t.train, d.given_split->train);
  ASSERT_EQ(t.test.size(), 1u);
  EXPECT_EQ(t.test[0].target, 4);
  o.method = "shuffle";
  EXPECT_THROW(split_domain(d, "target", o), InputError);
}

TEST(Split, SplitDomainDispatchesOnTheMethod) {
  DomainData d = timed();
  SplitOptions o;
  EXPECT_EQ(split_domain(d, "target", o).test.size(), leave_one_out(d, "target", o).test.size());
  o.method = "ratio";
  EXPECT_EQ(split_domain(d, "target", o).test.size(), 3u);
  o.method = "time";
  o.valid_time = 9;
  o.test_time = 20;
  EXPECT_EQ(split_domain(d, "target", o).valid.size(), 2u);
}

TEST(Split, KeepTrainingUsersBySeedKeepsEvaluationCases) {
  DomainData d;
  d.name = "many";
  d.num_items = 50;
  for (int u = 0; u < 40; ++u) d.sequences.push_back({u + 1, u + 2, u + 3, u + 4});
  const Task full = leave_one_out(d, "target", {});
  Task a = full, b = full, c = full;
  keep_training_users(a, 0.25, 0, 7);
  keep_training_users(b, 0.25, 0, 7);
  keep_training_users(c, 0.25, 0, 8);
  ASSERT_EQ(a.train.size(), 10u);
  EXPECT_EQ(a.train, b.train);
  EXPECT_NE(a.train, c.train);
  EXPECT_EQ(a.valid.size(), full.valid.size());  // the others are evaluation inputs still
  EXPECT_EQ(a.test.size(), full.test.size());
  for (size_t i = 1; i < a.train.size(); ++i) EXPECT_LT(a.train[i - 1][0], a.train[i][0]);  // original order
  Task n = full;
  keep_training_users(n, 1.0, 3, 7);  // a count wins over the fraction
  EXPECT_EQ(n.train.size(), 3u);
  Task all = full;
  keep_training_users(all, 1.0, 0, 7);
  EXPECT_EQ(all.train, full.train);
  Task tiny = full;
  keep_training_users(tiny, 0.001, 0, 7);  // at least one
  EXPECT_EQ(tiny.train.size(), 1u);
  Task over = full;
  EXPECT_THROW(keep_training_users(over, 1.0, 41, 7), InputError);
  EXPECT_THROW(keep_training_users(over, 0.0, 0, 7), InputError);
}
