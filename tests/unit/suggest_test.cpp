#include "xrec/suggest.hpp"

#include <gtest/gtest.h>

namespace xrec {
namespace {

TEST(EditDistance, CountsInsertionsDeletionsSubstitutions) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("hidden", "hidden"), 0u);
  EXPECT_EQ(edit_distance("hiden", "hidden"), 1u);    // insertion
  EXPECT_EQ(edit_distance("hiddenn", "hidden"), 1u);  // deletion
  EXPECT_EQ(edit_distance("hidder", "hidden"), 1u);   // substitution
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(EditDistance, AdjacentSwapCostsOne) {
  EXPECT_EQ(edit_distance("hdiden", "hidden"), 1u);
  EXPECT_EQ(edit_distance("ab", "ba"), 1u);
  // Optimal string alignment: a swapped pair is not edited again ("ca" -> "abc" needs 3, not 2).
  EXPECT_EQ(edit_distance("ca", "abc"), 3u);
}

TEST(NearestNames, ClosestFirstTiesInInputOrder) {
  const std::vector<std::string> keys = {"heads", "hidden", "dropout", "layers"};
  EXPECT_EQ(nearest_names("hiden", keys), (std::vector<std::string>{"hidden"}));
  // "lr" is 1 edit from both "l1" and "l2": input order breaks the tie; "lr0" is 1 edit too.
  EXPECT_EQ(nearest_names("lr", {"l2", "seed", "l1", "lr0"}), (std::vector<std::string>{"l2", "l1", "lr0"}));
  // Distance 1 before distance 2, whatever the input order.
  EXPECT_EQ(nearest_names("drpout", {"dropouts", "dropout"}),
            (std::vector<std::string>{"dropout", "dropouts"}));
}

TEST(NearestNames, BeginningOfALongName) {
  // "amazn" is 7 edits from "amazon_s3rec" but 1 from its beginning "amazon".
  EXPECT_EQ(nearest_names("amazn", {"movielens", "amazon_s3rec"}),
            (std::vector<std::string>{"amazon_s3rec"}));
  // A whole-name match ranks before an equally near beginning, and nearer wholes before farther ones.
  EXPECT_EQ(nearest_names("hiden", {"hidden_act", "hidden"}),
            (std::vector<std::string>{"hidden", "hidden_act"}));
  EXPECT_EQ(nearest_names("epoch", {"epochs__", "epochs_", "epochs"}),
            (std::vector<std::string>{"epochs", "epochs_", "epochs__"}));
  // Short names do not match beginnings: "lr" would otherwise hint every key starting with "l".
  EXPECT_TRUE(nearest_names("lr", {"learning_rate", "lrs_schedule"}).empty());
}

TEST(NearestNames, AtMostThree) {
  const auto near = nearest_names("ab", {"aa", "ac", "ad", "ae", "af"});
  EXPECT_EQ(near, (std::vector<std::string>{"aa", "ac", "ad"}));
}

TEST(NearestNames, LimitGrowsWithLength) {
  // max(2, size / 3): short names allow 2 edits, a 12-letter name 4, a 15-letter one 5.
  EXPECT_EQ(nearest_names("hddn", {"hidden"}), (std::vector<std::string>{"hidden"}));              // 2 edits
  EXPECT_TRUE(nearest_names("hdn", {"hidden"}).empty());                                           // 3 edits
  EXPECT_EQ(nearest_names("abcdefghijkl", {"abcdefgh"}), (std::vector<std::string>{"abcdefgh"}));  // 4 of 4
  EXPECT_TRUE(nearest_names("abcdefghijklm", {"abcdefgh"}).empty());                               // 5 of 4
  EXPECT_EQ(nearest_names("max_sq_lngth", {"max_seq_length"}), (std::vector<std::string>{"max_seq_length"}));
}

TEST(NearestNames, NothingSharedIsNoHint) {
  // Two edits are within the limit of 2, but they rewrite every character: not a useful hint.
  EXPECT_TRUE(nearest_names("x", {"lr"}).empty());
  EXPECT_TRUE(nearest_names("ab", {"cd"}).empty());
  EXPECT_TRUE(nearest_names("anything", {}).empty());
}

TEST(NearestNames, ExactMatchAndDuplicates) {
  EXPECT_EQ(nearest_names("seed", {"seed", "seed", "need"}), (std::vector<std::string>{"seed", "need"}));
}

TEST(DidYouMean, Phrasing) {
  EXPECT_EQ(did_you_mean("hiden", {"heads", "hidden"}), "; did you mean 'hidden'?");
  EXPECT_EQ(did_you_mean("l", {"l1", "l2"}), "; did you mean 'l1' or 'l2'?");
  EXPECT_EQ(did_you_mean("ab", {"aa", "ac", "ad"}), "; did you mean 'aa', 'ac' or 'ad'?");
  EXPECT_EQ(did_you_mean("zzzzzz", {"hidden"}), "");
}

}  // namespace
}  // namespace xrec
