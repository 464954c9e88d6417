// The `user_sequences` dataset plugin: one user per line (S3-Rec files), fixed negatives and item
// attributes from *_item2attributes.json, through the real loader.
#include <filesystem>

#include "dataset_harness.hpp"

using namespace xrec;
using namespace xrec::test;

namespace {

using Seq = std::vector<int64_t>;
using Strings = std::vector<std::string>;

const std::string kFixtures = std::string(XREC_TEST_FIXTURES) + "/data/user_sequences";

DomainData load(const std::string& root, std::map<std::string, Value> values) {
  return load_dataset("user_sequences", values, root);
}

// Loading `values` from `root` fails with an InputError holding every one of `parts`.
void expect_error(const std::string& root, std::map<std::string, Value> values, const std::vector<std::string>& parts) {
  try {
    load(root, values);
    ADD_FAILURE() << "expected an InputError";
  } catch (const InputError& e) {
    for (auto& part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << part << " not in: " << e.what();
  }
}

const CategoricalFeature* attributes(const DomainData& d) {
  for (auto& f : d.item_side.categorical)
    if (f.name == "attributes") return &f;
  return nullptr;
}

}  // namespace

TEST(UserSequencesPlugin, ReadsTheS3RecLayout) {
  DomainData d = load(kFixtures, {{"path", Value("Toy.txt")}, {"attributes_file", Value(std::string())}});
  EXPECT_EQ(d.name, "Toy");
  EXPECT_EQ(d.user_ids, (Strings{"1", "2", "3"}));  // the blank line is skipped
  // Numeric raw ids keep their numeric order: 1..6 stay, 8 and 9 (no 7) become 7 and 8.
  EXPECT_EQ(d.item_ids, (Strings{"", "1", "2", "3", "4", "5", "6", "8", "9"}));
  EXPECT_EQ(d.num_items, 8);
  EXPECT_EQ(d.sequences, (std::vector<Seq>{{3, 1, 4, 1, 5}, {8, 2, 6}, {5, 3, 5, 7}}));  // repeats stay
  EXPECT_TRUE(d.fixed_negatives.empty());
  EXPECT_TRUE(d.item_side.empty());
  EXPECT_EQ(d.source_files, (Strings{kFixtures + "/Toy.txt"}));
}

TEST(UserSequencesPlugin, NonNumericIdsByFirstAppearanceAndNumericByValue) {
  FixtureDir dir("user-sequences-ids");
  dir.write("words.txt", "zoe pen cup\namy cup ink\n");
  dir.write("nums.txt", "a 10 9\nb 100 9\n");
  DomainData w = load(dir.root(), {{"path", Value("words.txt")}, {"name", Value("shop")}});
  EXPECT_EQ(w.name, "shop");
  EXPECT_EQ(w.item_ids, (Strings{"", "pen", "cup", "ink"}));
  EXPECT_EQ(w.sequences, (std::vector<Seq>{{1, 2}, {2, 3}}));
  DomainData n = load(dir.root(), {{"path", Value("nums.txt")}});
  EXPECT_EQ(n.item_ids, (Strings{"", "9", "10", "100"}));  // by value, not as text
  EXPECT_EQ(n.sequences, (std::vector<Seq>{{2, 1}, {3, 1}}));
}

TEST(UserSequencesPlugin, MaxUsersKeepsTheFirstUsers) {
  DomainData d = load(kFixtures, {{"path", Value("Toy.txt")}, {"max_users", Value(int64_t{2})},
                                  {"negatives_file", Value("Toy_sample.txt")}});
  EXPECT_EQ(d.user_ids, (Strings{"1", "2"}));
  EXPECT_EQ(d.num_items, 7);  // raw 8 only occurs for user 3
  // User 3's negatives are dropped with the user; the others map to the new ids.
  EXPECT_EQ(d.fixed_negatives, (std::vector<Seq>{{2, 6}, {1, 3}}));
}

TEST(UserSequencesPlugin, FixedNegatives) {
  DomainData d = load(kFixtures, {{"path", Value("Toy.txt")}, {"negatives_file", Value("Toy_sample.txt")}});
  EXPECT_EQ(d.fixed_negatives, (std::vector<Seq>{{2, 6}, {1, 3}, {4, 8}}));  // raw 9 is item id 8
  EXPECT_EQ(d.source_files.back(), kFixtures + "/Toy_item2attributes.json");
  EXPECT_EQ(d.source_files[1], kFixtures + "/Toy_sample.txt");
}

TEST(UserSequencesPlugin, MalformedSequenceFiles) {
  FixtureDir dir("user-sequences-bad");
  dir.write("lonely.txt", "1 2 3\n\n2\n");
  dir.write("twice.txt", "1 2 3\n2 4\n1 5\n");
  dir.write("empty.txt", "");
  dir.write("blank.txt", "\n  \n\t\n");
  expect_error(dir.root(), {{"path", Value("lonely.txt")}}, {"lonely.txt:3: user '2' has no items"});
  expect_error(dir.root(), {{"path", Value("twice.txt")}}, {"twice.txt:3: user '1' already appeared on line 1"});
  expect_error(dir.root(), {{"path", Value("empty.txt")}}, {"empty.txt: no users", "the file is empty"});
  expect_error(dir.root(), {{"path", Value("blank.txt")}}, {"blank.txt: no users"});
  expect_error(dir.root(), {{"path", Value("absent.txt")}}, {"data file 'absent.txt' not found", "S3-Rec"});
}

TEST(UserSequencesPlugin, MalformedNegatives) {
  FixtureDir dir("user-sequences-negatives");
  dir.write("d.txt", "1 10 11\n2 11 12\n");
  const std::vector<std::pair<std::string, Strings>> cases = {
      {"1 12\n3 10\n2 10\n", {"neg.txt:2: user '3' is not in the interaction file"}},
      {"1 12\n2 99\n", {"neg.txt:2: negative item '99' does not occur in the interaction file"}},
      {"1\n2 10\n", {"neg.txt:1: no negatives for user '1'"}},
      {"1 12\n1 12\n", {"neg.txt:2: user '1' already has a line of negatives"}},
      {"1 12\n", {"neg.txt: 1 of 2 users have no line of negatives (first: '2')"}},
      {"", {"neg.txt: 2 of 2 users have no line of negatives"}},
  };
  for (auto& [text, parts] : cases) {
    dir.write("neg.txt", text);
    SCOPED_TRACE(text);
    expect_error(dir.root(), {{"path", Value("d.txt")}, {"negatives_file", Value("neg.txt")}}, parts);
  }
}

TEST(UserSequencesPlugin, AttributesNextToTheFile) {
  DomainData d = load(kFixtures, {{"path", Value("Toy.txt")}});  // attributes_file: auto
  const CategoricalFeature* f = attributes(d);
  ASSERT_NE(f, nullptr);
  // Raw attribute ids of the items in the sequences, numbered in ascending order; item 77 is ignored.
  EXPECT_EQ(f->vocab, 3);
  EXPECT_EQ(f->labels, (Strings{"", "10", "20", "30"}));
  ASSERT_EQ(f->values.size(), 9u);
  EXPECT_EQ(f->values[1], (Seq{1, 2}));  // raw item 1
  EXPECT_EQ(f->values[3], (Seq{2, 3}));  // raw item 3: the repeated 20 counts once
  EXPECT_EQ(f->values[8], (Seq{}));      // raw item 9: an empty list
  EXPECT_EQ(f->values[2], (Seq{}));      // raw item 2 is not in the file: no attributes
  EXPECT_EQ(f->values[0], (Seq{}));
  EXPECT_EQ(d.source_files, (Strings{kFixtures + "/Toy.txt", kFixtures + "/Toy_item2attributes.json"}));
}

TEST(UserSequencesPlugin, AttributesFromAPathOrNone) {
  FixtureDir dir("user-sequences-attributes");
  dir.write("shop.txt", "u1 1 2\nu2 2 3\n");
  dir.write("meta/attrs.json", "{\"\\u0031\": [-5, 7], \"2\":[7]}");  // "\u0031" is "1"
  DomainData d = load(dir.root(), {{"path", Value("shop.txt")}, {"attributes_file", Value("meta/attrs.json")}});
  const CategoricalFeature* f = attributes(d);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->labels, (Strings{"", "-5", "7"}));
  EXPECT_EQ(f->values[1], (Seq{1, 2}));
  EXPECT_EQ(f->values[2], (Seq{2}));
  EXPECT_EQ(f->values[3], (Seq{}));
  // auto finds no shop_item2attributes.json: no attributes, no error.
  EXPECT_TRUE(load(dir.root(), {{"path", Value("shop.txt")}}).item_side.empty());
  EXPECT_TRUE(load(kFixtures, {{"path", Value("Toy.txt")}, {"attributes_file", Value(std::string())}}).item_side.empty());
  expect_error(dir.root(), {{"path", Value("shop.txt")}, {"attributes_file", Value("meta/none.json")}},
               {"data file 'meta/none.json' not found"});
}

