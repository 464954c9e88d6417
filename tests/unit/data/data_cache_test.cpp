#include "xrec/data/data_cache.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>

#include "xrec/api/errors.hpp"
#include "xrec/api/files.hpp"
#include "support/temp_dir.hpp"

using namespace xrec;
using namespace xrec::engine;
namespace fs = std::filesystem;

using xrec::test::TempDir;

namespace {


// A domain with every field set, to two source files.
DomainData full_domain(const std::vector<std::string>& sources) {
  DomainData d;
  d.name = "full";
  d.num_items = 4;
  d.sequences = {{1, 2, 3}, {4, 2}, {3}};
  d.timestamps = {{10, 20, 30}, {5, 6}, {7}};
  d.ratings = {{1.5f, 2, 3}, {4, 5}, {0.5f}};
  d.user_ids = {"u1", "u2", "\xc3\xa9l\xc3\xa8ve"};
  d.item_ids = {"", "a", "b", "c", "d"};
  d.item_side.categorical = {{"genre", 2, {{}, {1}, {1, 2}, {}, {2}}, {"", "x", "y"}}};
  d.item_side.numeric = {{"year", {std::nan(""), 1999, 2001.5, -3, 0}}};
  d.item_side.text = {{"title", {"", "one", "two words", "", "tab\tand\nnewline"}}};
  d.user_side.categorical = {{"gender", 2, {{1}, {2}, {}}, {"", "F", "M"}}};
  d.user_side.numeric = {{"age", {20, 30, std::nan("")}}};
  d.user_side.text = {{"bio", {"a", "", "c"}}};
  d.item_features = {{"text", 2, {0, 0, 1, 0, 0, 1, 0.5f, 0.5f, -1, 2}}};
  d.user_features = {{"attributes", 1, {1, 0, 1}}};
  d.fixed_negatives = {{3, 4}, {1, 3}, {1, 2}};
  GivenSplit g;
  g.train = {{1, 2}, {4}};
  g.valid = {EvalCase{0, {1, 2}, 3, {4}}};
  g.test = {EvalCase{1, {4}, 2, {1, 3}}, EvalCase{2, {}, 3, {}}};
  d.given_split = g;
  d.source_files = sources;
  return d;
}

bool same_double(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void expect_same(const DomainData& a, const DomainData& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.num_items, b.num_items);
  EXPECT_EQ(a.sequences, b.sequences);
  EXPECT_EQ(a.timestamps, b.timestamps);
  EXPECT_EQ(a.ratings, b.ratings);
  EXPECT_EQ(a.user_ids, b.user_ids);
  EXPECT_EQ(a.item_ids, b.item_ids);
  for (auto [x, y] : {std::pair{&a.item_side, &b.item_side}, std::pair{&a.user_side, &b.user_side}}) {
    ASSERT_EQ(x->categorical.size(), y->categorical.size());
    for (size_t i = 0; i < x->categorical.size(); ++i) {
      EXPECT_EQ(x->categorical[i].name, y->categorical[i].name);
      EXPECT_EQ(x->categorical[i].vocab, y->categorical[i].vocab);
      EXPECT_EQ(x->categorical[i].values, y->categorical[i].values);
      EXPECT_EQ(x->categorical[i].labels, y->categorical[i].labels);
    }
    ASSERT_EQ(x->numeric.size(), y->numeric.size());
    for (size_t i = 0; i < x->numeric.size(); ++i) {
      EXPECT_EQ(x->numeric[i].name, y->numeric[i].name);
      ASSERT_EQ(x->numeric[i].values.size(), y->numeric[i].values.size());
      for (size_t k = 0; k < x->numeric[i].values.size(); ++k)
        EXPECT_TRUE(same_double(x->numeric[i].values[k], y->numeric[i].values[k])) << x->numeric[i].name << k;
    }
    ASSERT_EQ(x->text.size(), y->text.size());
    for (size_t i = 0; i < x->text.size(); ++i) {
      EXPECT_EQ(x->text[i].name, y->text[i].name);
      EXPECT_EQ(x->text[i].values, y->text[i].values);
    }
  }
  for (auto [x, y] : {std::pair{&a.item_features, &b.item_features}, std::pair{&a.user_features, &b.user_features}}) {
    ASSERT_EQ(x->size(), y->size());
    for (size_t i = 0; i < x->size(); ++i) {
      EXPECT_EQ((*x)[i].name, (*y)[i].name);
      EXPECT_EQ((*x)[i].dim, (*y)[i].dim);
      EXPECT_EQ((*x)[i].values, (*y)[i].values);
    }
  }
  EXPECT_EQ(a.fixed_negatives, b.fixed_negatives);
  ASSERT_EQ(a.given_split.has_value(), b.given_split.has_value());
  if (a.given_split) {
    EXPECT_EQ(a.given_split->train, b.given_split->train);
    for (auto [x, y] : {std::pair{&a.given_split->valid, &b.given_split->valid},
                        std::pair{&a.given_split->test, &b.given_split->test}}) {
      ASSERT_EQ(x->size(), y->size());
      for (size_t i = 0; i < x->size(); ++i) {
        EXPECT_EQ((*x)[i].user, (*y)[i].user);
        EXPECT_EQ((*x)[i].history, (*y)[i].history);
        EXPECT_EQ((*x)[i].target, (*y)[i].target);
        EXPECT_EQ((*x)[i].negatives, (*y)[i].negatives);
      }
    }
  }
  EXPECT_EQ(a.source_files, b.source_files);
}

// A logger whose output the test can read.
struct CapturedLog {
  std::ostringstream text;
  std::shared_ptr<spdlog::logger> log =
      std::make_shared<spdlog::logger>("cache-test", std::make_shared<spdlog::sinks::ostream_sink_st>(text));
};

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(DataCache, SerialisationRoundTripsEveryField) {
  DomainData d = full_domain({"/nowhere/a.txt"});
  d.validate();
  std::stringstream bytes;
  write_domain(bytes, d);
  DomainData back = read_domain(bytes);
  expect_same(d, back);

  DomainData empty;  // no optional parts at all
  empty.name = "empty";
  std::stringstream e;
  write_domain(e, empty);
  DomainData empty_back = read_domain(e);
  EXPECT_EQ(empty_back.name, "empty");
  EXPECT_FALSE(empty_back.given_split.has_value());
}

TEST(DataCache, ReadDomainRejectsForeignAndTruncatedBytes) {
  std::stringstream foreign("definitely not a domain");
  EXPECT_THROW(read_domain(foreign), Error);
  std::stringstream bytes;
  write_domain(bytes, full_domain({}));
  const std::string all = bytes.str();
  for (size_t n : {size_t{0}, size_t{7}, size_t{12}, size_t{20}, all.size() / 2, all.size() - 1}) {
    std::stringstream cut(all.substr(0, n));
    EXPECT_THROW(read_domain(cut), Error) << "cut at " << n;
  }
}

TEST(DataCache, PutThenGetReturnsTheDomain) {
  TempDir dir("roundtrip");
  const auto a = dir.write("a.txt", "1 2 3\n"), b = dir.write("b.json", "{}");
  DomainData d = full_domain({a, b});
  DataCache cache(dir.path("cache"));
  cache.put("key-1", d);
  std::string why;
  auto got = cache.get("key-1", &why);
  ASSERT_TRUE(got.has_value()) << why;
  expect_same(d, *got);
  for (auto& entry : fs::directory_iterator(dir.path("cache")))
    EXPECT_EQ(entry.path().extension(), ".xrd") << "left behind: " << entry.path();  // temp file renamed

  d.name = "replaced";  // a second put replaces the entry
  cache.put("key-1", d);
  EXPECT_EQ(cache.get("key-1")->name, "replaced");
}

TEST(DataCache, AnotherKeyIsAMiss) {
  TempDir dir("keys");
  DataCache cache(dir.path("cache"));
  cache.put("dataset=beauty;k_core=5", full_domain({dir.write("a.txt", "x")}));
  std::string why;
  EXPECT_FALSE(cache.get("dataset=beauty;k_core=10", &why).has_value());
  EXPECT_EQ(why, "absent");
  EXPECT_TRUE(cache.get("dataset=beauty;k_core=5").has_value());
}

TEST(DataCache, AChangedOrMissingSourceFileMakesTheEntryStale) {
  TempDir dir("stale");
  const auto a = dir.write("a.txt", "1 2 3\n"), b = dir.write("b.txt", "4 5\n");
  DataCache cache(dir.path("cache"));
  cache.put("k", full_domain({a, b}));
  ASSERT_TRUE(cache.get("k").has_value());

  dir.write("b.txt", "4 6\n");  // same size, different content
  std::string why;
  EXPECT_FALSE(cache.get("k", &why).has_value());
  EXPECT_NE(why.find("'" + b + "' changed"), std::string::npos) << why;

  dir.write("b.txt", "4 5\n");  // restored: valid again
  EXPECT_TRUE(cache.get("k").has_value());

  fs::remove(a);
  EXPECT_FALSE(cache.get("k", &why).has_value());
  EXPECT_NE(why.find("'" + a + "' is gone"), std::string::npos) << why;
}

// Issue 12 item 4: a source file rewritten between the dataset's read and put() must not be cached
// under the new file's hash (the entry would serve the old content as if it were the new file's).
TEST(DataCache, AFileRewrittenAfterItWasReadIsNotCached) {
  TempDir dir("rewritten");
  const auto a = dir.write("a.txt", "1 2 3\n");
  EXPECT_EQ(read_file(a), "1 2 3\n");  // what the dataset plugin read
  EXPECT_EQ(last_read_fingerprint(a), content_fingerprint("1 2 3\n"));
  dir.write("a.txt", "7 8 9\n");  // rewritten while the domain was being preprocessed
  DataCache cache(dir.path("cache"));
  try {
    cache.put("k", full_domain({a}));
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'" + a + "' changed after the dataset read it"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(cache.get("k").has_value());  // nothing stored
  // Read again (the content the domain now describes): cached, and valid for the current file.
  EXPECT_EQ(read_file(a), "7 8 9\n");
  cache.put("k", full_domain({a}));
  EXPECT_TRUE(cache.get("k").has_value());
}

TEST(DataCache, TruncatedOrCorruptEntriesAreMissesWithAWarning) {
  TempDir dir("corrupt");
  const auto a = dir.write("a.txt", "1 2 3\n");
  CapturedLog captured;
  DataCache cache(dir.path("cache"), captured.log);
  cache.put("k", full_domain({a}));
  const std::string path = cache.path_for("k");
  const std::string good = file_bytes(path);

  // Truncation points: every byte of the header (magic, version, key, source hashes), then every 5th.
  for (size_t n = 0; n < good.size(); n += n < 200 ? 1 : 5) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << good.substr(0, n);
    std::string why;
    EXPECT_FALSE(cache.get("k", &why).has_value()) << "truncated to " << n << " bytes";
  }
  EXPECT_NE(captured.text.str().find("ignoring corrupt entry"), std::string::npos) << captured.text.str();

  // Flipped bytes in the payload: caught by the checksum (or a bounds check), never a crash.
  for (size_t at = good.size() / 2; at < good.size(); at += 7) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    EXPECT_FALSE(cache.get("k").has_value()) << "byte " << at << " flipped";
  }

