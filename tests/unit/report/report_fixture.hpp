#pragma once
// A hand-built store for the report tests: sweep "ant-demo" with the reference variant `scratch` and the
// transfer variants `finetune` (worse for most users: negative transfer) and `relearn` (the same cases as
// scratch up to a few users), seeds 1 to 3, each run with final metrics, per-epoch curves and case ranks.
#include <cmath>
#include <string>
#include <vector>

#include "xrec/sha256.hpp"
#include "xrec/store.hpp"

namespace xrec::test {

struct ReportFixture {
  int64_t sweep = 0;
  // Run ids per variant, by seed index 0..2.
  std::vector<int64_t> scratch, finetune, relearn;
  // Test ndcg@10 logged per variant and seed.
  std::vector<double> scratch_test{0.10, 0.11, 0.12}, finetune_test{0.08, 0.09, 0.10},
      relearn_test{0.101, 0.112, 0.119};
};

inline std::vector<std::pair<std::string, std::string>> fixture_params(const std::string& variant, int64_t seed,
                                                                       const std::string& dataset = "beauty") {
  std::vector<std::pair<std::string, std::string>> params{{"name", variant},
          {"seed", std::to_string(seed)},
          {"data.target.type", "user_sequences"},
          {"data.target.path", dataset + "/sequences.txt"},
          {"data.target.cache", "true"},
          {"eval.protocol", "full"},
          {"eval.batch_size", "1024"},
          {"eval.ks", "[10]"},
          {"split.method", "leave_one_out"},
          {"transfer.type", variant == "scratch" ? "scratch" : "finetune"},
          {"train.lr", variant == "relearn" ? "0.0003" : "0.001"}};
  // Scratch variants read no source domain; the transfer variants pre-train on one.
  if (variant.rfind("scratch", 0) != 0) params.push_back({"data.sources[0].path", "sports/sequences.txt"});
  return params;
}

// One finished trial run of `variant` (point label `label`) with its metrics and case ranks.
inline int64_t add_fixture_run(Store& store, int64_t sweep, const std::string& label, const std::string& variant,
                               int64_t seed, double test_value, const std::vector<int64_t>& ranks,
                               const std::string& dataset = "beauty") {
  RunInfo info;
  info.name = variant;
  info.sweep_id = sweep;
  info.config_yaml = "name: " + variant + "\n";
  info.config_hash = sha256_hex(label + std::to_string(seed) + dataset);
  info.seed = seed;
  info.threads = 1;
  info.device = "cpu";
  info.blas = "openblas";
  info.git_sha = "abc123";
  info.select_metric = "ndcg@10";
  const int64_t run = store.begin_run(info, fixture_params(variant, seed, dataset));
  for (int64_t epoch = 0; epoch < 4; ++epoch) {
    store.log_metric(run, "target", "train", "loss", epoch,
                     5.0 - 0.5 * static_cast<double>(epoch) + 0.01 * static_cast<double>(seed));
    store.log_metric(run, "target", "valid", "ndcg@10", epoch, test_value * (0.7 + 0.1 * static_cast<double>(epoch)));
    if (variant == "relearn")
      store.log_metric(run, "target", "meta", "source_weight", epoch, 0.5 + 0.1 * static_cast<double>(epoch));
  }
  store.log_metric(run, "data", "beauty", "users", 0, 100);
  store.log_final(run, "valid", "ndcg@10", test_value + 0.01);
  store.log_final(run, "test", "ndcg@10", test_value);
  std::vector<CaseRank> cases;
  for (size_t u = 0; u < ranks.size(); ++u)
    cases.push_back({static_cast<int64_t>(u), 1000 + static_cast<int64_t>(u), ranks[u], 500});
  store.log_case_ranks(run, "target", "test", cases);
  store.finish_run(run, RunStatus::Finished);
  TrialRecord t;
  t.key = sha256_hex(label + "/" + std::to_string(seed) + dataset);
  t.point_label = label;
  t.seed = seed;
  t.config_hash = info.config_hash;
  t.plugins_sha = "p";
  t.plugins = "";
  auto existing = store.trials(sweep);
  std::vector<TrialRecord> all(existing.begin(), existing.end());
  all.push_back(t);
  for (size_t i = 0; i < all.size(); ++i) all[i].point = static_cast<int64_t>(i);
  store.add_trials(sweep, all);
  store.trial_run(sweep, t.key, run);
  store.trial_ended(sweep, t.key, RunStatus::Finished);
  return run;
}

// 60 users: scratch ranks the target at u % 15; finetune 3 places lower for 50 users; relearn as scratch
// except users 0 and 1 (one better, one worse).
inline ReportFixture build_report_fixture(Store& store) {
  ReportFixture f;
  f.sweep =
      store.open_sweep("ant-demo", "base: x.yaml\nvariants: []\n", "name: base\n", sha256_hex("base"), "ndcg@10", true);
  store.set_sweep_reference(f.sweep, "scratch");
  std::vector<int64_t> base(60), worse(60), similar(60);
  for (int64_t u = 0; u < 60; ++u) {
    base[static_cast<size_t>(u)] = u % 15;
    worse[static_cast<size_t>(u)] = u < 50 ? u % 15 + 3 : u % 15;
    similar[static_cast<size_t>(u)] = u % 15;
  }
  similar[0] = 2;  // was 0
  similar[1] = 0;  // was 1
  for (int64_t s = 1; s <= 3; ++s) {
    const size_t i = static_cast<size_t>(s - 1);
    f.scratch.push_back(add_fixture_run(store, f.sweep, "scratch", "scratch", s, f.scratch_test[i], base));
    f.finetune.push_back(add_fixture_run(store, f.sweep, "finetune", "finetune", s, f.finetune_test[i], worse));
    f.relearn.push_back(add_fixture_run(store, f.sweep, "relearn", "relearn", s, f.relearn_test[i], similar));
  }
  store.close_sweep(f.sweep, RunStatus::Finished);
  return f;
}

}  // namespace xrec::test