TEST(UserSequencesPlugin, MalformedAttributesNameFileLineAndByte) {
  FixtureDir dir("user-sequences-json");
  dir.write("s.txt", "u 1 2\n");
  const std::vector<std::pair<std::string, Strings>> cases = {
      {"", {"a.json:1:1 (byte 0): found the end of the file, expected '{'"}},
      {"[1, 2]", {"a.json:1:1 (byte 0): found '[', expected '{'"}},
      {"{1: [2]}", {"a.json:1:2 (byte 1): found '1', expected a string item id"}},
      {"{\"1\" [2]}", {"a.json:1:6 (byte 5): found '[', expected ':' after the item id"}},
      {"{\"1\": 2}", {"a.json:1:7 (byte 6): found '2', expected '[' opening the array of attribute ids of item \"1\""}},
      {"{\"1\": [2.5]}", {"a.json:1:8 (byte 7): a number that is not an integer", "item \"1\""}},
      {"{\"1\": [1e3]}", {"a.json:1:8 (byte 7): a number that is not an integer"}},
      {"{\"1\": [02]}", {"a.json:1:8 (byte 7): a number with a leading zero"}},
      {"{\"1\": [\"2\"]}", {"a.json:1:8 (byte 7): found '\"', expected an integer attribute id of item \"1\""}},
      {"{\"1\": [99999999999999999999]}", {"a.json:1:8 (byte 7): a number outside the 64-bit integers"}},
      {"{\"1\": [2,]}", {"a.json:1:10 (byte 9): found ']', expected an integer attribute id"}},
      {"{\"1\": [2] \"2\": [3]}", {"a.json:1:11 (byte 10): found '\"', expected ',' or '}' after the attributes of item \"1\""}},
      {"{\"1\": [2]}\n{}", {"a.json:2:1 (byte 11): found '{', expected the end of the file after the object"}},
      {"{\"1\": [2],\n \"1\": [3]}", {"a.json:2:2 (byte 12): item \"1\" appears twice (first on line 1)"}},
      {"{\"1\": [2], \"2", {"a.json:1:12 (byte 11): a string that is never closed"}},
      {"{\"\\x\": [2]}", {"a.json:1:4 (byte 3): found 'x', expected an escape character"}},
      {"{\"1\": [2, 3}", {"a.json:1:12 (byte 11): found '}', expected ',' or ']'"}},
      {"{\"a\tb\": [1]}", {"a.json:1:4 (byte 3): found byte 0x09, expected a closing '\"'"}},
      {"{\"7\": [1], \"8\": [2]}", {"a.json: none of its 2 items occurs in", "s.txt", "such as '1'"}},
      {"{}", {"a.json: none of its 0 items occurs in"}},
  };
  for (auto& [text, parts] : cases) {
    dir.write("a.json", text);
    SCOPED_TRACE(text);
    expect_error(dir.root(), {{"path", Value("s.txt")}, {"attributes_file", Value("a.json")}}, parts);
  }
}

