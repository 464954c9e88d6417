// The `rating_csv` dataset plugin: Amazon's raw `user,item,rating,timestamp` files, through the real loader.
#include <algorithm>
#include <random>

#include "dataset_harness.hpp"
#include "xrec/api/files.hpp"

using namespace xrec;
using namespace xrec::test;

namespace {

using Rows = std::vector<std::vector<int64_t>>;
using Ratings = std::vector<std::vector<float>>;
using Strings = std::vector<std::string>;

const std::string kFixtures = std::string(XREC_TEST_FIXTURES) + "/data/rating_csv";

DomainData load(const std::string& root, std::map<std::string, Value> values) {
  return load_dataset("rating_csv", values, root);
}

}  // namespace

TEST(RatingCsvPlugin, ReadsQuotedFieldsAndOrdersByTime) {
  DomainData d = load(kFixtures, {{"path", Value("ratings_Quoted.csv")}});
  EXPECT_EQ(d.name, "Quoted");  // "ratings_" is dropped from the default name
  EXPECT_EQ(d.user_ids, (Strings{"A1", "A2, the second", "A3\r\nmulti-line", "A2"}));
  EXPECT_EQ(d.item_ids, (Strings{"", "0205616461", "B00ABC", "B00\"Q\""}));  // ASINs: first appearance
  // A1's two ratings at 1369699200 keep their file order.
  EXPECT_EQ(d.sequences, (Rows{{2, 1, 3}, {2}, {1}, {1}}));
  EXPECT_EQ(d.timestamps, (Rows{{1200000000, 1369699200, 1369699200}, {1355443200}, {1400000000}, {1300000000}}));
  EXPECT_EQ(d.ratings, (Ratings{{2.f, 5.f, 4.f}, {3.f}, {1.f}, {4.f}}));
  EXPECT_EQ(d.source_files, (Strings{kFixtures + "/ratings_Quoted.csv"}));
}

TEST(RatingCsvPlugin, MinRatingKeepsPositives) {
  DomainData d = load(kFixtures, {{"path", Value("ratings_Quoted.csv")}, {"min_rating", Value(4.0)}, {"name", Value("q")}});
  EXPECT_EQ(d.name, "q");
  EXPECT_EQ(d.user_ids, (Strings{"A1", "A2"}));
  EXPECT_EQ(d.item_ids, (Strings{"", "0205616461", "B00\"Q\""}));
  EXPECT_EQ(d.sequences, (Rows{{1, 2}, {1}}));
  EXPECT_EQ(d.ratings, (Ratings{{5.f, 4.f}, {4.f}}));
}

// The smoke config's data: shuffled rows, quoted ids with commas.
TEST(RatingCsvPlugin, SmokeFixture) {
  DomainData all = load(kFixtures, {{"path", Value("ratings_Smoke.csv")}});
  EXPECT_EQ(all.num_users(), 20);
  EXPECT_EQ(all.num_items, 30);
  EXPECT_EQ(all.num_interactions(), 140);
  EXPECT_EQ(all.user_ids[0], "A010, Jr.");
  for (auto& t : all.timestamps) EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
  DomainData pos = load(kFixtures, {{"path", Value("ratings_Smoke.csv")}, {"min_rating", Value(4.0)}});
  EXPECT_EQ(pos.num_users(), 20);
  EXPECT_EQ(pos.num_items, 27);
  EXPECT_EQ(pos.num_interactions(), 89);
  for (auto& r : pos.ratings)
    for (float x : r) EXPECT_GE(x, 4.f);
}

TEST(RatingCsvPlugin, HeaderAndNumericItems) {
  FixtureDir dir("rating-csv-header");
  dir.write("r.csv", "user,item,rating,timestamp\nu,30,5,3\nu,4,5,1\n\nv,100,1,2\n");
  DomainData d = load(dir.root(), {{"path", Value("r.csv")}, {"header", Value(true)}});
  EXPECT_EQ(d.name, "r");
  EXPECT_EQ(d.item_ids, (Strings{"", "4", "30", "100"}));  // numeric ids keep numeric order
  EXPECT_EQ(d.sequences, (Rows{{1, 2}, {3}}));
}

