#include "xrec/data/cold_start.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <unordered_set>
#include <vector>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

namespace {

// A user's own stream: the same negatives for a user whatever the other users are (splitmix64 of seed, user).
uint64_t user_seed(uint64_t seed, int64_t user) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(user) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Appends each positive followed by `per_positive` items the user never interacted with (distinct within the
// user while unseen items remain).
void label(const std::vector<int64_t>& positives, int64_t per_positive, int64_t num_items,
           const std::unordered_set<int64_t>& seen, std::unordered_set<int64_t>& drawn, std::mt19937_64& rng,
           std::vector<LabeledItem>& out) {
  for (int64_t item : positives) {
    out.push_back({item, 1.0f});
    for (int64_t k = 0; k < per_positive; ++k) {
      const int64_t unseen = num_items - static_cast<int64_t>(seen.size());
      if (unseen <= 0) return;
      // Once every unseen item was drawn for this user, repeats are allowed (tiny catalogues).
      if (static_cast<int64_t>(drawn.size()) >= unseen) drawn.clear();
      while (true) {
        const int64_t i = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(num_items));
        if (seen.count(i) || drawn.count(i)) continue;
        drawn.insert(i);
        out.push_back({i, 0.0f});
        break;
      }
    }
  }
}

}  // namespace

ColdStartTask cold_start_split(const DomainData& data, const ColdStartOptions& o) {
  const std::string where = "cold-start split of dataset '" + data.name + "': ";
  if (o.order != "time" && o.order != "random")
    throw InputError(where + "order must be time or random, found '" + o.order + "'");
  if (!(o.cold_fraction >= 0 && o.cold_fraction <= 1))
    throw InputError(where + "cold_fraction must be in [0, 1], found " + std::to_string(o.cold_fraction));
  if (o.support < 1) throw InputError(where + "support must be >= 1, found " + std::to_string(o.support));
  if (o.min_query < 1) throw InputError(where + "min_query must be >= 1, found " + std::to_string(o.min_query));
  if (o.negatives < 0) throw InputError(where + "negatives must be >= 0, found " + std::to_string(o.negatives));
  const bool timed = !data.timestamps.empty();
  if (o.order == "time" && !timed)
    throw InputError(where + "order 'time' needs timestamps, and this dataset has none (use order: random, or a "
                             "format with a timestamp column)");

  // Each eligible user's interactions in time order (sequence order breaks ties and serves without timestamps).
  struct Candidate {
    int64_t user;
    int64_t first_time;
    std::vector<int64_t> items;
  };
  std::vector<Candidate> eligible;
  for (int64_t u = 0; u < data.num_users(); ++u) {
    const auto& s = data.sequences[static_cast<size_t>(u)];
    if (static_cast<int64_t>(s.size()) < o.support + o.min_query) continue;
    Candidate c{u, 0, {}};
    if (timed) {
      const auto& ts = data.timestamps[static_cast<size_t>(u)];
      std::vector<size_t> order(s.size());
      std::iota(order.begin(), order.end(), size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ts[a] < ts[b]; });
      for (size_t k : order) c.items.push_back(s[k]);
      c.first_time = ts[order.front()];
    } else {
      c.items = s;
    }
    eligible.push_back(std::move(c));
  }
  if (eligible.empty())
    throw InputError(where + "no user has support + min_query = " + std::to_string(o.support + o.min_query) +
                     " interactions");

  // Cold users: the latest starters, or a seeded random draw.
  const auto n = static_cast<int64_t>(eligible.size());
  int64_t cold = std::llround(o.cold_fraction * static_cast<double>(n));
  if (o.cold_fraction > 0 && o.cold_fraction < 1 && n >= 2) cold = std::clamp<int64_t>(cold, 1, n - 1);
  std::vector<size_t> order(eligible.size());
  std::iota(order.begin(), order.end(), size_t{0});
  if (o.order == "time") {
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return eligible[a].first_time < eligible[b].first_time; });
  } else {
    std::mt19937_64 rng(o.seed);
    for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng() % (i + 1)]);
    std::reverse(order.begin(), order.end());  // the draw's first users end up cold, below
  }
  std::vector<char> is_cold(eligible.size(), 0);
  for (int64_t k = n - cold; k < n; ++k) is_cold[order[static_cast<size_t>(k)]] = 1;

  ColdStartTask task;
  task.name = data.name;
  task.data = &data;
  for (size_t e = 0; e < eligible.size(); ++e) {
    const Candidate& c = eligible[e];
    UserTask t;
    t.user = c.user;
    std::mt19937_64 rng(user_seed(o.seed, c.user));
    const std::unordered_set<int64_t> seen(c.items.begin(), c.items.end());
    std::unordered_set<int64_t> drawn;
    const auto split = c.items.begin() + o.support;
    label(std::vector<int64_t>(c.items.begin(), split), o.negatives, data.num_items, seen, drawn, rng, t.support);
    label(std::vector<int64_t>(split, c.items.end()), o.negatives, data.num_items, seen, drawn, rng, t.query);
    (is_cold[e] ? task.cold : task.warm).push_back(std::move(t));
  }
  return task;
}

}  // namespace xrec::engine
