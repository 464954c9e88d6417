#include "xrec/compare.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "xrec/api/errors.hpp"
#include "xrec/api/metrics.hpp"
#include "xrec/api/text.hpp"

namespace xrec {

namespace {

// Continued fraction of the regularized incomplete beta function (modified Lentz's method).
double beta_fraction(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-15;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  d = 1 / (std::abs(d) < tiny ? tiny : d);
  double h = d;
  for (int m = 1; m <= 500; ++m) {
    const double m2 = 2.0 * m;
    double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    c = 1 + num / c;
    d = 1 / (std::abs(d) < tiny ? tiny : d);
    c = std::abs(c) < tiny ? tiny : c;
    h *= d * c;
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    c = 1 + num / c;
    d = 1 / (std::abs(d) < tiny ? tiny : d);
    c = std::abs(c) < tiny ? tiny : c;
    const double step = d * c;
    h *= step;
    if (std::abs(step - 1) < eps) break;
  }
  return h;
}

// Metric values are sums of floating-point terms: differences this close are the same value.
constexpr double kSame = 1e-12;
bool same(double x, double y) { return std::abs(x - y) <= kSame * std::max(1.0, std::abs(x)); }

// I_x(a, b).
double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * beta_fraction(a, b, x) / a;
  return 1 - front * beta_fraction(b, a, 1 - x) / b;
}

// The only stage of `run` with case ranks for `split`, or the requested one.
std::string pick_stage(Store& store, int64_t run, const std::string& split, const std::string& requested,
                       const char* option) {
  auto stages = store.case_rank_stages(run, split);
  auto list = [&] {
    std::string s;
    for (auto& x : stages) s += (s.empty() ? "" : ", ") + (x.empty() ? std::string("''") : printable(x));
    return s;
  };
  if (stages.empty())
    throw InputError("run " + std::to_string(run) + " has no per-case ranks for split " + quote_token(split) +
                     " (runs record them when eval.save_ranks is true; is the run id right, did it finish?)");
  if (!requested.empty() || stages.size() == 1) {
    const std::string s = requested.empty() ? stages.front() : requested;
    if (std::find(stages.begin(), stages.end(), s) == stages.end())
      throw InputError("run " + std::to_string(run) + " has no case ranks for stage " + quote_token(s) + " (has: " + list() + ")");
    return s;
  }
  throw InputError("run " + std::to_string(run) + " has case ranks for several stages (" + list() + "); choose one with " +
                   option);
}


// The evaluation settings that decide a case's candidate set, as the run recorded them (params table).
// Keys absent from a run (a run recorded before the key existed) are left out of the comparison.
std::map<std::string, std::string> protocol_params(Store& store, int64_t run) {
  static const char* const kKeys[] = {"eval.protocol", "eval.negatives", "eval.sampler", "eval.mask_history", "seed"};
  std::string in;
  for (const char* k : kKeys) in += std::string(in.empty() ? "" : ", ") + "'" + k + "'";
  const QueryResult r =
      store.query("SELECT key, value FROM params WHERE run_id = " + std::to_string(run) + " AND key IN (" + in + ")");
  std::map<std::string, std::string> out;
  for (auto& row : r.rows)
    if (row.size() == 2 && row[0] && row[1]) out[*row[0]] = *row[1];
  return out;
}

// Refuses two runs whose candidate sets differ (issue 12, item 8): a paired test of full ranking against
// sampled negatives, or of two different negative samples, compares protocols, not models.
void check_same_protocol(Store& store, int64_t run_a, int64_t run_b) {
  auto pa = protocol_params(store, run_a), pb = protocol_params(store, run_b);
  auto get = [](const std::map<std::string, std::string>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? std::string() : it->second;
  };
  const std::string runs = "runs " + std::to_string(run_a) + " and " + std::to_string(run_b);
  auto differ = [&](const std::string& key, const std::string& why) {
    const std::string a = get(pa, key), b = get(pb, key);
    if (a.empty() || b.empty() || a == b) return;
    throw InputError(runs + " were evaluated differently: " + key + " is " + quote_token(a) + " in run " +
                     std::to_string(run_a) + " and " + quote_token(b) + " in run " + std::to_string(run_b) + " (" + why +
                     "; a paired test needs the same candidates for every case)");
  };
  differ("eval.protocol", "full ranking and sampled negatives rank different candidate sets");
  const std::string protocol = get(pa, "eval.protocol");
  if (protocol == "sampled") {
    differ("eval.negatives", "a different number of sampled candidates per case");
    differ("eval.sampler", "negatives drawn from different distributions");
    if (get(pa, "eval.sampler") != "file") differ("seed", "the sampled negatives are drawn per seed");
  } else {
    differ("eval.mask_history", "the users' earlier items are candidates in one run only");
  }
}

}  // namespace

double student_t_two_sided_p(double t, double df) {
  if (std::isnan(t)) return std::nan("");
  if (std::isinf(t)) return 0;
  return incomplete_beta(df / 2, 0.5, df / (df + t * t));
}

