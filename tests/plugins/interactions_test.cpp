// The `interactions` dataset plugin: one interaction per line, through the real loader.
#include <filesystem>
#include <random>
#include <sstream>

#include "dataset_harness.hpp"
#include "xrec/api/files.hpp"

using namespace xrec;
using namespace xrec::test;

namespace {

using Seq = std::vector<int64_t>;
using Strings = std::vector<std::string>;

const std::string kFixtures = std::string(XREC_TEST_FIXTURES) + "/data/interactions";

DomainData load(const std::string& root, std::map<std::string, Value> values) {
  return load_dataset("interactions", values, root);
}

}  // namespace

TEST(InteractionsPlugin, ReadsTheSasRecLayout) {
  DomainData d = load(kFixtures, {{"path", Value("Toy.txt")}});
  EXPECT_EQ(d.name, "Toy");
  EXPECT_EQ(d.num_users(), 5);
  EXPECT_EQ(d.num_items, 12);
  EXPECT_EQ(d.num_interactions(), 22);
  EXPECT_EQ(d.user_ids, (Strings{"1", "2", "3", "4", "5"}));
  // Numeric raw ids keep their numeric order: raw id k is item id k.
  for (int64_t i = 1; i <= 12; ++i) EXPECT_EQ(d.item_ids[static_cast<size_t>(i)], std::to_string(i));
  EXPECT_EQ(d.sequences[0], (Seq{3, 1, 4, 12, 5}));
  EXPECT_EQ(d.sequences[2], (Seq{3, 5, 8, 9, 7, 9}));  // a repeated item stays
  EXPECT_EQ(d.sequences[4], (Seq{1, 2, 3, 4}));
  EXPECT_TRUE(d.timestamps.empty());
  EXPECT_TRUE(d.ratings.empty());
  ASSERT_EQ(d.source_files.size(), 1u);
  EXPECT_EQ(d.source_files[0], kFixtures + "/Toy.txt");
}

TEST(InteractionsPlugin, UsersByFirstAppearanceAndTextItemsByFirstAppearance) {
  FixtureDir dir("interactions-order");
  dir.write("log.txt", "zoe x\namy y\n\nzoe z\r\n  amy\t x \nbob 10\n");
  DomainData d = load(dir.root(), {{"path", Value("log.txt")}, {"name", Value("shop")}});
  EXPECT_EQ(d.name, "shop");
  EXPECT_EQ(d.user_ids, (Strings{"zoe", "amy", "bob"}));
  EXPECT_EQ(d.item_ids, (Strings{"", "x", "y", "z", "10"}));  // one non-numeric id: all by first appearance
  EXPECT_EQ(d.sequences, (std::vector<Seq>{{1, 3}, {2, 1}, {4}}));
}

TEST(InteractionsPlugin, NumericIdsSortByValueNotText) {
  FixtureDir dir("interactions-numeric");
  dir.write("log.txt", "u 100\nu 9\nu 20\nv 9\n");
  DomainData d = load(dir.root(), {{"path", Value("log.txt")}});
  EXPECT_EQ(d.item_ids, (Strings{"", "9", "20", "100"}));
  EXPECT_EQ(d.sequences, (std::vector<Seq>{{3, 1, 2}, {1}}));
}

