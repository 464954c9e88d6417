#pragma once
// Paired comparison of two runs evaluated on the same cases (`xrec compare`): per-case metric values
// recomputed from the stored ranks (table case_ranks), their mean difference with a 95% confidence
// interval, a paired t-test and a Wilcoxon signed-rank test.
#include <cstdint>
#include <string>
#include <vector>

#include "xrec/store.hpp"

namespace xrec {

struct CompareOptions {
  std::string metric = "ndcg@10";  // any key of xrec::case_metric
  std::string split = "test";
  std::string stage_a, stage_b;    // empty = the run's only stage with case ranks for `split`
};

struct PairedTest {
  int64_t n = 0;                   // paired cases
  double mean_a = 0, mean_b = 0;
  double diff = 0;                 // mean of (b - a)
  double ci_low = 0, ci_high = 0;  // 95% confidence interval of diff (t distribution)
  double t = 0, t_p = 1;           // paired t statistic and two-sided p-value
  double wilcoxon_z = 0, wilcoxon_p = 1;  // signed-rank test, normal approximation with tie correction
  int64_t b_better = 0, a_better = 0, ties = 0;
};

// The tests on paired samples a[i], b[i] (same size >= 2; throws InputError otherwise).
PairedTest paired_test(const std::vector<double>& a, const std::vector<double>& b);

struct RunComparison {
  int64_t run_a = 0, run_b = 0;
  std::string stage_a, stage_b;
  CompareOptions options;
  PairedTest test;
};

// Pairs the case ranks of two runs case by case (same users and targets required) and tests `metric`.
// Throws InputError naming what is missing: a run, its case ranks, a stage choice, or matching cases.
RunComparison compare_runs(Store& store, int64_t run_a, int64_t run_b, const CompareOptions& options);

// Statistics used by paired_test, exposed for tests.
double student_t_two_sided_p(double t, double df);
double student_t_quantile(double p, double df);  // inverse CDF, p in (0, 1)
double normal_two_sided_p(double z);

}  // namespace xrec
