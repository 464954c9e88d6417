#include "xrec/data/cold_start.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <set>

#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/loader.hpp"
#include "xrec/registry.hpp"

using namespace xrec;
using namespace xrec::engine;

namespace {

// Ten users; user u starts at time 100 * u (so user 9 starts last), has 6 + (u % 3) interactions over
// items u+1, u+2, ... of 40, and one user (index 3) has too few interactions to be used.
DomainData fixture() {
  DomainData d;
  d.name = "cold";
  d.num_items = 40;
  for (int64_t u = 0; u < 10; ++u) {
    const int64_t n = u == 3 ? 4 : 6 + u % 3;
    std::vector<int64_t> s, t;
    for (int64_t k = 0; k < n; ++k) {
      s.push_back(u + 1 + k);
      t.push_back(100 * u + k);
    }
    d.sequences.push_back(s);
    d.timestamps.push_back(t);
  }
  return d;
}

ColdStartOptions options() {
  ColdStartOptions o;
  o.cold_fraction = 0.3;
  o.support = 3;
  o.min_query = 2;
  o.negatives = 2;
  o.seed = 11;
  return o;
}

std::set<int64_t> users(const std::vector<UserTask>& tasks) {
  std::set<int64_t> out;
  for (auto& t : tasks) out.insert(t.user);
  return out;
}

}  // namespace

TEST(ColdStart, LatestStartersAreColdByTime) {
  const DomainData d = fixture();
  const ColdStartTask t = cold_start_split(d, options());
  EXPECT_EQ(t.name, "cold");
  EXPECT_EQ(t.data, &d);
  // Nine eligible users (3 has 4 < support + min_query = 5), 30% of nine rounds to 3 cold: the last starters.
  EXPECT_EQ(users(t.cold), (std::set<int64_t>{7, 8, 9}));
  EXPECT_EQ(users(t.warm), (std::set<int64_t>{0, 1, 2, 4, 5, 6}));
}

TEST(ColdStart, SupportIsTheFirstInteractionsAndNegativesAreUnseen) {
  const DomainData d = fixture();
  const ColdStartTask t = cold_start_split(d, options());
  for (auto* group : {&t.warm, &t.cold})
    for (const UserTask& u : *group) {
      const auto& seq = d.sequences[static_cast<size_t>(u.user)];
      const std::set<int64_t> seen(seq.begin(), seq.end());
      std::vector<int64_t> support_pos, query_pos;
      std::set<int64_t> negatives;
      for (auto& li : u.support) (li.label == 1 ? support_pos.push_back(li.item) : (void)negatives.insert(li.item));
      for (auto& li : u.query) (li.label == 1 ? query_pos.push_back(li.item) : (void)negatives.insert(li.item));
      EXPECT_EQ(support_pos, std::vector<int64_t>(seq.begin(), seq.begin() + 3)) << u.user;
      EXPECT_EQ(query_pos, std::vector<int64_t>(seq.begin() + 3, seq.end())) << u.user;
      EXPECT_EQ(u.support.size(), 3u * 3);  // each positive with two negatives
      EXPECT_EQ(u.query.size(), 3 * query_pos.size());
      EXPECT_EQ(negatives.size(), 2 * seq.size()) << "negatives are distinct within a user";
      for (int64_t n : negatives) {
        EXPECT_FALSE(seen.count(n)) << n;
        EXPECT_GE(n, 1);
        EXPECT_LE(n, d.num_items);
      }
    }
}

TEST(ColdStart, DeterministicPerSeed) {
  const DomainData d = fixture();
  ColdStartOptions o = options();
  o.order = "random";
  auto items = [](const ColdStartTask& t) {
    std::vector<int64_t> out;
    for (auto* g : {&t.warm, &t.cold})
      for (auto& u : *g)
        for (auto* part : {&u.support, &u.query})
          for (auto& li : *part) out.push_back(li.item);
    return out;
  };
  const ColdStartTask a = cold_start_split(d, o), b = cold_start_split(d, o);
  EXPECT_EQ(users(a.cold), users(b.cold));
  EXPECT_EQ(items(a), items(b));
  EXPECT_EQ(a.cold.size(), 3u);
  o.seed = 12;
  const ColdStartTask c = cold_start_split(d, o);
  EXPECT_NE(items(a), items(c));
}

TEST(ColdStart, TimestampsOrderEachUsersInteractions) {
  DomainData d = fixture();
  // User 0 saw its items in the reverse of the sequence order: support follows the timestamps.
  std::reverse(d.timestamps[0].begin(), d.timestamps[0].end());
  const ColdStartTask t = cold_start_split(d, options());
  const UserTask& u0 = t.warm.front();
  ASSERT_EQ(u0.user, 0);
  EXPECT_EQ(u0.support[0].item, 6);
  EXPECT_EQ(u0.support[3].item, 5);
}

