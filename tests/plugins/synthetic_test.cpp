// The `synthetic` dataset plugin: determinism, sizes, the similarity knob and a learnable sequential signal.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "dataset_harness.hpp"

using namespace xrec;
using namespace xrec::test;

namespace {

using Seq = std::vector<int64_t>;

DomainData generate(std::map<std::string, Value> values) { return load_dataset("synthetic", values); }

// The prototype index named by a raw item id "d<domain>-p<j>".
int64_t prototype(const std::string& raw) { return std::stoll(raw.substr(raw.find("-p") + 2)); }

// Transition counts in prototype space, [items * items] (row = from, column = to).
std::vector<double> prototype_transitions(const DomainData& d) {
  const auto n = static_cast<size_t>(d.num_items);
  std::vector<int64_t> proto(n + 1, 0);
  for (size_t i = 1; i <= n; ++i) proto[i] = prototype(d.item_ids[i]);
  std::vector<double> counts(n * n, 0.0);
  for (auto& s : d.sequences)
    for (size_t t = 1; t < s.size(); ++t)
      counts[static_cast<size_t>(proto[static_cast<size_t>(s[t - 1])]) * n + static_cast<size_t>(proto[static_cast<size_t>(s[t])])] += 1;
  return counts;
}

double correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

// Correlation of the target's transitions (domain 0, similarity 1) with those of source domain 1 at
// `similarity`, aligned through the hidden prototype mapping.
double cross_domain_correlation(double similarity) {
  std::map<std::string, Value> common = {{"users", Value(int64_t{3000})}, {"items", Value(int64_t{100})},
                                         {"noise", Value(0.0)},          {"seed", Value(int64_t{7})}};
  auto target = common, source = common;
  target["domain"] = Value(int64_t{0});
  source["domain"] = Value(int64_t{1});
  source["similarity"] = Value(similarity);
  return correlation(prototype_transitions(generate(target)), prototype_transitions(generate(source)));
}

// A first-order count model fitted on the first half of the users, ranking the next item of every
// transition of the other half among all items: HR@10 (ties count against the true item).
double first_order_hr10(const DomainData& d) {
  const auto n = static_cast<size_t>(d.num_items) + 1;
  std::vector<double> counts(n * n, 0.0);
  const size_t half = d.sequences.size() / 2;
  for (size_t u = 0; u < half; ++u) {
    const Seq& s = d.sequences[u];
    for (size_t t = 1; t < s.size(); ++t) counts[static_cast<size_t>(s[t - 1]) * n + static_cast<size_t>(s[t])] += 1;
  }
  int64_t hits = 0, cases = 0;
  for (size_t u = half; u < d.sequences.size(); ++u) {
    const Seq& s = d.sequences[u];
    for (size_t t = 1; t < s.size(); ++t) {
      const double* row = &counts[static_cast<size_t>(s[t - 1]) * n];
      const auto truth = static_cast<size_t>(s[t]);
      int64_t above = 0;
      for (size_t j = 1; j < n; ++j) above += j != truth && row[j] >= row[truth];
      hits += above < 10;
      ++cases;
    }
  }
  return static_cast<double>(hits) / static_cast<double>(cases);
}

}  // namespace

