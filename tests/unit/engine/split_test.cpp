#include "xrec/engine/split.hpp"

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
