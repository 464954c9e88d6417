// The `presplit` dataset plugin: UniSRec-style pre-split files and the Games-6k variant, through the real
// loader.
#include <cmath>
#include <filesystem>

#include "dataset_harness.hpp"

using namespace xrec;
using namespace xrec::test;

namespace {

using Seq = std::vector<int64_t>;
using Strings = std::vector<std::string>;

const std::string kFixtures = std::string(XREC_TEST_FIXTURES) + "/data/presplit";
const std::string kHeader = "user_id:token\titem_id_list:token_seq\titem_id:token\n";

DomainData load(const std::string& root, std::map<std::string, Value> values) {
  return load_dataset("presplit", values, root);
}

// A folder with the three split files of stem "S" (plus whatever the test adds).
void write_splits(const FixtureDir& dir, const std::string& train, const std::string& valid, const std::string& test) {
  if (!train.empty()) dir.write("d/S.train.inter", kHeader + train);
  dir.write("d/S.valid.inter", kHeader + valid);
  dir.write("d/S.test.inter", kHeader + test);
}

// Loading folder d/ fails with an InputError holding every one of `parts`.
void expect_error_parts(const std::string& root, const std::vector<std::string>& parts) {
  try {
    load(root, {{"path", Value("d")}});
    ADD_FAILURE() << "expected an InputError";
  } catch (const InputError& e) {
    for (auto& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << part << " not in: " << e.what();
  }
}

}  // namespace

TEST(PresplitPlugin, ReadsTheUniSRecLayout) {
  DomainData d = load(kFixtures, {{"path", Value("tiny")}});
  EXPECT_EQ(d.name, "Tiny");  // the only stem in the folder
  EXPECT_EQ(d.num_items, 6);
  // 0-based indices: index i is item id i + 1, raw ids from item2index.
  EXPECT_EQ(d.item_ids, (Strings{"", "A0", "A1", "A2", "A3", "A4", "A5"}));
  EXPECT_EQ(d.user_ids, (Strings{"U0", "U1", "U2"}));
  // Whole known sequences: training chain + validation target + test target.
  EXPECT_EQ(d.sequences, (std::vector<Seq>{{1, 2, 3, 4, 5}, {6, 5, 4, 3}, {2, 4, 6}}));
  ASSERT_TRUE(d.given_split.has_value());
  const GivenSplit& g = *d.given_split;
  // One training sequence per user, chained from the rows (written newest first); U2 has no row.
  EXPECT_EQ(g.train, (std::vector<Seq>{{1, 2, 3}, {6, 5}, {}}));
  ASSERT_EQ(g.valid.size(), 3u);
  ASSERT_EQ(g.test.size(), 3u);
  EXPECT_EQ(g.valid[0].user, 0);
  EXPECT_EQ(g.valid[0].history, (Seq{1, 2, 3}));
  EXPECT_EQ(g.valid[0].target, 4);
  EXPECT_EQ(g.valid[2].user, 2);
  EXPECT_EQ(g.valid[2].history, (Seq{2}));
  EXPECT_EQ(g.test[1].user, 1);
  EXPECT_EQ(g.test[1].history, (Seq{6, 5, 4}));
  EXPECT_EQ(g.test[1].target, 3);
  EXPECT_TRUE(g.valid[0].negatives.empty());
  // Text through item2index; A5 has none, ZZ is no item and is ignored.
  ASSERT_EQ(d.item_side.text.size(), 1u);
  const TextFeature& text = d.item_side.text[0];
  EXPECT_EQ(text.name, "text");
  ASSERT_EQ(text.values.size(), 7u);
  EXPECT_EQ(text.values[0], "");
  EXPECT_EQ(text.values[1], "Red pen. Office. Acme.");  // the trailing space is dropped
  EXPECT_EQ(text.values[6], "");
  EXPECT_EQ(d.source_files.size(), 6u);
}

TEST(PresplitPlugin, OneBasedIndicesAndAbsolutePath) {
  FixtureDir dir("presplit-1based");
  write_splits(dir, "2\t1\t2\n", "2\t1 2\t3\n", "2\t1 2 3\t4\n");
  dir.write("d/S.item2index", "a\t1\nb\t2\nc\t3\nd\t4\ne\t5\n");
  dir.write("d/S.user2index", "x\t2\nw\t1\n");
  DomainData d = load("", {{"path", Value(dir.root() + "/d")}, {"name", Value("S")}, {"variant", Value("unisrec")}});
  EXPECT_EQ(d.num_items, 5);
  EXPECT_EQ(d.item_ids, (Strings{"", "a", "b", "c", "d", "e"}));
  // user2index from 1: users follow the indices, not the lines.
  EXPECT_EQ(d.user_ids, (Strings{"w", "x"}));
  EXPECT_EQ(d.sequences, (std::vector<Seq>{{}, {1, 2, 3, 4}}));
}

TEST(PresplitPlugin, WithoutMapsIdsAreTheIndices) {
  FixtureDir dir("presplit-nomaps");
  // 1-based (no index 0 anywhere): index i is item id i; users are the distinct indices in order.
  write_splits(dir, "30\t2\t3\n30\t2 3\t4\n", "30\t2 3 4\t5\n10\t1\t2\n", "10\t1 2\t5\n30\t2 3 4 5\t1\n");
  DomainData d = load(dir.root(), {{"path", Value("d")}});
  EXPECT_EQ(d.num_items, 5);
  EXPECT_EQ(d.item_ids, (Strings{"", "1", "2", "3", "4", "5"}));
  EXPECT_EQ(d.user_ids, (Strings{"10", "30"}));
  EXPECT_EQ(d.sequences, (std::vector<Seq>{{1, 2, 5}, {2, 3, 4, 5, 1}}));
  // Rows written oldest first chain as well.
  EXPECT_EQ(d.given_split->train, (std::vector<Seq>{{}, {2, 3, 4}}));
  EXPECT_EQ(d.given_split->valid[0].user, 1);  // cases keep the files' order
  EXPECT_EQ(d.given_split->valid[1].user, 0);
}

TEST(PresplitPlugin, TruncatedHistoriesRebuildTheWholeSequence) {
  // Histories keep the latest 3 items: the chain still gives all 7 items.
  FixtureDir dir("presplit-truncated");
  write_splits(dir, "0\t3 4 5\t6\n0\t2 3 4\t5\n0\t1 2 3\t4\n0\t1 2\t3\n0\t1\t2\n", "0\t4 5 6\t7\n", "0\t5 6 7\t8\n");
  DomainData d = load(dir.root(), {{"path", Value("d")}});
  EXPECT_EQ(d.sequences[0], (Seq{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(d.given_split->train[0], (Seq{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(d.given_split->test[0].history, (Seq{5, 6, 7}));  // exactly as the file says
}

TEST(PresplitPlugin, GamesVariantTrainsOnTheValidationHistory) {
  FixtureDir dir("presplit-games");
  dir.write("g/G.valid.inter", kHeader + "0\t0 1 2\t3\n1\t4 2\t0\n");
  dir.write("g/G.test.inter", kHeader + "0\t0 1 2 3\t4\n1\t4 2 0\t5\n");
  dir.write("g/G.item", "item_id:token\ttitle:token_seq\tprice:float\n0\tZelda\t19.9\n1\tMario\t\n2\tTetris\t5\n"
                        "3\tPong\t1\n4\tDoom\t9\n5\tMyst\t7\n6\tSim City\t3\n");
  DomainData d = load(dir.root(), {{"path", Value("g")}});
  EXPECT_EQ(d.name, "G");
  EXPECT_EQ(d.num_items, 7);  // item 6 has a row in G.item but no interaction: still an item
  EXPECT_EQ(d.item_ids[1], "0");
  EXPECT_EQ(d.user_ids, (Strings{"0", "1"}));
  EXPECT_EQ(d.sequences, (std::vector<Seq>{{1, 2, 3, 4, 5}, {5, 3, 1, 6}}));
  EXPECT_EQ(d.given_split->train, (std::vector<Seq>{{1, 2, 3}, {5, 3}}));
  EXPECT_EQ(d.given_split->valid[1].target, 1);
  ASSERT_EQ(d.item_side.text.size(), 1u);
  EXPECT_EQ(d.item_side.text[0].name, "title");
  EXPECT_EQ(d.item_side.text[0].values[1], "Zelda");
  EXPECT_EQ(d.item_side.text[0].values[7], "Sim City");
  ASSERT_EQ(d.item_side.numeric.size(), 1u);
  EXPECT_EQ(d.item_side.numeric[0].name, "price");
  EXPECT_DOUBLE_EQ(d.item_side.numeric[0].values[1], 19.9);
  EXPECT_TRUE(std::isnan(d.item_side.numeric[0].values[2]));  // empty = missing
  EXPECT_TRUE(std::isnan(d.item_side.numeric[0].values[0]));
}

TEST(PresplitPlugin, FindsTheStemOrNamesTheCandidates) {
  FixtureDir dir("presplit-stems");
  dir.write("two/A.train.inter", kHeader + "0\t0\t1\n");
  dir.write("two/B.valid.inter", kHeader + "0\t0\t1\n");
  dir.write("none/readme.txt", "nothing here\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("two")}}); }, {"several datasets", "A, B", "`name`"});
  expect_input_error([&] { load(dir.root(), {{"path", Value("none")}}); }, {"no <name>.train.inter", "none"});
  // A stem whose files fit no variant: what was found, what each variant needs.
  expect_input_error([&] { load(dir.root(), {{"path", Value("two")}, {"name", Value("B")}}); },
                     {"cannot tell the variant", "B.valid.inter", "found: B.valid.inter"});
  expect_input_error([&] { load(dir.root(), {{"path", Value("two")}, {"name", Value("A")}, {"variant", Value("games")}}); },
                     {"A.valid.inter does not exist", "found: A.train.inter"});
  expect_input_error([&] { load(dir.root(), {{"path", Value("missing")}}); }, {"folder 'missing' not found", dir.root()});
  expect_input_error([&] { load(dir.root(), {{"path", Value("two/A.train.inter")}}); }, {"it is a file", "name: A"});
}

TEST(PresplitPlugin, MalformedInterFilesNameFileAndLine) {
  struct Case {
    std::string valid;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"", {"S.valid.inter: empty file", "user_id:token"}},
      {"user_id:token\titem_id_list:token\titem_id:token\n0\t1\t2\n", {"S.valid.inter:1: bad header", "token_seq"}},
      {"user\titems\n0\t1\n", {"S.valid.inter:1: bad header"}},
      {kHeader, {"S.valid.inter: no rows after the header"}},
      {kHeader + "0\t1 2\n", {"S.valid.inter:2: found 2 columns, expected 3"}},
      {kHeader + "0\t1 2\t3\textra\n", {"S.valid.inter:2: found 4 columns, expected 3"}},
      {kHeader + "\n0\tx 2\t3\n", {"S.valid.inter:3: history item 'x' is not a non-negative integer"}},
      {kHeader + "u0\t1\t2\n", {"S.valid.inter:2: user index 'u0'"}},
      {kHeader + "0\t1\t-2\n", {"S.valid.inter:2: target item '-2'"}},
      {kHeader + "0\t1\t9\n", {"S.valid.inter:2: item index 9 is outside", "S.item2index", "0..3"}},
      {kHeader + "5\t1\t2\n", {"S.valid.inter:2: user index 5 is outside", "S.user2index", "0..0"}},
      // The validation history must continue the training rows (items 1 2, ids 2 3).
      {kHeader + "0\t0 2\t3\n", {"S.valid.inter:2: the history [1 3] of user 'u'", "end with [2 3]"}},
  };
  for (auto& c : cases) {
    FixtureDir dir("presplit-bad");
    write_splits(dir, "0\t1\t2\n", "", "0\t1 2 3\t0\n");
    dir.write("d/S.valid.inter", c.valid);
    dir.write("d/S.item2index", "a\t0\nb\t1\nc\t2\nd\t3\n");
    dir.write("d/S.user2index", "u\t0\n");
    SCOPED_TRACE(c.valid);
    expect_error_parts(dir.root(), c.parts);
  }
}

TEST(PresplitPlugin, TrainingRowsMustChain) {
  FixtureDir dir("presplit-chain");
  write_splits(dir, "0\t1\t2\n0\t3\t4\n", "0\t1 2 3 4\t5\n", "0\t1 2 3 4 5\t6\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("d")}}); },
                     {"S.train.inter:3: the history [3]", "earlier training rows", "end with [1 2]"});
}

TEST(PresplitPlugin, MalformedMapsAndSideFiles) {
  struct Case {
    std::string file, text;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"S.item2index", "", {"S.item2index: empty file"}},
      {"S.item2index", "a\t0\nb\n", {"S.item2index:2: found 1 column, expected 2"}},
      {"S.item2index", "a\t0\nb\tone\n", {"S.item2index:2: index 'one' is not a non-negative integer"}},
      {"S.item2index", "a\t0\na\t1\n", {"S.item2index:2: raw id 'a' already has an index on line 1"}},
      {"S.item2index", "a\t0\nb\t0\n", {"S.item2index:2: index 0 already belongs to 'a'"}},
      {"S.item2index", "a\t0\nb\t1\nc\t3\n", {"S.item2index:3: index 3 skips index 2", "0..2"}},
      {"S.item2index", "a\t2\nb\t3\n", {"S.item2index: the smallest index is 2", "from 0 or from 1"}},
      {"S.user2index", "u\t0\nv\t2\n", {"S.user2index:2: index 2 skips index 1"}},
      {"S.text", "", {"S.text: empty file"}},
      {"S.text", "item_id:token\ttext:token_seq\na\tfine\nb no tab\n", {"S.text:3: found 1 column, expected 2"}},
      {"S.text", "a\tone\nb\ttwo\na\tagain\n", {"S.text:3: item 'a' already has a text on line 1"}},
      {"S.text", "q\tunknown\n", {"S.text: none of its item ids is an item", "'a'"}},
      {"S.item", "", {"S.item: empty file"}},
      {"S.item", "item_id:token\ttitle\n", {"S.item:1: bad header field 'title'", "name:type"}},
      {"S.item", "item_id:token\n0\n", {"S.item:1: bad header", "at least one field"}},
      {"S.item", "item_id:token\ttitle:token_seq\n", {"S.item: no rows after the header"}},
      {"S.item", "item_id:token\ttitle:token_seq\na\tx\ty\n", {"S.item:2: found 3 columns, expected 2"}},
      {"S.item", "item_id:token\tyear:float\na\tsoon\n", {"S.item:2: field 'year' holds 'soon', expected a number"}},
      {"S.item", "item_id:token\ttitle:token_seq\na\tx\na\ty\n", {"S.item:3: item 'a' already has a row on line 2"}},
  };
  for (auto& c : cases) {
    FixtureDir dir("presplit-side");
    write_splits(dir, "0\t0\t1\n", "0\t0 1\t2\n", "0\t0 1 2\t3\n");
    dir.write("d/S.item2index", "a\t0\nb\t1\nc\t2\nd\t3\n");
    dir.write("d/S.user2index", "u\t0\n");
    dir.write("d/" + c.file, c.text);
    SCOPED_TRACE(c.file + ": " + c.text);
    expect_error_parts(dir.root(), c.parts);
  }
}

// The real pre-split datasets: counts as in ../shared/data/README.md.
namespace {
void check_real(const std::string& folder, const std::string& variant, int64_t users, int64_t items,
                int64_t interactions, const std::string& text_field) {
  const std::string shared = XREC_TEST_SHARED_DATA;
  if (!std::filesystem::is_directory(shared + "/" + folder))
    GTEST_SKIP() << "real data not found at " << shared << "/" << folder << " (../shared/data)";
  DomainData d = load(shared, {{"path", Value(folder)}, {"variant", Value(variant)}});
  EXPECT_EQ(d.num_users(), users);
  EXPECT_EQ(d.num_items, items);
  EXPECT_EQ(d.num_interactions(), interactions);
  const GivenSplit& g = *d.given_split;
  EXPECT_EQ(static_cast<int64_t>(g.train.size()), users);
  EXPECT_EQ(static_cast<int64_t>(g.valid.size()), users);  // one validation and one test case per user
  EXPECT_EQ(static_cast<int64_t>(g.test.size()), users);
  for (auto& c : g.test) {
    const Seq& s = d.sequences[static_cast<size_t>(c.user)];
    ASSERT_EQ(s.back(), c.target);  // test = last item, validation = second last (leave-one-out)
    ASSERT_EQ(s[s.size() - 2], g.valid[static_cast<size_t>(c.user)].target);
    ASSERT_EQ(g.train[static_cast<size_t>(c.user)].size() + 2, s.size());
  }
  ASSERT_FALSE(d.item_side.text.empty());
  EXPECT_EQ(d.item_side.text[0].name, text_field);
  int64_t with_text = 0;
  for (auto& t : d.item_side.text[0].values) with_text += !t.empty();
  EXPECT_EQ(with_text, items);
}
}  // namespace

// Scientific: README "~59,400"; the test rows alone give 59,384, and the training rows of the 3 users with
// more than 50 items restore 43 earlier items.
TEST(PresplitPlugin, RealScientific) { check_real("scientific", "auto", 8442, 4385, 59427, "text"); }
TEST(PresplitPlugin, RealScientificMini) { check_real("scientific-mini", "unisrec", 2928, 1585, 19712, "text"); }
TEST(PresplitPlugin, RealGames) { check_real("games", "auto", 50546, 16859, 440264, "title"); }  // README ~440,000