TEST(RatingCsvPlugin, MalformedFilesNameFileLineAndProblem) {
  FixtureDir dir("rating-csv-bad");
  const std::string three = dir.write("three.csv", "u,i,5,1\nu,i,5\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("three.csv")}}); },
                     {three + ":2: found 3 columns, expected 4 (user,item,rating,timestamp)"});
  // The quoted comma is part of the id, so this row has 5 columns only because of the last one.
  const std::string five = dir.write("five.csv", "\"u,1\",i,5,1\nu,i,5,1,extra\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("five.csv")}}); },
                     {five + ":2: found 5 columns, expected 4"});
  // Line numbers count the line break inside the quoted id.
  const std::string rating = dir.write("rating.csv", "\"u\nx\",i,5,1\nv,i,five,2\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("rating.csv")}}); },
                     {rating + ":3: rating 'five' in column 3 is not a number (user,item,rating,timestamp)"});
  const std::string time = dir.write("time.csv", "u,i,5,1\nu,i,5,2014-01-01\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("time.csv")}}); },
                     {time + ":2: timestamp '2014-01-01' in column 4 is not a number"});
  const std::string user = dir.write("user.csv", "\"\",i,5,1\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("user.csv")}}); },
                     {user + ":1: empty user id in column 1"});
  const std::string item = dir.write("item.csv", "u,,5,1\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("item.csv")}}); },
                     {item + ":1: empty item id in column 2"});
  const std::string open = dir.write("open.csv", "u,i,5,1\nu,\"i,5,1\nv,j,4,2\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("open.csv")}}); },
                     {open + ":2: field 2 opens a quote that is never closed"});
  const std::string after = dir.write("after.csv", "u,\"i\"x,5,1\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("after.csv")}}); },
                     {after + ":1: unexpected 'x' after the closing quote of field 2"});
  const std::string empty = dir.write("empty.csv", "");
  expect_input_error([&] { load(dir.root(), {{"path", Value("empty.csv")}}); },
                     {empty + ": no ratings (the file is empty; expected lines user,item,rating,timestamp)"});
  const std::string header = dir.write("header.csv", "user,item,rating,timestamp\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("header.csv")}, {"header", Value(true)}}); },
                     {header + ": no ratings (the file is empty apart from its header line"});
  // A header the config did not declare is just a row with a non-numeric rating.
  expect_input_error([&] { load(dir.root(), {{"path", Value("header.csv")}}); },
                     {header + ":1: rating 'rating' in column 3 is not a number"});
  const std::string low = dir.write("low.csv", "u,i,1,1\nv,i,2,1\n");
  expect_input_error([&] { load(dir.root(), {{"path", Value("low.csv")}, {"min_rating", Value(4.0)}}); },
                     {low + ": all 2 ratings are below min_rating = 4.0"});
  expect_input_error([&] { load(dir.root(), {{"path", Value("ratings_Nope.csv")}}); },
                     {"data file 'ratings_Nope.csv' not found", "jmcauley.ucsd.edu"});
}

// Any damage to a valid file gives a domain or an InputError, never a crash or another exception.
TEST(RatingCsvPlugin, DamagedFilesNeverCrash) {
  const std::string good = read_file(kFixtures + "/ratings_Quoted.csv");
  static const char kBytes[] = "\",\r\n \t0123456789.eE-+xA\0";
  const std::string alphabet(kBytes, sizeof kBytes - 1);  // keeps the NUL byte
  std::mt19937 rng(7);
  FixtureDir dir("rating-csv-fuzz");
  for (int round = 0; round < 300; ++round) {
    std::string text = good.substr(0, rng() % (good.size() + 1));
    for (int k = static_cast<int>(rng() % 6); k > 0 && !text.empty(); --k)
      text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
    dir.write("f.csv", text);
    try {
      load(dir.root(), {{"path", Value("f.csv")}, {"min_rating", Value(2.0)}});
    } catch (const InputError& e) {
      // DomainData::validate's messages start so: the plugin produced an inconsistent domain.
      EXPECT_NE(std::string(e.what()).rfind("dataset '", 0), 0u) << e.what() << "\nfrom:\n" << text;
    }
  }
}