TEST(SyntheticPlugin, SizesIdsAndLengths) {
  DomainData d = generate({{"users", Value(int64_t{400})}, {"items", Value(int64_t{150})}, {"length", Value(12.0)}});
  EXPECT_EQ(d.name, "synthetic0");
  EXPECT_EQ(d.num_users(), 400);
  EXPECT_EQ(d.num_items, 150);
  ASSERT_EQ(d.item_ids.size(), 151u);
  ASSERT_EQ(d.user_ids.size(), 400u);
  EXPECT_EQ(d.user_ids[5], "d0-u5");
  // Every prototype exactly once: the raw ids name a permutation of 0..items-1.
  std::vector<int64_t> protos;
  for (size_t i = 1; i < d.item_ids.size(); ++i) protos.push_back(prototype(d.item_ids[i]));
  std::sort(protos.begin(), protos.end());
  for (int64_t j = 0; j < 150; ++j) EXPECT_EQ(protos[static_cast<size_t>(j)], j);
  int64_t shuffled = 0;  // ids hide the prototypes: the mapping is a permutation, not the identity
  for (size_t i = 1; i < d.item_ids.size(); ++i) shuffled += prototype(d.item_ids[i]) != static_cast<int64_t>(i) - 1;
  EXPECT_GT(shuffled, 100);
  size_t total = 0;
  for (auto& s : d.sequences) {
    EXPECT_GE(s.size(), 3u);
    total += s.size();
    for (size_t t = 0; t < s.size(); ++t) {
      ASSERT_GE(s[t], 1);
      ASSERT_LE(s[t], 150);
      if (t > 0) {
        ASSERT_NE(s[t], s[t - 1]);  // no self transition, even by noise
      }
    }
  }
  const double mean = static_cast<double>(total) / 400.0;
  EXPECT_NEAR(mean, 12.0, 1.2);
  // Several items are used: the first items are uniform.
  std::vector<bool> used(151, false);
  for (auto& s : d.sequences) used[static_cast<size_t>(s[0])] = true;
  EXPECT_GT(std::count(used.begin(), used.end(), true), 100);
}

TEST(SyntheticPlugin, DeterministicPerSeedAndDomain) {
  std::map<std::string, Value> p = {{"users", Value(int64_t{200})}, {"items", Value(int64_t{80})},
                                    {"seed", Value(int64_t{3})},    {"domain", Value(int64_t{2})},
                                    {"similarity", Value(0.6)}};
  DomainData a = generate(p), b = generate(p);
  EXPECT_EQ(a.sequences, b.sequences);
  EXPECT_EQ(a.item_ids, b.item_ids);
  EXPECT_EQ(a.name, "synthetic2");
  auto other_seed = p;
  other_seed["seed"] = Value(int64_t{4});
  EXPECT_NE(generate(other_seed).sequences, a.sequences);
  auto other_domain = p;
  other_domain["domain"] = Value(int64_t{1});
  DomainData c = generate(other_domain);
  EXPECT_NE(c.sequences, a.sequences);
  EXPECT_NE(c.item_ids, a.item_ids);  // each domain hides the prototypes behind its own permutation
  // Users are independent streams: more users leave the first users' sequences as they were.
  auto more = p;
  more["users"] = Value(int64_t{300});
  DomainData m = generate(more);
  EXPECT_EQ(std::vector<Seq>(m.sequences.begin(), m.sequences.begin() + 200), a.sequences);
  auto named = p;
  named["name"] = Value(std::string("books"));
  EXPECT_EQ(generate(named).name, "books");
}

TEST(SyntheticPlugin, SimilarityControlsSharedTransitionStructure) {
  const double same = cross_domain_correlation(1.0), half = cross_domain_correlation(0.5),
               unrelated = cross_domain_correlation(0.0);
  EXPECT_GT(same, 0.6);  // about 0.99, 0.2 and 0.0 with this seed
  EXPECT_LT(std::fabs(unrelated), 0.1);
  EXPECT_GT(half, unrelated + 0.1);
  EXPECT_LT(half, same - 0.1);
}

TEST(SyntheticPlugin, NextItemIsPredictableFarAboveChance) {
  const int64_t items = 200;
  const double chance = 10.0 / static_cast<double>(items - 1);
  DomainData d = generate({{"users", Value(int64_t{2000})}, {"items", Value(items)}, {"seed", Value(int64_t{11})}});
  const double hr10 = first_order_hr10(d);
  EXPECT_GT(hr10, 0.35) << "chance is " << chance;  // about 0.45 with this seed
  EXPECT_GT(hr10, 6 * chance);
  // Sharpness 0 makes every transition uniform: nothing to learn.
  DomainData flat = generate({{"users", Value(int64_t{2000})}, {"items", Value(items)}, {"sharpness", Value(0.0)}});
  EXPECT_LT(first_order_hr10(flat), 2 * chance);
}
