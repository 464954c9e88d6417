#pragma once
// Baseline plugins (pop, itemknn, markov) loaded from the build's plugin folder through the real loader,
// fitted on hand-made tasks. Params = the component's defaults overridden by the test's values, as the
// config layer would build them.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "xrec/api/baseline.hpp"
#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/data/split.hpp"
#include "xrec/loader.hpp"
#include "xrec/registry.hpp"
#include "plugins/dataset_harness.hpp"

// Own namespace: model_plugin_test links other harnesses, whose inline helpers must not share names.
namespace xrec::test::baseline {

// The test binary's one registry (plugins are never unloaded, so they are loaded once).
inline Registry& registry() { return plugin_registry(); }

inline const ParamSpec* find_spec(const Component& c, const std::string& key) {
  for (auto& s : c.params)
    if (s.name == key) return &s;
  return nullptr;
}

// What the config layer says about `value` for parameter `key` of baseline `type` ("" = accepted).
inline std::string spec_error(const std::string& type, const std::string& key, const Value& value) {
  const ParamSpec* spec = find_spec(registry().get(Kind::Baseline, type), key);
  if (!spec) throw Error("baseline " + type + " declares no parameter '" + key + "'");
  return spec->check(value);
}

// The baseline `type` with `values` over its defaults. `validate` = false skips the spec checks, to reach
// the factory's own checks with values the config layer would have refused.
inline std::shared_ptr<Baseline> make(const std::string& type, const std::map<std::string, Value>& values = {},
                                      bool validate = true) {
  const Component& c = registry().get(Kind::Baseline, type);
  Params p = Params::defaults(c.params, "baseline (" + type + ")");
  for (auto& [k, v] : values) {
    const ParamSpec* spec = find_spec(c, k);
    if (!spec) throw Error("test asked for unknown param '" + k + "' of " + type);
    if (std::string why = spec->check(v); validate && !why.empty())
      throw Error("test value for '" + k + "' of " + type + ": expected " + why);
    p.set(k, v);
  }
  return c.baseline(p, PluginContext{});
}

// A task over items 1..num_items whose training sequences are `train` (Task points at its DomainData).
struct HandTask {
  DomainData data;
  Task task;
};

inline std::unique_ptr<HandTask> make_task(int64_t num_items, std::vector<std::vector<int64_t>> train) {
  auto t = std::make_unique<HandTask>();
  t->data.name = "hand";
  t->data.num_items = num_items;
  t->data.sequences = train;
  t->task.name = "hand";
  t->task.role = "target";
  t->task.data = &t->data;
  t->task.train = std::move(train);
  return t;
}

// Scores of `histories` as a [B][num_items + 1] table, after checking the tensor's shape and type.
inline std::vector<std::vector<float>> score(Baseline& b, const std::vector<std::vector<int64_t>>& histories,
                                             int64_t num_items) {
  std::vector<const std::vector<int64_t>*> ptrs;
  for (auto& h : histories) ptrs.push_back(&h);
  torch::Tensor s = b.score(ptrs);
  EXPECT_EQ(s.dim(), 2);
  EXPECT_EQ(s.size(0), static_cast<int64_t>(histories.size()));
  EXPECT_EQ(s.size(1), num_items + 1);
  EXPECT_EQ(s.scalar_type(), torch::kFloat);
  s = s.contiguous();
  std::vector<std::vector<float>> out;
  const float* d = s.data_ptr<float>();
  for (int64_t r = 0; r < s.size(0); ++r) out.emplace_back(d + r * s.size(1), d + (r + 1) * s.size(1));
  return out;
}

// Expects each of `expected` (item -> score, index 0 ignored) in `row`, to float precision (relative, so
// that tiny scores such as Markov's popularity backoff are checked too).
inline void expect_row(const std::vector<float>& row, const std::vector<double>& expected, const std::string& what) {
  ASSERT_EQ(row.size(), expected.size()) << what;
  for (size_t j = 1; j < row.size(); ++j)
    EXPECT_NEAR(row[j], expected[j], 1e-6 * std::abs(expected[j]) + 1e-15) << what << ", item " << j;
}

// Items 1..n of `row` best first, equal scores by id: the evaluator's order before masking.
inline std::vector<int64_t> ranking(const std::vector<float>& row) {
  std::vector<int64_t> ids;
  for (size_t j = 1; j < row.size(); ++j) ids.push_back(static_cast<int64_t>(j));
  std::stable_sort(ids.begin(), ids.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
  return ids;
}

// Amazon Beauty (S3-Rec's 5-core file) split leave-one-out as `xrec run` splits it, loaded once; nullptr when
// the shared data is absent.
inline const Task* beauty() {
  static std::unique_ptr<HandTask> t = []() -> std::unique_ptr<HandTask> {
    const std::string root = XREC_TEST_SHARED_DATA;
    if (!std::filesystem::exists(root + "/amazon-s3rec/Beauty.txt")) return nullptr;
    const Component& c = registry().get(Kind::Dataset, "user_sequences");
    Params p = Params::defaults(c.params, "dataset (user_sequences)");
    p.set("path", "amazon-s3rec/Beauty.txt");
    PluginContext ctx;
    ctx.data_roots = {root};
    auto out = std::make_unique<HandTask>();
    out->data = c.dataset(p, ctx)->load();
    out->task = engine::leave_one_out(out->data, "target", engine::SplitOptions{});
    return out;
  }();
  return t ? &t->task : nullptr;
}

// Full-ranking hits and NDCG at k over `cases`, ranked as the host's evaluator ranks them (padding and
// history masked, the target kept; equal scores: lower id first), scored in batches of 1024.
struct FullRanking {
  int64_t hits = 0;
  double ndcg = 0;
  double seconds = 0;  // fit + score, without the ranking
};

inline FullRanking rank_full(Baseline& b, const Task& task, const std::vector<EvalCase>& cases, int64_t k) {
  FullRanking r;
  auto seconds_since = [](std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const auto fit_started = std::chrono::steady_clock::now();
  b.fit(task);
  r.seconds = seconds_since(fit_started);
  for (size_t lo = 0; lo < cases.size(); lo += 1024) {
    const size_t hi = std::min(cases.size(), lo + 1024);
    std::vector<const std::vector<int64_t>*> h;
    for (size_t i = lo; i < hi; ++i) h.push_back(&cases[i].history);
    const auto t0 = std::chrono::steady_clock::now();
    torch::Tensor s = b.score(h).contiguous();
    r.seconds += seconds_since(t0);
    const int64_t width = s.size(1);
    const float* d = s.data_ptr<float>();
    std::vector<char> masked(static_cast<size_t>(width));
    for (size_t i = lo; i < hi; ++i) {
      const EvalCase& c = cases[i];
      const float* row = d + static_cast<int64_t>(i - lo) * width;
      std::fill(masked.begin(), masked.end(), 0);
      for (int64_t x : c.history) masked[static_cast<size_t>(x)] = 1;
      const float t = row[c.target];
      int64_t rank = 0;
      for (int64_t j = 1; j < width; ++j)
        if (j != c.target && !masked[static_cast<size_t>(j)] && (row[j] > t || (row[j] == t && j < c.target))) ++rank;
      if (rank < k) {
        ++r.hits;
        r.ndcg += 1 / std::log2(static_cast<double>(rank) + 2);
      }
    }
  }
  r.ndcg /= static_cast<double>(cases.size());
  return r;
}

}  // namespace xrec::test::baseline
