#pragma once
// Reports over the run store (`xrec report`, docs/report.md): the negative-transfer table read from the view
// transfer_vs_scratch, and one self-contained HTML file of Vega-Lite charts. LibTorch-free; every number is
// aggregated in SQL or here, never in the page.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xrec/store.hpp"

namespace xrec::report {

// One transfer variant of a sweep against its reference scratch variant, over the seeds both finished.
struct TransferRow {
  int64_t sweep_id = 0;
  std::string sweep, variant, reference, metric;  // variant: the point label; metric: the sweep's select metric
  std::vector<int64_t> seeds, transfer_runs, reference_runs;  // parallel, one entry per paired seed
  double transfer_mean = 0, transfer_std = 0;                 // test value of `metric`, mean and sample std over seeds
  double reference_mean = 0, reference_std = 0;
  double relative_mean = 0, relative_std = 0;  // (transfer - reference) / reference per seed, mean and std
  // Paired test over users (cases of every seed pooled; each case is one user's test target) from the stored
  // per-case ranks, as `xrec compare` computes it. tested = false when a run has no case ranks.
  bool tested = false;
  int64_t cases = 0;
  double diff = 0, ci_low = 0, ci_high = 0, t_p = 1, wilcoxon_p = 1;
  std::string verdict;  // "negative transfer", "worse (not significant)", "better", "better (not significant)", "equal"
  std::string note;     // why a test is missing, when it is
};

struct TransferReport {
  std::vector<TransferRow> rows;
  std::vector<std::string> notes;  // transfer runs left out (no reference run finished), one line each
};

// Reads transfer_vs_scratch (one sweep, or every sweep with a reference when sweep is empty), refuses an
// ambiguous pair (InputError naming the transfer run and its candidate references) and groups the pairs by
// variant. alpha: significance level of the verdict (Wilcoxon signed-rank p-value).
TransferReport transfer_report(Store& store, const std::optional<int64_t>& sweep, double alpha = 0.05);

// Which runs a report covers: ids, a sweep, or an SQL condition on the runs table (alias r).
struct Selection {
  std::vector<int64_t> runs;
  std::optional<int64_t> sweep;
  std::string where;
};

// The run ids a selection names, in id order; InputError for an unknown run or sweep, an empty result, or
// a condition SQLite rejects (its message and the condition quoted).
std::vector<int64_t> select_runs(Store& store, const Selection& selection);

// One chart of a report: a title and its Vega-Lite spec (JSON text, data inline).
struct Chart {
  std::string id, title, spec;
};

struct HtmlReport {
  std::string title;
  std::vector<int64_t> runs;
  std::vector<Chart> charts;
  std::string html;  // the whole page, scripts inlined
};

// Builds the page: run facts and config differences, learning curves per run (one line per stage) or
// bands over seeds per sweep point, the sweep leaderboard with mean ± std bars, the transfer table and
// chart when the sweep has a reference, and every other per-step metric recorded. vega_js: the three
// bundles (vega, vega-lite, vega-embed) to inline; empty uses the ones compiled into xrec.
HtmlReport html_report(Store& store, const Selection& selection, const std::string& vega_js = "");

// Headless Chromium (Debian's `chromium`): $XREC_CHROMIUM, else chromium, chromium-browser or
// google-chrome on PATH; nullopt when none is found.
std::optional<std::string> find_chromium();

struct BrowserResult {
  std::string dom;  // the document after its scripts ran (--dump-dom)
  std::string log;  // Chromium's stderr with console messages (--enable-logging=stderr)
  int exit_code = 0;
  double seconds = 0;  // wall time of the browser process
};

// Opens `html_file` headless, lets its scripts run for up to budget_ms of virtual time, and returns the DOM.
BrowserResult render_in_browser(const std::string& chromium, const std::string& html_file, int budget_ms = 20000);

// The console lines of a Chromium log that report errors (uncaught exceptions, console.error).
std::vector<std::string> console_errors(const std::string& log);

// One chart of a report as a file for papers: "svg" (text) or "png" (bytes, 2x scale), drawn by vega in
// headless Chromium. InputError naming the `chromium` package when no browser is found.
std::string export_chart(const Chart& chart, const std::string& format, const std::string& vega_js = "");

// The bundled vega + vega-lite + vega-embed scripts (third_party/vega), with their versions.
const std::string& vega_bundle();
std::string vega_versions();

// `</script` inside an inline script ends it early: written as `<\/script` (the same text for JavaScript).
// Nothing else is escaped (escaping every `</` breaks a regular expression inside vega-embed).
std::string escape_inline_script(const std::string& js);
// Text for HTML element content and attribute values.
std::string escape_html(const std::string& text);

}  // namespace xrec::report