double student_t_quantile(double p, double df) {
  // Bisection on the CDF, which is monotone: F(t) = 1 - p_two_sided(t) / 2 for t >= 0.
  auto cdf = [&](double t) {
    const double tail = student_t_two_sided_p(std::abs(t), df) / 2;
    return t >= 0 ? 1 - tail : tail;
  };
  double lo = -1e3, hi = 1e3;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (cdf(mid) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

double normal_two_sided_p(double z) { return std::erfc(std::abs(z) / std::sqrt(2.0)); }

PairedTest paired_test(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size())
    throw InputError("paired test: " + std::to_string(a.size()) + " values against " + std::to_string(b.size()));
  if (a.size() < 2) throw InputError("paired test: needs at least 2 paired cases, got " + std::to_string(a.size()));
  PairedTest r;
  r.n = static_cast<int64_t>(a.size());
  const double n = static_cast<double>(a.size());
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    d[i] = b[i] - a[i];
    r.mean_a += a[i] / n;
    r.mean_b += b[i] / n;
    if (same(a[i], b[i])) {
      d[i] = 0;
      ++r.ties;
    } else {
      ++(d[i] > 0 ? r.b_better : r.a_better);
    }
  }
  r.diff = std::accumulate(d.begin(), d.end(), 0.0) / n;
  double ss = 0;
  for (double x : d) ss += (x - r.diff) * (x - r.diff);
  const double se = std::sqrt(ss / (n - 1) / n);
  const double q = student_t_quantile(0.975, n - 1);
  r.ci_low = r.diff - q * se;
  r.ci_high = r.diff + q * se;
  if (se > 0) {
    r.t = r.diff / se;
    r.t_p = student_t_two_sided_p(r.t, n - 1);
  } else {
    r.t = 0;
    r.t_p = r.diff == 0 ? 1.0 : 0.0;  // every difference identical and non-zero: no doubt left
  }

  // Wilcoxon signed-rank: zero differences dropped, tied |d| share their mean rank.
  std::vector<double> nz;
  for (double x : d)
    if (x != 0) nz.push_back(x);
  const size_t m = nz.size();
  if (m > 0) {
    std::vector<size_t> order(m);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t i, size_t j) { return std::abs(nz[i]) < std::abs(nz[j]); });
    double w_plus = 0, tie_term = 0;
    for (size_t i = 0; i < m;) {
      size_t j = i;
      while (j < m && same(std::abs(nz[order[j]]), std::abs(nz[order[i]]))) ++j;
      const double rank = (static_cast<double>(i) + static_cast<double>(j) + 1) / 2;
      const double t = static_cast<double>(j - i);
      tie_term += t * t * t - t;
      for (size_t k = i; k < j; ++k)
        if (nz[order[k]] > 0) w_plus += rank;
      i = j;
    }
    const double mm = static_cast<double>(m);
    const double mean = mm * (mm + 1) / 4;
    const double var = mm * (mm + 1) * (2 * mm + 1) / 24 - tie_term / 48;
    if (var > 0) {
      r.wilcoxon_z = (w_plus - mean) / std::sqrt(var);
      r.wilcoxon_p = normal_two_sided_p(r.wilcoxon_z);
    }
  }
  return r;
}

RunComparison compare_runs(Store& store, int64_t run_a, int64_t run_b, const CompareOptions& options) {
  case_metric(options.metric, {0, 2});  // an unknown metric fails before any reading
  RunComparison c;
  c.run_a = run_a;
  c.run_b = run_b;
  c.options = options;
  c.stage_a = pick_stage(store, run_a, options.split, options.stage_a, "--stage-a (or --stage)");
  c.stage_b = pick_stage(store, run_b, options.split, options.stage_b, "--stage-b (or --stage)");
  check_same_protocol(store, run_a, run_b);
  const auto ra = store.case_ranks(run_a, c.stage_a, options.split);
  const auto rb = store.case_ranks(run_b, c.stage_b, options.split);
  if (ra.size() != rb.size())
    throw InputError("runs " + std::to_string(run_a) + " and " + std::to_string(run_b) + " evaluated different cases: " +
                     std::to_string(ra.size()) + " vs " + std::to_string(rb.size()) + " " + options.split +
                     " cases (same dataset, split and preprocessing are needed for a paired test)");
  std::vector<double> a, b;
  for (size_t i = 0; i < ra.size(); ++i) {
    if (ra[i].user != rb[i].user || ra[i].target != rb[i].target)
      throw InputError("runs " + std::to_string(run_a) + " and " + std::to_string(run_b) + " evaluated different cases: case " +
                       std::to_string(i) + " is user " + std::to_string(ra[i].user) + " -> item " +
                       std::to_string(ra[i].target) + " in one and user " + std::to_string(rb[i].user) + " -> item " +
                       std::to_string(rb[i].target) + " in the other");
    if (ra[i].candidates != rb[i].candidates)
      throw InputError("runs " + std::to_string(run_a) + " and " + std::to_string(run_b) +
                       " ranked different candidate sets: case " + std::to_string(i) + " (user " +
                       std::to_string(ra[i].user) + " -> item " + std::to_string(ra[i].target) + ") has " +
                       std::to_string(ra[i].candidates) + " candidates in run " + std::to_string(run_a) + " and " +
                       std::to_string(rb[i].candidates) + " in run " + std::to_string(run_b) +
                       " (full ranking against sampled negatives, or another item set?)");
    a.push_back(case_metric(options.metric, {ra[i].rank, ra[i].candidates}));
    b.push_back(case_metric(options.metric, {rb[i].rank, rb[i].candidates}));
  }
  c.test = paired_test(a, b);
  return c;
}

}  // namespace xrec