TEST(InteractionsPlugin, RatingsTimestampsAndStableTimeOrder) {
  FixtureDir dir("interactions-time");
  // Tab separated; u1's two rows at time 20 must keep their file order (i3 before i1).
  dir.write("log.tsv", "u1\ti2\t3\t30\nu2\ti1\t5\t5\nu1\ti3\t4.5\t20\nu1\ti1\t1\t20\nu1\ti4\t2\t10\n");
  DomainData d = load(dir.root(), {{"path", Value("log.tsv")},
                                   {"separator", Value("tab")},
                                   {"columns", Value(Strings{"user", "item", "rating", "timestamp"})},
                                   {"order", Value("timestamp")}});
  EXPECT_EQ(d.item_ids, (Strings{"", "i2", "i1", "i3", "i4"}));
  EXPECT_EQ(d.sequences, (std::vector<Seq>{{4, 3, 2, 1}, {2}}));
  EXPECT_EQ(d.timestamps, (std::vector<Seq>{{10, 20, 20, 30}, {5}}));
  EXPECT_EQ(d.ratings, (std::vector<std::vector<float>>{{2.f, 4.5f, 1.f, 3.f}, {5.f}}));

  // order: file keeps the rows as written, timestamps still filled.
  DomainData f = load(dir.root(), {{"path", Value("log.tsv")},
                                   {"separator", Value("tab")},
                                   {"columns", Value(Strings{"user", "item", "rating", "timestamp"})}});
  EXPECT_EQ(f.sequences[0], (Seq{1, 3, 2, 4}));
  EXPECT_EQ(f.timestamps[0], (Seq{30, 20, 20, 10}));
}

TEST(InteractionsPlugin, SkipColumnsAndColumnOrder) {
  FixtureDir dir("interactions-skip");
  dir.write("log.txt", "1577836800 i1 junk u1\n1577836700 i2 junk u1\n");
  DomainData d = load(dir.root(), {{"path", Value("log.txt")},
                                   {"columns", Value(Strings{"timestamp", "item", "skip", "user"})},
                                   {"order", Value("timestamp")}});
  EXPECT_EQ(d.user_ids, (Strings{"u1"}));
  EXPECT_EQ(d.sequences, (std::vector<Seq>{{2, 1}}));
  EXPECT_EQ(d.timestamps, (std::vector<Seq>{{1577836700, 1577836800}}));
  EXPECT_TRUE(d.ratings.empty());
}

TEST(InteractionsPlugin, MinRatingDropsRowsAndTheirUsersAndItems) {
  FixtureDir dir("interactions-min");
  dir.write("log.txt", "a 1 5\nb 2 1\na 3 3.5\nc 1 4\n");
  DomainData d = load(dir.root(), {{"path", Value("log.txt")},
                                   {"columns", Value(Strings{"user", "item", "rating"})},
                                   {"min_rating", Value(3.5)}});
  EXPECT_EQ(d.user_ids, (Strings{"a", "c"}));  // b's only rating is below the threshold
  EXPECT_EQ(d.item_ids, (Strings{"", "1", "3"}));
  EXPECT_EQ(d.sequences, (std::vector<Seq>{{1, 2}, {1}}));
  EXPECT_EQ(d.ratings, (std::vector<std::vector<float>>{{5.f, 3.5f}, {4.f}}));
}

TEST(InteractionsPlugin, QuotedCsvWithHeader) {
  DomainData d = load(kFixtures, {{"path", Value("rated.csv")},
                                  {"separator", Value("comma")},
                                  {"header", Value(true)},
                                  {"columns", Value(Strings{"user", "item", "rating", "timestamp"})},
                                  {"order", Value("timestamp")}});
  EXPECT_EQ(d.name, "rated");
  EXPECT_EQ(d.user_ids, (Strings{"Smith, Ann", "bob"}));
  EXPECT_EQ(d.item_ids, (Strings{"", "B001", "B002", "B\"3", "B003"}));
  EXPECT_EQ(d.sequences, (std::vector<Seq>{{2, 4, 1}, {1, 3}}));
  EXPECT_EQ(d.timestamps, (std::vector<Seq>{{1100, 1100, 1300}, {1000, 1200}}));
  EXPECT_EQ(d.ratings, (std::vector<std::vector<float>>{{2.f, 4.f, 5.f}, {1.f, 4.f}}));
}

TEST(InteractionsPlugin, SpaceSeparatorKeepsTabsInsideFields) {
  FixtureDir dir("interactions-space");
  dir.write("log.txt", "u1   a\tb\n");
  DomainData d = load(dir.root(), {{"path", Value("log.txt")}, {"separator", Value("space")}});
  EXPECT_EQ(d.item_ids, (Strings{"", "a\tb"}));
}

