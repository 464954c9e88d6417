// Paired comparison of runs: the statistics against reference values, and the pairing of stored ranks.
#include "xrec/compare.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "support/temp_dir.hpp"
#include "xrec/api/errors.hpp"

namespace xrec {
namespace {

TEST(CompareStatistics, StudentTMatchesTables) {
  // Two-sided p of t = 2.228 with 10 degrees of freedom is 0.05; t = 1.96 with df -> infinity is 0.05.
  EXPECT_NEAR(student_t_two_sided_p(2.228, 10), 0.05, 2e-4);
  EXPECT_NEAR(student_t_two_sided_p(1.96, 1e6), 0.05, 1e-4);
  EXPECT_NEAR(student_t_two_sided_p(0, 5), 1.0, 1e-12);
  EXPECT_NEAR(student_t_two_sided_p(-2.228, 10), 0.05, 2e-4);
  // One degree of freedom is the Cauchy distribution: P(|T| > 1) = 0.5.
  EXPECT_NEAR(student_t_two_sided_p(1, 1), 0.5, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.228139, 1e-5);
  EXPECT_NEAR(student_t_quantile(0.975, 1e6), 1.959966, 1e-4);
  EXPECT_NEAR(student_t_quantile(0.5, 3), 0.0, 1e-6);
  EXPECT_NEAR(normal_two_sided_p(1.959964), 0.05, 1e-6);
}

// Reference values computed by hand (and by numeric integration of the t density) for these samples.
TEST(CompareStatistics, PairedTestMatchesReference) {
  std::vector<double> a{0.1, 0.4, 0.3, 0.0, 0.5, 0.2, 0.3, 0.1};
  std::vector<double> b{0.2, 0.5, 0.3, 0.2, 0.4, 0.4, 0.6, 0.1};
  PairedTest t = paired_test(a, b);
  EXPECT_EQ(t.n, 8);
  EXPECT_NEAR(t.mean_a, 0.2375, 1e-12);
  EXPECT_NEAR(t.mean_b, 0.3375, 1e-12);
  EXPECT_NEAR(t.diff, 0.1, 1e-12);
  // d = 0.1, 0.1, 0, 0.2, -0.1, 0.2, 0.3, 0: sd = 0.13093, se = 0.046291, t = 2.16025, df 7.
  EXPECT_NEAR(t.t, 2.160247, 1e-5);
  EXPECT_NEAR(t.t_p, 0.067583, 2e-6);
  EXPECT_NEAR(t.ci_low, 0.1 - 2.364624 * 0.0462910, 1e-5);
  EXPECT_NEAR(t.ci_high, 0.1 + 2.364624 * 0.0462910, 1e-5);
  EXPECT_EQ(t.b_better, 5);
  EXPECT_EQ(t.a_better, 1);
  EXPECT_EQ(t.ties, 2);
  // Wilcoxon: nonzero |d| = .1 .1 .2 .1 .2 .3 -> ranks 2 2 4.5 2 4.5 6; W+ = 21 - 2 = 19; n = 6,
  // mean 10.5, var = 6*7*13/24 - (3^3-3 + 2^3-2)/48 = 22.75 - 0.625 = 22.125, z = 8.5 / 4.70372 = 1.80708.
  EXPECT_NEAR(t.wilcoxon_z, 1.8070796, 1e-6);
  EXPECT_NEAR(t.wilcoxon_p, 0.070750, 2e-6);
}

TEST(CompareStatistics, DegenerateSamples) {
  PairedTest same = paired_test({0.1, 0.2, 0.3}, {0.1, 0.2, 0.3});
  EXPECT_DOUBLE_EQ(same.diff, 0);
  EXPECT_DOUBLE_EQ(same.t_p, 1);
  EXPECT_DOUBLE_EQ(same.wilcoxon_p, 1);
  EXPECT_EQ(same.ties, 3);
  // Every difference is +0.1 (up to rounding): next to no variance, so no doubt is left.
  PairedTest shifted = paired_test({0.1, 0.2, 0.3}, {0.2, 0.3, 0.4});
  EXPECT_NEAR(shifted.diff, 0.1, 1e-12);
  EXPECT_LT(shifted.t_p, 1e-20);
  PairedTest exact = paired_test({0.0, 0.5, 0.25}, {0.5, 1.0, 0.75});  // exactly +0.5 each: zero variance
  EXPECT_DOUBLE_EQ(exact.t_p, 0);
  EXPECT_THROW(paired_test({0.1}, {0.2}), InputError);
  EXPECT_THROW(paired_test({0.1, 0.2}, {0.2}), InputError);
}

class CompareRuns : public ::testing::Test {
 protected:
  RunInfo info(const std::string& name) {
    RunInfo r;
    r.name = name;
    r.config_yaml = "name: " + name;
    r.config_hash = name;
    r.device = "cpu";
    return r;
  }
  xrec::test::TempDir dir{"compare"};
};

TEST_F(CompareRuns, PairsCasesAndRecomputesTheMetric) {
  Store store(dir.file("xrec.db"));
  const int64_t a = store.begin_run(info("a"), {}), b = store.begin_run(info("b"), {});
  // Ranks of 4 cases among 100 candidates; B ranks every target higher.
  store.log_case_ranks(a, "", "test", {{1, 5, 3, 100}, {2, 6, 20, 100}, {3, 7, 0, 100}, {4, 8, 50, 100}});
  store.log_case_ranks(b, "", "test", {{1, 5, 0, 100}, {2, 6, 5, 100}, {3, 7, 0, 100}, {4, 8, 9, 100}});
  CompareOptions o;
  o.metric = "hr@10";
  RunComparison c = compare_runs(store, a, b, o);
  EXPECT_EQ(c.test.n, 4);
  EXPECT_DOUBLE_EQ(c.test.mean_a, 0.5);
  EXPECT_DOUBLE_EQ(c.test.mean_b, 1.0);
  EXPECT_EQ(c.test.b_better, 2);
  EXPECT_EQ(c.test.ties, 2);
  o.metric = "mrr";
  c = compare_runs(store, a, b, o);
  EXPECT_NEAR(c.test.mean_a, (1.0 / 4 + 1.0 / 21 + 1.0 + 1.0 / 51) / 4, 1e-12);
  o.metric = "ndcg@x";
  EXPECT_THROW(compare_runs(store, a, b, o), InputError);
}

TEST_F(CompareRuns, MismatchedOrMissingCasesAreClearErrors) {
  Store store(dir.file("xrec.db"));
  const int64_t a = store.begin_run(info("a"), {}), b = store.begin_run(info("b"), {}),
                c = store.begin_run(info("c"), {}), none = store.begin_run(info("none"), {});
  store.log_case_ranks(a, "", "test", {{1, 5, 3, 100}, {2, 6, 20, 100}});
  store.log_case_ranks(b, "", "test", {{1, 5, 3, 100}, {2, 9, 20, 100}});  // another target for user 2
  store.log_case_ranks(c, "pretrain", "test", {{1, 5, 3, 100}, {2, 6, 20, 100}});
  store.log_case_ranks(c, "finetune", "test", {{1, 5, 1, 100}, {2, 6, 2, 100}});
  auto message = [&](int64_t x, int64_t y, CompareOptions o = {}) {
    try {
      compare_runs(store, x, y, o);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(a, b).find("case 1 is user 2 -> item 6"), std::string::npos) << message(a, b);
  EXPECT_NE(message(a, none).find("has no per-case ranks"), std::string::npos) << message(a, none);
  EXPECT_NE(message(a, c).find("several stages (finetune, pretrain)"), std::string::npos) << message(a, c);
  CompareOptions pick;
  pick.stage_b = "finetune";
  EXPECT_EQ(message(a, c, pick), "no error");
  pick.stage_b = "target";
  EXPECT_NE(message(a, c, pick).find("no case ranks for stage 'target'"), std::string::npos);
}

// Issue 12 item 8: full ranking against sampled negatives was paired and reported as "+101.6%, p=5e-18".
TEST_F(CompareRuns, RefusesRunsEvaluatedOnDifferentCandidates) {
  Store store(dir.file("xrec.db"));
  using P = std::vector<std::pair<std::string, std::string>>;
  const P full{{"eval.protocol", "full"}, {"eval.mask_history", "true"}, {"seed", "1"}};
  const P sampled{{"eval.protocol", "sampled"}, {"eval.negatives", "99"}, {"eval.sampler", "uniform"}, {"seed", "1"}};
  P sampled_seed2 = sampled;
  sampled_seed2.back().second = "2";
  P file_seed2{{"eval.protocol", "sampled"}, {"eval.negatives", "99"}, {"eval.sampler", "file"}, {"seed", "2"}};
  P file_seed1 = file_seed2;
  file_seed1.back().second = "1";
  P unmasked = full;
  unmasked[1].second = "false";
  const int64_t f = store.begin_run(info("full"), full), s = store.begin_run(info("sampled"), sampled),
                s2 = store.begin_run(info("sampled2"), sampled_seed2), fs1 = store.begin_run(info("f1"), file_seed1),
                fs2 = store.begin_run(info("f2"), file_seed2), um = store.begin_run(info("um"), unmasked),
                f2 = store.begin_run(info("full2"), full), bare = store.begin_run(info("bare"), {});
  const std::vector<CaseRank> full_ranks{{1, 5, 30, 12000}, {2, 6, 40, 12000}};
  const std::vector<CaseRank> sampled_ranks{{1, 5, 0, 100}, {2, 6, 1, 100}};
  for (int64_t r : {f, um, f2}) store.log_case_ranks(r, "", "test", full_ranks);
  for (int64_t r : {s, s2, fs1, fs2}) store.log_case_ranks(r, "", "test", sampled_ranks);
  store.log_case_ranks(bare, "", "test", sampled_ranks);
  auto message = [&](int64_t x, int64_t y) {
    try {
      compare_runs(store, x, y, {});
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string m = message(f, s);
  EXPECT_NE(m.find("eval.protocol is 'full' in run " + std::to_string(f) + " and 'sampled' in run " + std::to_string(s)),
            std::string::npos) << m;
  EXPECT_NE(message(s, s2).find("seed is '1'"), std::string::npos) << message(s, s2);
  EXPECT_NE(message(f, um).find("eval.mask_history"), std::string::npos) << message(f, um);
  EXPECT_EQ(message(fs1, fs2), "no error");  // fixed negatives from a file: the same for every seed
  EXPECT_EQ(message(f, f2), "no error");
  // No recorded protocol (an older run): the per-case candidate counts still tell the difference.
  const std::string counts = message(f, bare);
  EXPECT_NE(counts.find("case 0 (user 1 -> item 5) has 12000 candidates in run " + std::to_string(f) +
                        " and 100 in run " + std::to_string(bare)),
            std::string::npos) << counts;
}

}  // namespace
}  // namespace xrec
