#include "xrec/data/split.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <unordered_set>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

namespace {
// A task of `data` with nothing in it yet.
Task empty_task(const DomainData& data, const std::string& role) {
  Task t;
  t.name = data.name;
  t.role = role;
  t.data = &data;
  return t;
}
}  // namespace

Task leave_one_out(const DomainData& data, const std::string& role, const SplitOptions& options) {
  Task t = empty_task(data, role);
  for (int64_t u = 0; u < data.num_users(); ++u) {
    const auto& s = data.sequences[static_cast<size_t>(u)];
    const auto n = static_cast<int64_t>(s.size());
    if (n < 2) continue;
    if (n < options.min_length) {
      t.train.push_back(s);
      continue;
    }
    t.train.emplace_back(s.begin(), s.end() - 2);
    t.valid.push_back(EvalCase{u, std::vector<int64_t>(s.begin(), s.end() - 2), s[n - 2], {}});
    t.test.push_back(EvalCase{u, std::vector<int64_t>(s.begin(), s.end() - 1), s[n - 1], {}});
  }
  if (t.valid.empty())
    throw InputError("dataset '" + data.name + "': no user has at least " + std::to_string(options.min_length) +
                     " interactions, so nothing can be evaluated (split.min_length)");
  return t;
}

namespace {
std::string list_text(const std::vector<double>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    std::ostringstream x;
    x << v[i];
    out += (i ? ", " : "") + x.str();
  }
  return out + "]";
}

// RecBole's per-group part sizes (data/dataset/dataset.py, _calcu_split_ids) for normalised ratios.
std::vector<int64_t> part_sizes(int64_t n, const std::vector<double>& ratios) {
  std::vector<int64_t> cnt(ratios.size());
  int64_t rest = n;
  for (size_t i = 1; i < ratios.size(); ++i) {
    cnt[i] = static_cast<int64_t>(ratios[i] * static_cast<double>(n));
    rest -= cnt[i];
  }
  cnt[0] = rest;
  for (size_t i = 1; i < ratios.size(); ++i) {
    if (cnt[0] <= 1) break;
    const size_t j = ratios.size() - i;  // test first, then valid
    const double share = ratios[j] * static_cast<double>(n);
    if (share > 0 && share < 1) {
      cnt[j] += 1;
      cnt[0] -= 1;
    }
  }
  return cnt;
}

std::string time_range(const DomainData& d) {
  int64_t lo = 0, hi = 0;
  bool any = false;
  for (auto& ts : d.timestamps)
    for (int64_t t : ts) {
      lo = any ? std::min(lo, t) : t;
      hi = any ? std::max(hi, t) : t;
      any = true;
    }
  return any ? "the timestamps run from " + std::to_string(lo) + " to " + std::to_string(hi) : "it has no interactions";
}
}  // namespace

Task ratio_split(const DomainData& data, const std::string& role, const std::vector<double>& ratios) {
  double total = 0;
  bool ok = ratios.size() == 3;
  for (double r : ratios) {
    ok = ok && std::isfinite(r) && r >= 0;
    total += r;
  }
  if (!ok || !(ratios[0] > 0) || !(total > 0))
    throw InputError("split.ratios must be three shares [train, valid, test], each >= 0 with train > 0, found " +
                     list_text(ratios));
  std::vector<double> norm;
  for (double r : ratios) norm.push_back(r / total);
  Task t = empty_task(data, role);
  for (int64_t u = 0; u < data.num_users(); ++u) {
    const auto& s = data.sequences[static_cast<size_t>(u)];
    const auto n = static_cast<int64_t>(s.size());
    if (n == 0) continue;
    const std::vector<int64_t> cnt = part_sizes(n, norm);
    t.train.emplace_back(s.begin(), s.begin() + cnt[0]);
    for (int64_t k = cnt[0]; k < n; ++k) {
      EvalCase c{u, std::vector<int64_t>(s.begin(), s.begin() + k), s[static_cast<size_t>(k)], {}};
      (k < cnt[0] + cnt[1] ? t.valid : t.test).push_back(std::move(c));
    }
  }
  return t;
}

Task time_split(const DomainData& data, const std::string& role, int64_t valid_time, int64_t test_time) {
  if (data.timestamps.empty())
    throw InputError("split.method is 'time' but dataset '" + data.name +
                     "' has no timestamps (use a format with a timestamp column, or another split.method)");
  if (valid_time > test_time)
    throw InputError("split.valid_time (" + std::to_string(valid_time) + ") must not be after split.test_time (" +
                     std::to_string(test_time) + ")");
  Task t = empty_task(data, role);
  for (int64_t u = 0; u < data.num_users(); ++u) {
    const auto& s = data.sequences[static_cast<size_t>(u)];
    const auto& ts = data.timestamps[static_cast<size_t>(u)];
    std::vector<int64_t> train;
    for (size_t k = 0; k < s.size(); ++k) {
      if (ts[k] < valid_time) {
        train.push_back(s[k]);
        continue;
      }
      if (k == 0) continue;  // nothing to predict it from: it is only history
      EvalCase c{u, std::vector<int64_t>(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k)), s[k], {}};
      (ts[k] < test_time ? t.valid : t.test).push_back(std::move(c));
    }
    if (!train.empty()) t.train.push_back(std::move(train));
  }
  return t;
}