TEST(InteractionsPlugin, MalformedFilesNameFileLineAndProblem) {
  FixtureDir dir("interactions-bad");
  const std::string three = dir.write("three.txt", "u1 i1\nu1 i2 extra\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("three.txt")}}); },
                     {three + ":2: found 3 columns, expected 2 (columns: user item)"});

  const std::string one = dir.write("one.txt", "u1 i1 4\n\nu2\n");
  expect_input_error(
      [&] { load(dir.root(), {{"path", Value("one.txt")}, {"columns", Value(Strings{"user", "item", "rating"})}}); },
      {one + ":3: found 1 column, expected 3 (columns: user item rating)"});

  const std::string rating = dir.write("rating.txt", "u1 i1 4\nu1 i2 good\n");
  expect_input_error(
      [&] { load(dir.root(), {{"path", Value("rating.txt")}, {"columns", Value(Strings{"user", "item", "rating"})}}); },
      {rating + ":2: rating 'good' in column 3 is not a number"});

  const std::string nan = dir.write("nan.txt", "u1 i1 nan\n");
  expect_input_error(
      [&] { load(dir.root(), {{"path", Value("nan.txt")}, {"columns", Value(Strings{"user", "item", "rating"})}}); },
      {nan + ":1: rating 'nan' in column 3 is not a number"});

  const std::string time = dir.write("time.txt", "u1 i1 100\nu1 i2 2020-01-01\n");
  expect_input_error(
      [&] { load(dir.root(), {{"path", Value("time.txt")}, {"columns", Value(Strings{"user", "item", "timestamp"})}}); },
      {time + ":2: timestamp '2020-01-01' in column 3 is not a number"});

  const std::string empty_id = dir.write("empty_id.tsv", "u1\ti1\n\ti2\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("empty_id.tsv")}, {"separator", Value("tab")}}); },
                     {empty_id + ":2: empty user id in column 1"});

  const std::string empty = dir.write("empty.txt", "\n  \n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("empty.txt")}}); },
                     {empty + ": no interactions (the file is empty"});

  const std::string header_only = dir.write("header.txt", "user item\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("header.txt")}, {"header", Value(true)}}); },
                     {header_only + ": no interactions (the file is empty apart from its header line"});

  const std::string low = dir.write("low.txt", "u1 i1 1\nu2 i1 2\n");
  expect_input_error(
      [&] {
        load(dir.root(), {{"path", Value("low.txt")},
                          {"columns", Value(Strings{"user", "item", "rating"})},
                          {"min_rating", Value(4.0)}});
      },
      {low + ": all 2 interactions have a rating below min_rating = 4.0;"});

  const std::string quote = dir.write("quote.csv", "u1,i1\n\"u2,i2\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("quote.csv")}, {"separator", Value("comma")}}); },
                     {quote + ":2: field 1 opens a quote that is never closed"});

  expect_input_error([&] { load(dir.root(), {{"path", Value("missing.txt")}}); },
                     {"data file 'missing.txt' not found", dir.root()});
}

TEST(InteractionsPlugin, ConfigErrorsNameTheParam) {
  FixtureDir dir("interactions-config");
  dir.write("log.txt", "u1 i1 1 2\n");
  expect_input_error(
      [&] { load(dir.root(), {{"path", Value("log.txt")}, {"order", Value("timestamp")}}); },
      {"`order: timestamp` needs a `timestamp` entry in `columns` (now [user, item])"});
  expect_input_error(
      [&] { load(dir.root(), {{"path", Value("log.txt")}, {"columns", Value(Strings{"user", "rating"})}}); },
      {"`columns` [user, rating] has no `item` column"});
  expect_input_error(
      [&] { load(dir.root(), {{"path", Value("log.txt")}, {"columns", Value(Strings{"item", "skip"})}}); },
      {"`columns` [item, skip] has no `user` column"});
  expect_input_error(
      [&] {
        load(dir.root(), {{"path", Value("log.txt")}, {"columns", Value(Strings{"user", "item", "user", "skip"})}});
      },
      {"`columns` [user, item, user, skip] names `user` twice"});
  expect_input_error([&] { load(dir.root(), {{"path", Value("log.txt")}, {"min_rating", Value(3.0)}}); },
                     {"`min_rating: 3.0` needs a `rating` entry in `columns`"});
  // Unknown column names never reach the plugin: the param spec's choices reject them.
  EXPECT_THROW(load(dir.root(), {{"path", Value("log.txt")}, {"columns", Value(Strings{"user", "item", "when"})}}),
               Error);
}

