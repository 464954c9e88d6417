// The negative-transfer report: pairs from the view transfer_vs_scratch, grouped per variant, with the
// spread over seeds and a paired test over users from the stored per-case ranks (as `xrec compare`).
#include <cmath>
#include <map>
#include <string>

#include "xrec/api/errors.hpp"
#include "xrec/api/metrics.hpp"
#include "xrec/compare.hpp"
#include "xrec/report.hpp"

namespace xrec::report {

namespace {

double num(const std::optional<std::string>& v) { return v ? std::strtod(v->c_str(), nullptr) : std::nan(""); }

void mean_std(const std::vector<double>& x, double& mean, double& sd) {
  mean = 0;
  sd = 0;
  if (x.empty()) return;
  for (double v : x) mean += v / static_cast<double>(x.size());
  if (x.size() < 2) return;
  double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  sd = std::sqrt(ss / static_cast<double>(x.size() - 1));
}

// The stage of `run` whose test case ranks are the run's reported evaluation: its only one, else none.
std::optional<std::string> reported_stage(Store& store, int64_t run) {
  auto stages = store.case_rank_stages(run, "test");
  if (stages.size() == 1) return stages.front();
  return std::nullopt;
}

}  // namespace

TransferReport transfer_report(Store& store, const std::optional<int64_t>& sweep, double alpha) {
  if (sweep) {
    auto s = store.query("SELECT reference FROM sweeps WHERE id = " + std::to_string(*sweep));
    if (s.rows.empty())
      throw InputError("no sweep " + std::to_string(*sweep) + " in " + store.path() + " (xrec sweep list)");
    if (!s.rows[0][0])
      throw InputError("sweep " + std::to_string(*sweep) +
                       " names no reference variant: add `reference: VARIANT` to its spec (docs/sweeps.md) and run "
                       "`xrec sweep SPEC` again (finished trials are skipped)");
  }
  const std::string sql =
      "SELECT sweep_id, sweep, point_label, seed, transfer_run, reference_run, candidates, reference_variant, metric,"
      " transfer_test, reference_test, relative_diff FROM transfer_vs_scratch" +
      (sweep ? " WHERE sweep_id = " + std::to_string(*sweep) : std::string()) + " ORDER BY sweep_id, point, seed";
  const QueryResult q = store.query(sql);
  TransferReport out;
  std::string ambiguous;
  std::map<std::pair<int64_t, std::string>, size_t> index;
  for (const auto& r : q.rows) {
    const int64_t sweep_id = std::stoll(*r[0]), seed = std::stoll(*r[3]), transfer = std::stoll(*r[4]);
    const int64_t candidates = std::stoll(*r[6]);
    if (candidates > 1) {
      ambiguous += "\n  transfer run " + std::to_string(transfer) + " (sweep " + *r[1] + ", " + *r[2] + ", seed " +
                   std::to_string(seed) + ") matches " + std::to_string(candidates) + " runs of reference variant '" +
                   r[7].value_or("") + "'";
      continue;
    }
    if (candidates == 0) {
      out.notes.push_back("transfer run " + std::to_string(transfer) + " (" + *r[2] + ", seed " + std::to_string(seed) +
                          ") has no finished reference run of variant '" + r[7].value_or("") +
                          "' with the same seed, target data and evaluation: left out");
      continue;
    }
    auto key = std::make_pair(sweep_id, *r[2]);
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, out.rows.size()).first;
      TransferRow row;
      row.sweep_id = sweep_id;
      row.sweep = *r[1];
      row.variant = *r[2];
      row.reference = r[7].value_or("");
      row.metric = r[8].value_or("");
      out.rows.push_back(row);
    }
    TransferRow& row = out.rows[it->second];
    row.seeds.push_back(seed);
    row.transfer_runs.push_back(transfer);
    row.reference_runs.push_back(std::stoll(*r[5]));
  }
  if (!ambiguous.empty())
    throw InputError(
        "ambiguous reference runs (a pair is never guessed; make the reference variant's trials differ from "
        "each other only by seed, target data or evaluation):" +
        ambiguous);

  for (TransferRow& row : out.rows) {
    std::vector<double> t, ref, rel;
    for (size_t i = 0; i < row.seeds.size(); ++i) {
      auto v =
          store.query("SELECT (SELECT value FROM final_metrics WHERE run_id = " + std::to_string(row.transfer_runs[i]) +
                      " AND split = 'test' AND key = '" + row.metric +
                      "'), (SELECT value FROM final_metrics WHERE run_id = " + std::to_string(row.reference_runs[i]) +
                      " AND split = 'test' AND key = '" + row.metric + "')");
      const double a = num(v.rows[0][0]), b = num(v.rows[0][1]);
      if (std::isnan(a) || std::isnan(b)) continue;
      t.push_back(a);
      ref.push_back(b);
      if (b != 0) rel.push_back((a - b) / b);
    }
    mean_std(t, row.transfer_mean, row.transfer_std);
    mean_std(ref, row.reference_mean, row.reference_std);
    mean_std(rel, row.relative_mean, row.relative_std);

    // Pooled paired cases: reference = A, transfer = B, so diff > 0 means transfer helps.
    std::vector<double> a, b;
    try {
      for (size_t i = 0; i < row.seeds.size(); ++i) {
        auto sa = reported_stage(store, row.reference_runs[i]), sb = reported_stage(store, row.transfer_runs[i]);
        if (!sa || !sb) {
          const int64_t which = sa ? row.transfer_runs[i] : row.reference_runs[i];
          throw InputError("run " + std::to_string(which) + " has no test case ranks of exactly one stage");
        }
        CompareOptions o;
        o.metric = row.metric;
        o.split = "test";
        o.stage_a = *sa;
        o.stage_b = *sb;
        // compare_runs checks both runs ranked the same cases and candidates; its test is redone pooled below.
        compare_runs(store, row.reference_runs[i], row.transfer_runs[i], o);
        for (const auto& c : store.case_ranks(row.reference_runs[i], *sa, "test"))
          a.push_back(case_metric(row.metric, {c.rank, c.candidates}));
        for (const auto& c : store.case_ranks(row.transfer_runs[i], *sb, "test"))
          b.push_back(case_metric(row.metric, {c.rank, c.candidates}));
      }
      const PairedTest p = paired_test(a, b);
      row.tested = true;
      row.cases = p.n;
      row.diff = p.diff;
      row.ci_low = p.ci_low;
      row.ci_high = p.ci_high;
      row.t_p = p.t_p;
      row.wilcoxon_p = p.wilcoxon_p;
    } catch (const InputError& e) {
      row.note = std::string("no paired test: ") + e.what();
    }
    const double effect = row.tested ? row.diff : row.relative_mean;
    const bool significant = row.tested && row.wilcoxon_p < alpha;
    if (effect < 0)
      row.verdict = significant ? "negative transfer" : "worse (not significant)";
    else if (effect > 0)
      row.verdict = significant ? "better" : "better (not significant)";
    else
      row.verdict = "equal";
  }
  return out;
}

}  // namespace xrec::report