Task given_split(const DomainData& data, const std::string& role) {
  if (!data.given_split)
    throw InputError("split.method is 'given' but dataset '" + data.name +
                     "' ships no split of its own (pre-split formats such as UniSRec's .train/.valid/.test.inter "
                     "do; use another split.method)");
  Task t = empty_task(data, role);
  t.train = data.given_split->train;
  t.valid = data.given_split->valid;
  t.test = data.given_split->test;
  return t;
}

Task split_domain(const DomainData& data, const std::string& role, const SplitOptions& o) {
  Task t;
  if (o.method == "leave_one_out") return leave_one_out(data, role, o);  // checks its own cases
  if (o.method == "ratio")
    t = ratio_split(data, role, o.ratios);
  else if (o.method == "time")
    t = time_split(data, role, o.valid_time, o.test_time);
  else if (o.method == "given")
    t = given_split(data, role);
  else
    throw InputError("unknown split.method '" + o.method + "' (expected leave_one_out, ratio, time or given)");
  std::string why;
  if (o.method == "ratio")
    why = "split.ratios " + list_text(o.ratios) + " leaves no user enough interactions for it";
  else if (o.method == "time")
    why = "split.valid_time " + std::to_string(o.valid_time) + " / split.test_time " + std::to_string(o.test_time) +
          " select no interaction with a history before it; " + time_range(data);
  else
    why = "the dataset's own split has none";
  if (t.valid.empty()) throw InputError("dataset '" + data.name + "': no validation cases: " + why);
  if (t.test.empty()) throw InputError("dataset '" + data.name + "': no test cases: " + why);
  return t;
}

void keep_training_users(Task& task, double fraction, int64_t count, uint64_t seed) {
  const auto n = static_cast<int64_t>(task.train.size());
  int64_t keep = n;
  if (count > 0) {
    if (count > n)
      throw InputError("train_users is " + std::to_string(count) + " but domain '" + task.name + "' has only " +
                       std::to_string(n) + " training users");
    keep = count;
  } else {
    if (!(fraction > 0 && fraction <= 1))
      throw InputError("train_fraction must be in (0, 1], found " + std::to_string(fraction));
    keep = std::max<int64_t>(1, std::llround(fraction * static_cast<double>(n)));
  }
  if (keep >= n) return;
  // Fisher-Yates with our own bounded draw: std::shuffle differs between standard libraries.
  std::vector<size_t> order(static_cast<size_t>(n));
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng() % (i + 1)]);
  order.resize(static_cast<size_t>(keep));
  std::sort(order.begin(), order.end());  // kept users stay in their original order
  std::vector<std::vector<int64_t>> kept;
  kept.reserve(order.size());
  for (size_t i : order) kept.push_back(std::move(task.train[i]));
  task.train = std::move(kept);
}

namespace {
// Draws `count` distinct items outside `seen` with the given sampler.
class NegativeSampler {
 public:
  NegativeSampler(const Task& task, const NegativeOptions& o) : o_(o), rng_(o.seed), n_(task.num_items()) {
    if (o.sampler == "popularity") {
      std::vector<double> w(static_cast<size_t>(n_ + 1), 0.0);
      for (auto& s : task.train)
        for (int64_t i : s) w[static_cast<size_t>(i)] += 1;
      // Items unseen in training still get a small weight so every item can be drawn.
      for (size_t i = 1; i < w.size(); ++i) w[i] += 1e-3;
      pop_ = std::discrete_distribution<int64_t>(w.begin(), w.end());
    }
  }

  std::vector<int64_t> draw(const std::unordered_set<int64_t>& seen) {
    const int64_t available = n_ - static_cast<int64_t>(seen.size());
    const int64_t want = std::min<int64_t>(o_.count, std::max<int64_t>(available, 0));
    std::vector<int64_t> out;
    std::unordered_set<int64_t> taken;
    std::uniform_int_distribution<int64_t> uni(1, n_);
    int64_t tries = 0;
    while (static_cast<int64_t>(out.size()) < want) {
      int64_t i = o_.sampler == "popularity" && ++tries < want * 1000 ? pop_(rng_) : uni(rng_);
      if (i < 1 || seen.count(i) || taken.count(i)) continue;
      taken.insert(i);
      out.push_back(i);
    }
    return out;
  }

 private:
  NegativeOptions o_;
  std::mt19937_64 rng_;
  int64_t n_;
  std::discrete_distribution<int64_t> pop_;
};
}  // namespace

void attach_negatives(Task& task, const NegativeOptions& options) {
  const DomainData& d = *task.data;
  if (options.sampler == "file") {
    if (d.fixed_negatives.empty())
      throw InputError("eval.sampler is 'file' but dataset '" + d.name +
                       "' has no fixed negatives (give the dataset a negatives file)");
    for (auto* cases : {&task.valid, &task.test})
      for (auto& c : *cases) c.negatives = d.fixed_negatives[static_cast<size_t>(c.user)];
    return;
  }
  if (options.sampler != "uniform" && options.sampler != "popularity")
    throw InputError("unknown negative sampler '" + options.sampler + "' (expected uniform, popularity or file)");
  NegativeSampler sampler(task, options);
  for (auto* cases : {&task.valid, &task.test})
    for (auto& c : *cases) {
      const auto& s = d.sequences[static_cast<size_t>(c.user)];
      std::unordered_set<int64_t> seen(s.begin(), s.end());
      c.negatives = sampler.draw(seen);
    }
}

}  // namespace xrec::engine