TEST(ColdStart, RandomOrderWorksWithoutTimestamps) {
  DomainData d = fixture();
  d.timestamps.clear();
  ColdStartOptions o = options();
  try {
    cold_start_split(d, o);
    FAIL() << "order time without timestamps was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("order 'time' needs timestamps"), std::string::npos) << e.what();
  }
  o.order = "random";
  const ColdStartTask t = cold_start_split(d, o);
  EXPECT_EQ(t.cold.size() + t.warm.size(), 9u);
}

TEST(ColdStart, BadOptionsAreErrors) {
  const DomainData d = fixture();
  ColdStartOptions o = options();
  o.order = "alphabetical";
  EXPECT_THROW(cold_start_split(d, o), InputError);
  o = options();
  o.cold_fraction = 1.5;
  EXPECT_THROW(cold_start_split(d, o), InputError);
  o = options();
  o.support = 50;
  EXPECT_THROW(cold_start_split(d, o), InputError);  // nobody is eligible
}

TEST(ColdStart, TinyCataloguesRepeatNegativesRatherThanLoop) {
  DomainData d;
  d.name = "tiny";
  d.num_items = 5;
  d.sequences = {{1, 2, 3}, {1, 2, 3}};
  ColdStartOptions o;
  o.order = "random";
  o.cold_fraction = 0.5;
  o.support = 1;
  o.min_query = 1;
  o.negatives = 3;
  const ColdStartTask t = cold_start_split(d, o);
  ASSERT_EQ(t.cold.size(), 1u);
  for (auto& li : t.cold[0].query)
    if (li.label == 0) {
      EXPECT_TRUE(li.item == 4 || li.item == 5);
    }
  EXPECT_EQ(t.cold[0].query.size(), 2u * 4);
}

// On the real MovieLens 100K (943 users, each with at least 20 ratings and timestamps), read by the `atomic`
// plugin of this build.
TEST(ColdStart, MovieLens100kByFirstInteraction) {
  const std::string root = XREC_TEST_SHARED_DATA;
  const std::string plugin = std::string(XREC_TEST_PLUGIN_DIR) + "/atomic.so";
  if (!std::filesystem::exists(root + "/ml-100k/ml-100k.inter"))
    GTEST_SKIP() << "ml-100k not found under " << root << " (the shared data folder is absent)";
  if (!std::filesystem::exists(plugin)) GTEST_SKIP() << plugin << " is not built (cmake --build . --target atomic)";
  Registry registry;
  PluginLoader loader(registry);
  ASSERT_TRUE(loader.load_file(plugin)) << (loader.problems().empty() ? "" : loader.problems()[0].message);
  const Component& atomic = registry.get(Kind::Dataset, "atomic");
  Params p = Params::defaults(atomic.params, "dataset (atomic)");
  p.set("path", Value(std::string("ml-100k")));
  PluginContext ctx;
  ctx.data_roots = {root};
  const DomainData d = atomic.dataset(p, ctx)->load();
  ASSERT_EQ(d.num_users(), 943);
  ASSERT_FALSE(d.timestamps.empty());
  EXPECT_FALSE(d.user_side.empty());  // age, gender, occupation, zip code
  EXPECT_FALSE(d.item_side.empty());  // title, year, genres

  const ColdStartTask t = cold_start_split(d, ColdStartOptions{});
  EXPECT_EQ(t.warm.size() + t.cold.size(), 943u);  // everyone has >= support + min_query = 11 interactions
  EXPECT_EQ(t.cold.size(), 189u);                   // round(0.2 * 943)
  auto first = [&](int64_t u) {
    const auto& ts = d.timestamps[static_cast<size_t>(u)];
    return *std::min_element(ts.begin(), ts.end());
  };
  int64_t latest_warm = 0, earliest_cold = INT64_MAX;
  for (auto& u : t.warm) latest_warm = std::max(latest_warm, first(u.user));
  for (auto& u : t.cold) earliest_cold = std::min(earliest_cold, first(u.user));
  EXPECT_LE(latest_warm, earliest_cold);
  for (auto& u : t.cold) {
    const auto& seq = d.sequences[static_cast<size_t>(u.user)];
    const std::set<int64_t> seen(seq.begin(), seq.end());
    EXPECT_EQ(u.support.size(), 20u);  // 10 positives, one negative each
    EXPECT_EQ(u.query.size(), 2 * (seq.size() - 10));
    for (auto* part : {&u.support, &u.query})
      for (auto& li : *part) EXPECT_EQ(li.label == 1, seen.count(li.item) == 1) << u.user << " " << li.item;
  }
}
