#include "xrec/engine/split.hpp"

#include <algorithm>
#include <random>
#include <unordered_set>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

Task leave_one_out(const DomainData& data, const std::string& role, const SplitOptions& options) {
  Task t;
  t.name = data.name;
  t.role = role;
  t.data = &data;
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