  std::ofstream(path, std::ios::binary | std::ios::trunc) << good << "trailing";
  EXPECT_FALSE(cache.get("k").has_value());

  std::string other_version = good;
  other_version[8] = static_cast<char>(other_version[8] + 1);  // the u32 format version follows the magic
  std::ofstream(path, std::ios::binary | std::ios::trunc) << other_version;
  std::string why;
  EXPECT_FALSE(cache.get("k", &why).has_value());
  EXPECT_NE(why.find("format version"), std::string::npos) << why;

  std::ofstream(path, std::ios::binary | std::ios::trunc) << good;
  EXPECT_TRUE(cache.get("k").has_value());
}

TEST(DataCache, PutNamesASourceFileItCannotHash) {
  TempDir dir("put-error");
  DataCache cache(dir.path("cache"));
  try {
    cache.put("k", full_domain({dir.path("missing.txt")}));
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.txt"), std::string::npos) << e.what();
  }
}

TEST(DataCache, DefaultDirFollowsTheEnvironment) {
  auto saved = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  const auto cache = saved("XREC_CACHE"), xdg = saved("XDG_CACHE_HOME"), home = saved("HOME");
  ::setenv("XREC_CACHE", "/c/xrec", 1);
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  ::setenv("HOME", "/home/me", 1);
  EXPECT_EQ(DataCache::default_dir(), "/c/xrec");
  ::unsetenv("XREC_CACHE");
  EXPECT_EQ(DataCache::default_dir(), "/xdg/xrec");
  ::unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(DataCache::default_dir(), "/home/me/.cache/xrec");
  auto restore = [](const char* name, const std::optional<std::string>& v) {
    if (v) ::setenv(name, v->c_str(), 1);
    else ::unsetenv(name);
  };
  restore("XREC_CACHE", cache);
  restore("XDG_CACHE_HOME", xdg);
  restore("HOME", home);
}