// Real data: S3-Rec's Beauty.txt rewritten as one interaction per line must give exactly the domain the
// user_sequences plugin reads from the original file.
TEST(InteractionsPlugin, MatchesUserSequencesOnBeauty) {
  const std::string shared = XREC_TEST_SHARED_DATA;
  const std::string beauty = shared + "/amazon-s3rec/Beauty.txt";
  if (!std::filesystem::exists(beauty)) GTEST_SKIP() << "real data not found at " << beauty << " (../shared/data)";
  const std::string text = read_file(beauty);
  std::ostringstream rows;
  for (auto line : split_lines(text)) {
    auto tok = split_whitespace(line);
    for (size_t k = 1; k < tok.size(); ++k) rows << tok[0] << ' ' << tok[k] << '\n';
  }
  FixtureDir dir("interactions-beauty");
  dir.write("Beauty.txt", rows.str());
  DomainData mine = load(dir.root(), {{"path", Value("Beauty.txt")}});
  DomainData theirs = load_dataset("user_sequences", {{"path", Value("amazon-s3rec/Beauty.txt")}}, shared);
  EXPECT_EQ(mine.num_users(), 22363);
  EXPECT_EQ(mine.num_items, 12101);
  EXPECT_EQ(mine.num_interactions(), 198502);
  EXPECT_EQ(mine.user_ids, theirs.user_ids);
  EXPECT_EQ(mine.item_ids, theirs.item_ids);
  EXPECT_TRUE(mine.sequences == theirs.sequences);
}

// Any damage to a valid file gives a domain or an InputError, never a crash or another exception.
TEST(InteractionsPlugin, DamagedFilesNeverCrash) {
  static const char kBytes[] = "\",\r\n \t0123456789.eE-+xu\0";
  const std::string alphabet(kBytes, sizeof kBytes - 1);  // keeps the NUL byte
  std::mt19937 rng(11);
  FixtureDir dir("interactions-fuzz");
  const std::map<std::string, Value> csv = {{"separator", Value("comma")},
                                            {"header", Value(true)},
                                            {"columns", Value(Strings{"user", "item", "rating", "timestamp"})},
                                            {"order", Value("timestamp")},
                                            {"min_rating", Value(2.0)}};
  const std::map<std::string, Value> tsv = {{"separator", Value("tab")},
                                            {"columns", Value(Strings{"user", "skip", "item"})}};
  for (auto& [file, options] : std::vector<std::pair<std::string, std::map<std::string, Value>>>{
           {"rated.csv", csv}, {"Toy.txt", {}}, {"Toy.txt", tsv}}) {
    const std::string good = read_file(kFixtures + "/" + file);
    for (int round = 0; round < 200; ++round) {
      std::string text = good.substr(0, rng() % (good.size() + 1));
      for (int k = static_cast<int>(rng() % 6); k > 0 && !text.empty(); --k)
        text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
      dir.write("f.txt", text);
      auto values = options;
      values["path"] = Value("f.txt");
      try {
        load(dir.root(), values);
      } catch (const InputError& e) {
        // DomainData::validate's messages start so: the plugin produced an inconsistent domain.
        EXPECT_NE(std::string(e.what()).rfind("dataset '", 0), 0u) << e.what() << "\nfrom:\n" << text;
      }
    }
  }
}
