// The `atomic` dataset plugin: RecBole atomic files (.inter, .item, .user), through the real loader.
#include <cmath>
#include <filesystem>
#include <random>

#include "dataset_harness.hpp"

using namespace xrec;
using namespace xrec::test;

namespace {

using Seq = std::vector<int64_t>;
using Rows = std::vector<std::vector<int64_t>>;
using Strings = std::vector<std::string>;

const std::string kInter =
    "user_id:token\titem_id:token\trating:float\ttimestamp:float\tsession:token\n"
    "u2\t20\t4\t300\ts1\n"
    "u1\t10\t5\t200\ts1\n"
    "u1\t30\t2\t100\ts2\n"
    "u2\t10\t3\t300\ts3\n"
    "u1\t20\t1\t150.4\ts2\n";
// Item 99 is not in .inter (ignored); item 20 has no row (empty side values); item 30 has no price.
const std::string kItem =
    "item_id:token\ttitle:token_seq\tyear:token\tgenres:token_seq\tprice:float\temb:float_seq\n"
    "10\tRed Shoe\t2001\tShoes Red\t9.5\t0.1 0.2\n"
    "99\tUnused Hat\t1999\tHats\t3\t1 2 3\n"
    "30\tBlue Sock\t2003\tSocks Blue Red\t\t0.5\n";
const std::string kUser =
    "user_id:token\tage:float\tgender:token\n"
    "u1\t34\tF\n"
    "u3\t20\tM\n"
    "u2\t\tM\n";

// A folder `shop/` with the three files (any of them replaced by `files`).
void write_shop(const FixtureDir& dir, std::map<std::string, std::string> files = {}) {
  files.emplace("shop.inter", kInter);
  files.emplace("shop.item", kItem);
  files.emplace("shop.user", kUser);
  for (auto& [name, text] : files)
    if (!text.empty()) dir.write("shop/" + name, text);
}

DomainData load(const FixtureDir& dir, std::map<std::string, Value> values) {
  values.emplace("path", Value("shop"));
  return load_dataset("atomic", values, dir.root());
}

const CategoricalFeature* categorical(const SideInfo& s, const std::string& name) {
  for (auto& f : s.categorical)
    if (f.name == name) return &f;
  return nullptr;
}
const NumericFeature* numeric(const SideInfo& s, const std::string& name) {
  for (auto& f : s.numeric)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace

TEST(AtomicPlugin, ReadsInteractionsInTimeOrder) {
  FixtureDir dir("atomic-inter");
  write_shop(dir);
  DomainData d = load(dir, {});
  EXPECT_EQ(d.name, "shop");
  EXPECT_EQ(d.user_ids, (Strings{"u2", "u1"}));       // first appearance
  EXPECT_EQ(d.item_ids, (Strings{"", "10", "20", "30"}));  // numeric order
  // u2's two rows at time 300 keep their file order; u1's rows are sorted (150.4 rounds to 150).
  EXPECT_EQ(d.sequences, (Rows{{2, 1}, {3, 2, 1}}));
  EXPECT_EQ(d.timestamps, (Rows{{300, 300}, {100, 150, 200}}));
  EXPECT_EQ(d.ratings, (std::vector<std::vector<float>>{{4.f, 3.f}, {2.f, 1.f, 5.f}}));
  EXPECT_EQ(d.source_files, (Strings{dir.root() + "/shop/shop.inter", dir.root() + "/shop/shop.item",
                                     dir.root() + "/shop/shop.user"}));
}

TEST(AtomicPlugin, SideColumnsBecomeFeatures) {
  FixtureDir dir("atomic-side");
  write_shop(dir);
  DomainData d = load(dir, {{"text_fields", Value(Strings{"title"})}});
  const SideInfo& item = d.item_side;
  ASSERT_EQ(item.categorical.size(), 2u);  // year, genres (title is text)
  EXPECT_EQ(item.categorical[0].name, "year");
  EXPECT_EQ(item.categorical[0].vocab, 2);  // 1999 belongs to an item without interactions
  EXPECT_EQ(item.categorical[0].labels, (Strings{"", "2001", "2003"}));
  EXPECT_EQ(item.categorical[0].values, (Rows{{}, {1}, {}, {2}}));  // rows: padding, 10, 20, 30
  const CategoricalFeature* genres = categorical(item, "genres");
  ASSERT_NE(genres, nullptr);
  EXPECT_EQ(genres->labels, (Strings{"", "Shoes", "Red", "Socks", "Blue"}));
  EXPECT_EQ(genres->values, (Rows{{}, {1, 2}, {}, {3, 4, 2}}));

  ASSERT_EQ(item.text.size(), 1u);
  EXPECT_EQ(item.text[0].name, "title");
  EXPECT_EQ(item.text[0].values, (Strings{"", "Red Shoe", "", "Blue Sock"}));

  // price, then emb as emb[0], emb[1] (the longest loaded row has 2 values), NaN where missing.
  ASSERT_EQ(item.numeric.size(), 3u);
  EXPECT_EQ(item.numeric[0].name, "price");
  EXPECT_EQ(item.numeric[1].name, "emb[0]");
  EXPECT_EQ(item.numeric[2].name, "emb[1]");
  const auto& price = item.numeric[0].values;
  ASSERT_EQ(price.size(), 4u);
  EXPECT_TRUE(std::isnan(price[0]) && std::isnan(price[2]) && std::isnan(price[3]));
  EXPECT_DOUBLE_EQ(price[1], 9.5);
  EXPECT_DOUBLE_EQ(item.numeric[1].values[1], 0.1);
  EXPECT_DOUBLE_EQ(item.numeric[1].values[3], 0.5);
  EXPECT_DOUBLE_EQ(item.numeric[2].values[1], 0.2);
  EXPECT_TRUE(std::isnan(item.numeric[2].values[3]));

  // Users: rows in user index order (u2, u1); u3 has no interactions.
  const SideInfo& user = d.user_side;
  ASSERT_EQ(user.numeric.size(), 1u);
  EXPECT_TRUE(std::isnan(user.numeric[0].values[0]));
  EXPECT_DOUBLE_EQ(user.numeric[0].values[1], 34.0);
  ASSERT_EQ(user.categorical.size(), 1u);
  EXPECT_EQ(user.categorical[0].labels, (Strings{"", "F", "M"}));
  EXPECT_EQ(user.categorical[0].values, (Rows{{2}, {1}}));

  // Without text_fields a token_seq title is categorical like any other.
  DomainData c = load(dir, {});
  const CategoricalFeature* title = categorical(c.item_side, "title");
  ASSERT_NE(title, nullptr);
  EXPECT_EQ(title->labels, (Strings{"", "Red", "Shoe", "Blue", "Sock"}));
  EXPECT_TRUE(c.item_side.text.empty());
}

TEST(AtomicPlugin, ColumnSelection) {
  FixtureDir dir("atomic-select");
  write_shop(dir);
  DomainData d = load(dir, {{"item_fields", Value(Strings{"price", "genres"})}, {"user_fields", Value(Strings{})}});
  ASSERT_EQ(d.item_side.categorical.size(), 1u);
  EXPECT_EQ(d.item_side.categorical[0].name, "genres");
  ASSERT_EQ(d.item_side.numeric.size(), 1u);
  EXPECT_EQ(d.item_side.numeric[0].name, "price");
  EXPECT_TRUE(d.user_side.empty());
  EXPECT_EQ(d.source_files.size(), 2u);  // .user not read at all

  DomainData u = load(dir, {{"item_fields", Value(Strings{})}, {"user_fields", Value(Strings{"gender"})}});
  EXPECT_TRUE(u.item_side.empty());
  EXPECT_NE(categorical(u.user_side, "gender"), nullptr);
  EXPECT_EQ(numeric(u.user_side, "age"), nullptr);
}

TEST(AtomicPlugin, SideFilesAreOptional) {
  FixtureDir dir("atomic-noside");
  dir.write("shop/shop.inter", kInter);
  DomainData d = load(dir, {});
  EXPECT_TRUE(d.item_side.empty());
  EXPECT_TRUE(d.user_side.empty());
  EXPECT_EQ(d.source_files.size(), 1u);
}

TEST(AtomicPlugin, FieldOptions) {
  FixtureDir dir("atomic-fields");
  // Renamed id fields, no timestamp: file order stays; a name that differs from the folder.
  dir.write("data/x/books.inter", "uid:token\tiid:token\tscore:float\nb\tk2\t1\na\tk1\t5\nb\tk1\t4\n");
  dir.write("data/x/books.item", "iid:token\tauthor:token\nk1\tAnn\nk2\tBob\n");
  DomainData d = load_dataset("atomic",
                              {{"path", Value("data/x/")},
                               {"name", Value("books")},
                               {"user_field", Value("uid")},
                               {"item_field", Value("iid")},
                               {"rating_field", Value("score")},
                               {"min_rating", Value(2.0)}},
                              dir.root());
  EXPECT_EQ(d.name, "books");
  EXPECT_EQ(d.user_ids, (Strings{"a", "b"}));  // b's only kept row comes after a's
  EXPECT_EQ(d.item_ids, (Strings{"", "k1"}));  // k2 was rated 1: dropped
  EXPECT_EQ(d.sequences, (Rows{{1}, {1}}));
  EXPECT_EQ(d.ratings, (std::vector<std::vector<float>>{{5.f}, {4.f}}));
  EXPECT_TRUE(d.timestamps.empty());
  ASSERT_EQ(d.item_side.categorical.size(), 1u);
  EXPECT_EQ(d.item_side.categorical[0].labels, (Strings{"", "Ann"}));

  // time_field: "" keeps file order even when a timestamp column exists; rating_field: "" drops ratings.
  FixtureDir shop("atomic-fileorder");
  write_shop(shop);
  DomainData f = load(shop, {{"time_field", Value("")}, {"rating_field", Value("")}});
  EXPECT_EQ(f.sequences, (Rows{{2, 1}, {1, 3, 2}}));
  EXPECT_TRUE(f.timestamps.empty());
  EXPECT_TRUE(f.ratings.empty());
}

TEST(AtomicPlugin, MalformedHeadersNameFileLineAndColumn) {
  FixtureDir dir("atomic-header");
  const std::string inter = dir.root() + "/shop/shop.inter";
  write_shop(dir, {{"shop.inter", "user_id\titem_id:token\nu1\t1\n"}});
  expect_input_error([&] { load(dir, {}); },
                     {inter + ":1: column 1 header 'user_id' has no type (expected field:type with type one of token, "
                              "token_seq, float, float_seq, e.g. user_id:token)"});
  write_shop(dir, {{"shop.inter", "user_id:token\titem_id:token\trating:int\nu1\t1\t3\n"}});
  expect_input_error([&] { load(dir, {}); },
                     {inter + ":1: column 3 header 'rating:int' has unknown type 'int' (expected one of token"});
  write_shop(dir, {{"shop.inter", "user_id:token\titem_id:token\titem_id:float\nu1\t1\t3\n"}});
  expect_input_error([&] { load(dir, {}); },
                     {inter + ":1: column 3 header 'item_id:float' repeats field 'item_id' of column 2"});
  write_shop(dir, {{"shop.inter", "user_id:token\tproduct:token\trating:float\nu1\t1\t3\n"}});
  expect_input_error([&] { load(dir, {}); },
                     {inter + ":1: no 'item_id' column for `item_field: item_id` (the header has: user_id:token, "
                              "product:token, rating:float)"});
  write_shop(dir, {{"shop.inter", "user_id:token_seq\titem_id:token\nu1\t1\n"}});
  expect_input_error([&] { load(dir, {}); },
                     {inter + ":1: column 'user_id:token_seq' is used as `user_field` but holds a sequence"});
  write_shop(dir, {{"shop.inter", "user_id:token\titem_id:token\trating:float\nu1\t1\t3\n"}});
  expect_input_error([&] { load(dir, {{"time_field", Value("when")}}); },
                     {inter + ":1: no 'when' column for `time_field: when`"});
  write_shop(dir, {{"shop.inter", "user_id:token\titem_id:token\nu1\t1\n"}});
  expect_input_error([&] { load(dir, {{"min_rating", Value(3.0)}}); },
                     {inter + ":1: `min_rating: 3.0` needs a rating column, but there is no 'rating'"});
  write_shop(dir, {{"shop.inter", "\n"}});
  expect_input_error([&] { load(dir, {}); }, {inter + ": empty file (expected a header line"});
  write_shop(dir, {{"shop.inter", "user_id:token\titem_id:token\n"}});
  expect_input_error([&] { load(dir, {}); }, {inter + ": no interactions (the file has only its header"});
}

TEST(AtomicPlugin, MalformedRowsNameFileLineAndColumn) {
  FixtureDir dir("atomic-rows");
  const std::string inter = dir.root() + "/shop/shop.inter";
  const std::string item = dir.root() + "/shop/shop.item";
  write_shop(dir, {{"shop.inter", "user_id:token\titem_id:token\trating:float\nu1\t1\t3\nu1\t2\n"}});
  expect_input_error([&] { load(dir, {}); },
                     {inter + ":3: found 2 columns, expected 3 (the header's columns: user_id:token, item_id:token, "
                              "rating:float)"});
  write_shop(dir, {{"shop.inter", "user_id:token\titem_id:token\trating:float\nu1\t1\t3\nu1\t2\tfive\n"}});
  expect_input_error([&] { load(dir, {}); },
                     {inter + ":3: value 'five' in column 3 (rating:float) is not a number (expected a rating)"});
  write_shop(dir, {{"shop.inter", "user_id:token\titem_id:token\ttimestamp:float\nu1\t1\tyesterday\n"}});
  expect_input_error([&] { load(dir, {}); },
                     {inter + ":2: value 'yesterday' in column 3 (timestamp:float) is not a number (expected a "
                              "timestamp)"});
  write_shop(dir, {{"shop.inter", "user_id:token\titem_id:token\nu1\t\n"}});
  expect_input_error([&] { load(dir, {}); }, {inter + ":2: value '' in column 2 (item_id:token) is empty"});
  write_shop(dir, {{"shop.inter", "user_id:token\titem_id:token\trating:float\nu1\t1\t1\n"}});
  expect_input_error([&] { load(dir, {{"min_rating", Value(2.0)}}); },
                     {inter + ": all 1 interactions have a rating below min_rating = 2.0"});

  write_shop(dir, {{"shop.inter", kInter}, {"shop.item", "item_id:token\tprice:float\n10\t1.5\n30\tcheap\n"}});
  expect_input_error([&] { load(dir, {}); }, {item + ":3: value 'cheap' in column 2 (price:float) is not a number"});
  write_shop(dir, {{"shop.item", "item_id:token\temb:float_seq\n10\t1 x 3\n"}});
  expect_input_error([&] { load(dir, {}); },
                     {item + ":2: value '1 x 3' in column 2 (emb:float_seq) holds 'x', which is not a number"});
  write_shop(dir, {{"shop.item", "item_id:token\tyear:token\n10\t2001\n30\t2003\n10\t2004\n"}});
  expect_input_error([&] { load(dir, {}); }, {item + ":4: item '10' already has a row on line 2"});
  write_shop(dir, {{"shop.item", "item_id:token\tyear:token\n10\t2001\t\tx\n"}});
  expect_input_error([&] { load(dir, {}); }, {item + ":2: found 4 columns, expected 2"});
  write_shop(dir, {{"shop.item", "id:token\tyear:token\n10\t2001\n"}});
  expect_input_error([&] { load(dir, {}); },
                     {item + ":1: no 'item_id' column for `item_field: item_id` (the header has: id:token, "
                             "year:token)"});
}

TEST(AtomicPlugin, ConfigErrorsNameTheParam) {
  FixtureDir dir("atomic-config");
  write_shop(dir);
  const std::string item = dir.root() + "/shop/shop.item";
  expect_input_error([&] { load(dir, {{"item_fields", Value(Strings{"price", "colour"})}}); },
                     {item + ":1: `item_fields` names 'colour', which this file does not have (the header has: "
                             "item_id:token, title:token_seq"});
  expect_input_error([&] { load(dir, {{"item_fields", Value(Strings{"item_id"})}}); },
                     {"`item_fields` names 'item_id', the item id column itself"});
  expect_input_error([&] { load(dir, {{"user_fields", Value(Strings{"*", "age"})}}); },
                     {"`user_fields` [*, age] mixes '*'"});
  expect_input_error([&] { load(dir, {{"text_fields", Value(Strings{"blurb"})}}); },
                     {"`text_fields` names 'blurb', which is not a loaded column of " + item});
  expect_input_error([&] { load(dir, {{"text_fields", Value(Strings{"price"})}}); },
                     {item + ":1: `text_fields` names 'price', a numeric column (price:float)"});
  expect_input_error(
      [&] { load(dir, {{"text_fields", Value(Strings{"title"})}, {"item_fields", Value(Strings{"year"})}}); },
      {"`text_fields` names 'title', which is not a loaded column"});

  FixtureDir bare("atomic-bare");
  bare.write("shop/shop.inter", kInter);
  expect_input_error([&] { load(bare, {{"user_fields", Value(Strings{"age"})}}); },
                     {"`user_fields` names [age] but " + bare.root() + "/shop/shop.user does not exist"});
  expect_input_error([&] { load_dataset("atomic", {{"path", Value("nowhere")}}, bare.root()); },
                     {"data file 'nowhere/nowhere.inter' not found", bare.root()});
}

// Real data: RecBole's ml-100k with the documented configuration (text_fields: [movie_title]).
TEST(AtomicPlugin, MovieLens100k) {
  const std::string shared = XREC_TEST_SHARED_DATA;
  if (!std::filesystem::exists(shared + "/ml-100k/ml-100k.inter"))
    GTEST_SKIP() << "real data not found at " << shared << "/ml-100k (../shared/data)";
  DomainData d = load_dataset("atomic", {{"path", Value("ml-100k")}, {"text_fields", Value(Strings{"movie_title"})}},
                              shared);
  EXPECT_EQ(d.name, "ml-100k");
  EXPECT_EQ(d.num_users(), 943);
  EXPECT_EQ(d.num_items, 1682);
  EXPECT_EQ(d.num_interactions(), 100000);
  EXPECT_EQ(d.source_files.size(), 3u);
  for (int64_t i = 1; i <= d.num_items; ++i) ASSERT_EQ(d.item_ids[static_cast<size_t>(i)], std::to_string(i));
  EXPECT_EQ(d.user_ids[0], "196");  // the first row's user
  EXPECT_EQ(d.user_ids[1], "186");
  ASSERT_EQ(d.sequences[0].size(), 39u);
  // User 196's first three ratings share one second; they keep their file order (242, 286, 269).
  EXPECT_EQ((Seq(d.sequences[0].begin(), d.sequences[0].begin() + 3)), (Seq{242, 286, 269}));
  for (size_t u = 0; u < d.timestamps.size(); ++u)
    ASSERT_TRUE(std::is_sorted(d.timestamps[u].begin(), d.timestamps[u].end())) << "user index " << u;
  size_t fives = 0;
  for (auto& r : d.ratings)
    for (float x : r) fives += x == 5.f;
  EXPECT_EQ(fives, 21201u);

  const SideInfo& item = d.item_side;
  ASSERT_EQ(item.text.size(), 1u);
  EXPECT_EQ(item.text[0].name, "movie_title");
  EXPECT_EQ(item.text[0].values[1], "Toy Story");
  const CategoricalFeature* year = categorical(item, "release_year");
  const CategoricalFeature* genres = categorical(item, "class");
  ASSERT_TRUE(year && genres);
  EXPECT_EQ(year->vocab, 73);  // 72 years and RecBole's "unkonwn"
  EXPECT_EQ(year->labels[static_cast<size_t>(year->values[1][0])], "1995");
  EXPECT_EQ(genres->vocab, 19);
  Strings toy_story;
  for (int64_t g : genres->values[1]) toy_story.push_back(genres->labels[static_cast<size_t>(g)]);
  EXPECT_EQ(toy_story, (Strings{"Animation", "Children's", "Comedy"}));

  const SideInfo& user = d.user_side;
  const CategoricalFeature* age = categorical(user, "age");  // ml-100k declares age:token
  const CategoricalFeature* gender = categorical(user, "gender");
  const CategoricalFeature* occupation = categorical(user, "occupation");
  const CategoricalFeature* zip = categorical(user, "zip_code");
  ASSERT_TRUE(age && gender && occupation && zip);
  EXPECT_EQ(age->vocab, 61);
  EXPECT_EQ(gender->vocab, 2);
  EXPECT_EQ(occupation->vocab, 21);
  EXPECT_EQ(zip->vocab, 795);
  // User 196 (index 0): 49, M, writer, 55105.
  EXPECT_EQ(age->labels[static_cast<size_t>(age->values[0][0])], "49");
  EXPECT_EQ(occupation->labels[static_cast<size_t>(occupation->values[0][0])], "writer");
  for (auto* f : {age, gender, occupation, zip})
    for (auto& row : f->values) ASSERT_EQ(row.size(), 1u) << f->name << ": every user has a value";
}

// Any damage to a valid file gives a domain or an InputError, never a crash or another exception.
TEST(AtomicPlugin, DamagedFilesNeverCrash) {
  static const char kBytes[] = "\t\r\n :0123456789.eE-+x\0";
  const std::string alphabet(kBytes, sizeof kBytes - 1);  // keeps the NUL byte
  std::mt19937 rng(5);
  FixtureDir dir("atomic-fuzz");
  for (auto& [file, good] : std::map<std::string, std::string>{
           {"shop.inter", kInter}, {"shop.item", kItem}, {"shop.user", kUser}}) {
    for (int round = 0; round < 200; ++round) {
      std::string text = good.substr(0, rng() % (good.size() + 1));
      for (int k = static_cast<int>(rng() % 6); k > 0 && !text.empty(); --k)
        text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
      write_shop(dir);
      dir.write("shop/" + file, text);
      try {
        load(dir, {{"text_fields", Value(Strings{"title"})}, {"min_rating", Value(2.0)}});
      } catch (const InputError& e) {
        // DomainData::validate's messages start so: the plugin produced an inconsistent domain.
        EXPECT_NE(std::string(e.what()).rfind("dataset '", 0), 0u) << e.what() << "\nfrom:\n" << text;
      }
    }
  }
}
