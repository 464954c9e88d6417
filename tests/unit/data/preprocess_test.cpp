#include "xrec/data/preprocess.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "xrec/api/errors.hpp"

using namespace xrec;
using namespace xrec::engine;

namespace {

// Five users over six items. Item 6 has one interaction, so a 2-core drops it; user d is then left with one
// and goes, which leaves item 5 with one (user e's) and drops it in a further round.
DomainData fixture() {
  DomainData d;
  d.name = "fix";
  d.num_items = 6;
  d.sequences = {{1, 2, 3}, {2, 3, 4}, {1, 4, 2}, {5, 6}, {1, 3, 5}};
  d.timestamps = {{10, 11, 12}, {20, 21, 22}, {30, 31, 32}, {40, 41}, {50, 51, 52}};
  d.ratings = {{1, 2, 3}, {4, 5, 1}, {2, 3, 4}, {5, 1}, {2, 2, 2}};
  d.user_ids = {"a", "b", "c", "d", "e"};
  d.item_ids = {"", "i1", "i2", "i3", "i4", "i5", "i6"};
  d.item_side.categorical.push_back({"genre", 2, {{}, {1}, {2}, {1, 2}, {}, {2}, {1}}, {"", "rock", "jazz"}});
  d.item_side.numeric.push_back({"year", {NAN, 1991, 1992, 1993, 1994, 1995, 1996}});
  d.item_side.text.push_back({"title", {"", "t1", "t2", "t3", "t4", "t5", "t6"}});
  d.user_side.numeric.push_back({"age", {10, 20, 30, 40, 50}});
  d.item_features.push_back({"vec", 1, {0, 1, 2, 3, 4, 5, 6}});
  d.user_features.push_back({"uvec", 2, {0, 0, 1, 1, 2, 2, 3, 3, 4, 4}});
  d.fixed_negatives = {{4, 5, 6}, {1, 6}, {3, 5}, {1, 2}, {2, 6}};
  d.given_split = GivenSplit{{{1, 2}, {2, 3}, {1, 4}, {5}, {1, 3}},
                             {EvalCase{0, {1, 2}, 3, {6, 4}}, EvalCase{3, {5}, 6, {}}},
                             {EvalCase{4, {1, 3, 6}, 5, {}}, EvalCase{1, {2, 3}, 4, {6}}}};
  d.source_files = {"/data/fix.txt"};
  return d;
}

}  // namespace

TEST(Preprocess, NoOptionsChangesNothing) {
  DomainData d = fixture();
  d.num_items = 9;  // items 7..9 never occur; without filtering they stay
  d.item_ids = {"", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "i9"};
  d.item_side = {};
  d.item_features.clear();
  const DomainData before = d;
  preprocess(d, PreprocessOptions{});
  EXPECT_EQ(d.num_items, 9);
  EXPECT_EQ(d.sequences, before.sequences);
  EXPECT_EQ(d.item_ids, before.item_ids);
}