// The S3-Rec files: item counts and attribute vocabularies (computed independently with Python's json).
namespace {
struct RealCase {
  std::string file;
  int64_t users, items, with_attributes, vocab;
};
}  // namespace

TEST(UserSequencesPlugin, RealS3RecFilesWithAttributes) {
  const std::string shared = XREC_TEST_SHARED_DATA;
  if (!std::filesystem::exists(shared + "/amazon-s3rec/Beauty.txt"))
    GTEST_SKIP() << "real data not found at " << shared << "/amazon-s3rec (../shared/data)";
  const std::vector<RealCase> cases = {
      {"Beauty", 22363, 12101, 12101, 637},
      {"LastFM", 1090, 3646, 3646, 388},
      {"Sports_and_Outdoors", 35598, 18357, 18357, 2277},
      {"Toys_and_Games", 19412, 11924, 11924, 1027},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.file);
    DomainData d = load(shared, {{"path", Value("amazon-s3rec/" + c.file + ".txt")}});
    EXPECT_EQ(d.num_users(), c.users);
    EXPECT_EQ(d.num_items, c.items);
    const CategoricalFeature* f = attributes(d);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->vocab, c.vocab);
    int64_t with = 0;
    for (auto& row : f->values) with += !row.empty();
    EXPECT_EQ(with, c.with_attributes);
  }
  // LastFM's 99 fixed negatives per user.
  DomainData lastfm = load(shared, {{"path", Value("amazon-s3rec/LastFM.txt")},
                                    {"negatives_file", Value("amazon-s3rec/LastFM_sample.txt")}});
  ASSERT_EQ(lastfm.fixed_negatives.size(), 1090u);
  for (auto& n : lastfm.fixed_negatives) ASSERT_EQ(n.size(), 99u);
}

// Issue 12 item 14: a huge or binary token is echoed cut and escaped, not raw (a 100 MB token was
// printed and stored twice).
TEST(UserSequencesPlugin, LongAndBinaryTokensAreCutAndEscaped) {
  FixtureDir dir("user-sequences-token");
  const std::string token = "\x01" + std::string(1'000'000, 'u') + "\xff";
  dir.write("huge.txt", token + "\n");  // a user without items
  try {
    load(dir.root(), {{"path", Value("huge.txt")}});
    ADD_FAILURE() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_LT(m.size(), 600u) << m.substr(0, 600);
    EXPECT_NE(m.find("user '\\x01uuu"), std::string::npos) << m;
    EXPECT_NE(m.find("... (1000002 bytes)' has no items"), std::string::npos) << m;
    EXPECT_EQ(m.find('\x01'), std::string::npos);
  }
}
