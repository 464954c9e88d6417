// xrec compare RUN_A RUN_B [--metric M] [--split S] [--stage S | --stage-a S --stage-b S] [--db PATH] [--json]:
// paired significance test of two runs on the same evaluation cases, from their stored per-case ranks.
#include <cstdio>
#include <filesystem>

#include "cli.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/compare.hpp"
#include "xrec/json.hpp"

namespace xrec::cli {

namespace {

const char* kUsage =
    "usage: xrec compare RUN_A RUN_B [--metric ndcg@10] [--split test] [--stage S | --stage-a S --stage-b S]\n"
    "                    [--db PATH] [--json]\n"
    "  Pairs the two runs' evaluation cases (same users and targets) and reports the mean of --metric for\n"
    "  each, the mean difference B - A with its 95% confidence interval, a paired t-test and a Wilcoxon\n"
    "  signed-rank test (two-sided p-values). Metrics: hr@K, recall@K, precision@K, ndcg@K, mrr@K, mrr, auc.\n"
    "  Runs record per-case ranks when eval.save_ranks is true (the default).\n";

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string p_value(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, p < 1e-4 ? "%.2e" : "%.4f", p);
  return buf;
}

}  // namespace

int cmd_compare(const std::vector<std::string>& argv) {
  Args args = parse("compare", argv, {"db", "metric", "split", "stage", "stage-a", "stage-b"}, {"json", "help"});
  if (args.flag("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.positional.size() != 2)
    throw InputError("expected two run ids, got " + std::to_string(args.positional.size()) + " argument(s)\n" + kUsage);
  const int64_t a = parse_run_id(args.positional[0]), b = parse_run_id(args.positional[1]);
  CompareOptions o;
  o.metric = args.option("metric").value_or(o.metric);
  o.split = args.option("split").value_or(o.split);
  const std::string stage = args.option("stage").value_or("");
  o.stage_a = args.option("stage-a").value_or(stage);
  o.stage_b = args.option("stage-b").value_or(stage);
  const std::string path = db_path(args);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError("no store at " + path + " (pass --db)");
  Store store(path);
  for (int64_t id : {a, b})
    if (store.query("SELECT 1 FROM runs WHERE id = " + std::to_string(id)).rows.empty())
      throw InputError("no run " + std::to_string(id) + " in " + path + " (xrec runs lists them)");
  const RunComparison c = compare_runs(store, a, b, o);
  const PairedTest& t = c.test;

  if (args.flag("json")) {
    json::Writer w;
    w.begin_object()
        .member("run_a", c.run_a)
        .member("run_b", c.run_b)
        .member("stage_a", c.stage_a)
        .member("stage_b", c.stage_b)
        .member("split", o.split)
        .member("metric", o.metric)
        .member("cases", t.n)
        .member("mean_a", t.mean_a)
        .member("mean_b", t.mean_b)
        .member("diff", t.diff)
        .member("ci95_low", t.ci_low)
        .member("ci95_high", t.ci_high)
        .member("t", t.t)
        .member("t_p", t.t_p)
        .member("wilcoxon_z", t.wilcoxon_z)
        .member("wilcoxon_p", t.wilcoxon_p)
        .member("b_better", t.b_better)
        .member("a_better", t.a_better)
        .member("ties", t.ties)
        .end_object();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  std::printf("%s on %s, %lld paired cases\n", o.metric.c_str(), o.split.c_str(), static_cast<long long>(t.n));
  print_table({"run", "stage", o.metric},
              {{std::to_string(a), c.stage_a, fixed(t.mean_a, 4)}, {std::to_string(b), c.stage_b, fixed(t.mean_b, 4)}});
  const double rel = t.mean_a != 0 ? 100 * t.diff / t.mean_a : 0;
  std::printf("\ndifference B - A: %+.4f (%+.1f%% of A), 95%% CI [%+.4f, %+.4f]\n", t.diff, rel, t.ci_low, t.ci_high);
  std::printf("paired t-test:         t = %.3f, p = %s\n", t.t, p_value(t.t_p).c_str());
  std::printf("Wilcoxon signed-rank:  z = %.3f, p = %s\n", t.wilcoxon_z, p_value(t.wilcoxon_p).c_str());
  std::printf("cases where B is better: %lld, A is better: %lld, equal: %lld\n", static_cast<long long>(t.b_better),
              static_cast<long long>(t.a_better), static_cast<long long>(t.ties));
  return 0;
}

}  // namespace xrec::cli