TEST(Preprocess, IterativeKCoreKeepsEveryTableConsistent) {
  DomainData d = fixture();
  preprocess(d, PreprocessOptions{2, 0});
  d.validate();
  // Left: users a, b, c, e; items i1..i4 renumbered 1..4 (i5, i6 gone).
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"a", "b", "c", "e"}));
  EXPECT_EQ(d.item_ids, (std::vector<std::string>{"", "i1", "i2", "i3", "i4"}));
  EXPECT_EQ(d.num_items, 4);
  EXPECT_EQ(d.sequences, (std::vector<std::vector<int64_t>>{{1, 2, 3}, {2, 3, 4}, {1, 4, 2}, {1, 3}}));
  EXPECT_EQ(d.timestamps, (std::vector<std::vector<int64_t>>{{10, 11, 12}, {20, 21, 22}, {30, 31, 32}, {50, 51}}));
  EXPECT_EQ(d.ratings, (std::vector<std::vector<float>>{{1, 2, 3}, {4, 5, 1}, {2, 3, 4}, {2, 2}}));
  // Every count is at least 2 now: users 3, 3, 3, 2; items 3, 3, 3, 2.
  ASSERT_EQ(d.item_side.categorical.size(), 1u);
  EXPECT_EQ(d.item_side.categorical[0].values, (std::vector<std::vector<int64_t>>{{}, {1}, {2}, {1, 2}, {}}));
  EXPECT_EQ(d.item_side.categorical[0].vocab, 2);
  EXPECT_EQ(d.item_side.numeric[0].values[4], 1994);
  EXPECT_TRUE(std::isnan(d.item_side.numeric[0].values[0]));
  EXPECT_EQ(d.item_side.text[0].values, (std::vector<std::string>{"", "t1", "t2", "t3", "t4"}));
  EXPECT_EQ(d.user_side.numeric[0].values, (std::vector<double>{10, 20, 30, 50}));
  EXPECT_EQ(d.item_features[0].values, (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_EQ(d.user_features[0].values, (std::vector<float>{0, 0, 1, 1, 2, 2, 4, 4}));
  // Fixed negatives lose the removed items.
  EXPECT_EQ(d.fixed_negatives, (std::vector<std::vector<int64_t>>{{4}, {1}, {3}, {2}}));
  // The given split: per-user training rows follow their users; cases of removed users or targets go.
  ASSERT_TRUE(d.given_split);
  EXPECT_EQ(d.given_split->train, (std::vector<std::vector<int64_t>>{{1, 2}, {2, 3}, {1, 4}, {1, 3}}));
  ASSERT_EQ(d.given_split->valid.size(), 1u);
  EXPECT_EQ(d.given_split->valid[0].negatives, (std::vector<int64_t>{4}));
  ASSERT_EQ(d.given_split->test.size(), 1u);  // user e's target i5 is gone
  EXPECT_EQ(d.given_split->test[0].user, 1);
  EXPECT_EQ(d.given_split->test[0].target, 4);
  EXPECT_EQ(d.source_files, (std::vector<std::string>{"/data/fix.txt"}));
}

TEST(Preprocess, MaxLengthKeepsTheLastInteractions) {
  DomainData d = fixture();
  preprocess(d, PreprocessOptions{0, 2});
  d.validate();
  EXPECT_EQ(d.num_users(), 5);
  // a keeps (i2, i3), b (i3, i4), c (i4, i2), d (i5, i6), e (i3, i5): i1 no longer occurs and goes.
  EXPECT_EQ(d.item_ids, (std::vector<std::string>{"", "i2", "i3", "i4", "i5", "i6"}));
  EXPECT_EQ(d.sequences, (std::vector<std::vector<int64_t>>{{1, 2}, {2, 3}, {3, 1}, {4, 5}, {2, 4}}));
  EXPECT_EQ(d.timestamps[0], (std::vector<int64_t>{11, 12}));
  EXPECT_EQ(d.ratings[2], (std::vector<float>{3, 4}));
  EXPECT_EQ(d.given_split->train[0], (std::vector<int64_t>{1}));  // i1 dropped from the row, cut to 2
}

TEST(Preprocess, NothingLeftIsAnError) {
  DomainData d = fixture();
  try {
    preprocess(d, PreprocessOptions{10, 0});
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dataset 'fix': preprocessing leaves no interactions (k_core 10"),
              std::string::npos)
        << e.what();
  }
  DomainData bad = fixture();
  EXPECT_THROW(preprocess(bad, PreprocessOptions{-1, 0}), InputError);
}

TEST(Preprocess, KCoreOnAMinimalDomainWithoutSideTables) {
  DomainData d;
  d.name = "bare";
  d.num_items = 3;
  d.sequences = {{1, 2}, {1, 2}, {3}};
  preprocess(d, PreprocessOptions{2, 0});
  d.validate();
  EXPECT_EQ(d.num_items, 2);
  EXPECT_EQ(d.sequences, (std::vector<std::vector<int64_t>>{{1, 2}, {1, 2}}));
  EXPECT_TRUE(d.user_ids.empty());
  EXPECT_TRUE(d.item_ids.empty());
}
