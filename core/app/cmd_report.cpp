// xrec report transfer [--sweep ID] | xrec report html [RUN... | --sweep ID | --where "SQL"] --out FILE:
// the negative-transfer table, and one self-contained HTML report (or one chart as SVG / PNG). docs/report.md.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/json.hpp"
#include "xrec/report.hpp"

namespace xrec::cli {

namespace {

const char* kUsage =
    "usage: xrec report transfer [--sweep ID|NAME] [--alpha 0.05] [--db PATH] [--json]\n"
    "       xrec report html [RUN... | --sweep ID|NAME | --where \"SQL\"] --out FILE [--format html|svg|png]\n"
    "                        [--chart N|TITLE] [--list-charts] [--db PATH]\n"
    "  transfer: every transfer variant of a sweep against its reference (scratch) variant, paired by seed,\n"
    "    target data and evaluation (view transfer_vs_scratch): test metric mean ± std over seeds, the relative\n"
    "    difference, a paired test over users from the per-case ranks, and negative transfer flagged.\n"
    "  html: one HTML file that opens offline: run facts, config difference, leaderboard with error bars,\n"
    "    learning curves, the transfer chart, every other per-step metric. --where is a condition on the runs\n"
    "    table (alias r). --format svg|png writes one chart (--chart: its number from --list-charts, or a title\n"
    "    substring), drawn by headless Chromium.\n";

// The store must exist: opening a missing path would create an empty store and report nothing.
std::string existing_store(const Args& args) {
  const std::string path = db_path(args);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw InputError("no store at " + path + " (run `xrec run CONFIG` first or pass --db)");
  return path;
}

std::optional<int64_t> sweep_option(Store& store, const Args& args) {
  auto s = args.option("sweep");
  if (!s) return std::nullopt;
  auto rec = store.find_sweep(*s);
  if (!rec) throw InputError("no sweep '" + *s + "' in " + store.path() + " (xrec sweep list)");
  return rec->id;
}

std::string fixed(double v, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Writes beside the target and renames: a failed write never leaves half a file under the name.
void write_file(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path() && !fs::is_directory(target.parent_path(), ec))
    throw InputError("--out " + path + ": the folder " + target.parent_path().string() + " does not exist");
  const fs::path tmp = target.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << bytes;
    if (!f.flush()) throw Error("cannot write " + tmp.string());
  }
  fs::rename(tmp, target, ec);
  if (ec) throw Error("cannot rename " + tmp.string() + " to " + path + ": " + ec.message());
}

int report_transfer(const Args& args) {
  Store store(existing_store(args), /*read_only=*/false);  // migrates an older store so that the view exists
  double alpha = 0.05;
  if (auto a = args.option("alpha")) {
    char* end = nullptr;
    alpha = std::strtod(a->c_str(), &end);
    if (end == a->c_str() || *end || !(alpha > 0 && alpha < 1))
      throw InputError("--alpha: expected a number in (0, 1), got '" + *a + "'");
  }
  const auto rep = report::transfer_report(store, sweep_option(store, args), alpha);
  if (args.flag("json")) {
    json::Writer w;
    w.begin_object().key("rows").begin_array();
    for (auto& r : rep.rows) {
      w.begin_object()
          .member("sweep", r.sweep)
          .member("variant", r.variant)
          .member("reference", r.reference)
          .member("metric", r.metric)
          .member("seeds", r.seeds)
          .member("transfer_runs", r.transfer_runs)
          .member("reference_runs", r.reference_runs)
          .member("transfer_mean", r.transfer_mean)
          .member("transfer_std", r.transfer_std)
          .member("reference_mean", r.reference_mean)
          .member("reference_std", r.reference_std)
          .member("relative_mean", r.relative_mean)
          .member("relative_std", r.relative_std)
          .member("tested", r.tested)
          .member("cases", r.cases)
          .member("diff", r.diff)
          .member("ci95_low", r.ci_low)
          .member("ci95_high", r.ci_high)
          .member("t_p", r.t_p)
          .member("wilcoxon_p", r.wilcoxon_p)
          .member("verdict", r.verdict)
          .member("note", r.note)
          .end_object();
    }
    w.end_array().key("notes").list(rep.notes).end_object();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  if (rep.rows.empty()) {
    std::printf(
        "no transfer run is paired with a reference run (a sweep spec names its scratch variant with "
        "`reference: VARIANT`; docs/report.md)\n");
  } else {
    std::vector<std::vector<std::optional<std::string>>> rows;
    for (auto& r : rep.rows)
      rows.push_back(
          {r.sweep, r.variant, r.reference, r.metric, std::to_string(r.seeds.size()),
           fixed(r.transfer_mean) + " ± " + fixed(r.transfer_std),
           fixed(r.reference_mean) + " ± " + fixed(r.reference_std),
           fixed(100 * r.relative_mean, 1) + "% ± " + fixed(100 * r.relative_std, 1) + "%",
           r.tested ? fixed(r.diff) + " [" + fixed(r.ci_low) + ", " + fixed(r.ci_high) + "]" : std::string("-"),
           r.tested ? std::to_string(r.cases) : std::string("-"), r.tested ? fixed(r.wilcoxon_p) : std::string("-"),
           r.verdict});
    print_table({"sweep", "variant", "vs", "metric", "seeds", "transfer (test)", "reference (test)", "relative",
                 "diff [95% CI]", "cases", "wilcoxon p", "verdict"},
                rows);
    for (auto& r : rep.rows)
      if (!r.note.empty()) std::printf("%s: %s\n", r.variant.c_str(), r.note.c_str());
  }
  for (auto& n : rep.notes) std::printf("note: %s\n", n.c_str());
  return 0;
}

int report_html(const Args& args) {
  report::Selection sel;
  Store store(existing_store(args), /*read_only=*/false);
  for (auto& p : args.positional) sel.runs.push_back(parse_run_id(p));
  sel.sweep = sweep_option(store, args);
  sel.where = args.option("where").value_or("");
  const std::string format = args.option("format").value_or("html");
  if (format != "html" && format != "svg" && format != "png")
    throw InputError("--format: expected html, svg or png, got '" + format + "'");
  const auto start = std::chrono::steady_clock::now();
  report::HtmlReport rep = report::html_report(store, sel);
  if (args.flag("list-charts")) {
    for (size_t i = 0; i < rep.charts.size(); ++i) std::printf("%zu  %s\n", i + 1, rep.charts[i].title.c_str());
    return 0;
  }
  auto out = args.option("out");
  if (!out || out->empty()) throw InputError("--out FILE is required (e.g. --out report.html)");
  if (format == "html") {
    write_file(*out, rep.html);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "xrec report: %zu runs, %zu charts, %.1f MB, %.2f s -> %s\n", rep.runs.size(),
                 rep.charts.size(), static_cast<double>(rep.html.size()) / 1e6, s, out->c_str());
    return 0;
  }
  auto which = args.option("chart");
  if (!which) {
    std::string list;
    for (size_t i = 0; i < rep.charts.size(); ++i) list += "\n  " + std::to_string(i + 1) + "  " + rep.charts[i].title;
    throw InputError("--format " + format +
                     " writes one chart: choose it with --chart N (or a title substring):" + list);
  }
  const report::Chart* chart = nullptr;
  char* end = nullptr;
  const long n = std::strtol(which->c_str(), &end, 10);
  if (end != which->c_str() && !*end) {
    if (n < 1 || static_cast<size_t>(n) > rep.charts.size())
      throw InputError("--chart " + *which + ": the report has charts 1 to " + std::to_string(rep.charts.size()));
    chart = &rep.charts[static_cast<size_t>(n - 1)];
  } else {
    for (auto& c : rep.charts)
      if (c.title.find(*which) != std::string::npos) {
        if (chart)
          throw InputError("--chart '" + *which + "' matches several charts (" + chart->title + ", " + c.title +
                           "); give its number");
        chart = &c;
      }
    if (!chart) throw InputError("--chart '" + *which + "' matches no chart title (--list-charts shows them)");
  }
  write_file(*out, report::export_chart(*chart, format));
  std::fprintf(stderr, "xrec report: chart '%s' -> %s\n", chart->title.c_str(), out->c_str());
  return 0;
}

}  // namespace

int cmd_report(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
    std::fputs(kUsage, argv.empty() ? stderr : stdout);
    return argv.empty() ? 2 : 0;
  }
  const std::string what = argv[0];
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (what == "transfer") {
    Args args = parse("report transfer", rest, {"db", "sweep", "alpha"}, {"json", "help"});
    if (args.flag("help")) return std::fputs(kUsage, stdout), 0;
    if (!args.positional.empty())
      throw InputError("report transfer takes no positional argument (got '" + args.positional[0] + "')");
    return report_transfer(args);
  }
  if (what == "html") {
    Args args = parse("report html", rest, {"db", "sweep", "where", "out", "format", "chart"}, {"list-charts", "help"});
    if (args.flag("help")) return std::fputs(kUsage, stdout), 0;
    return report_html(args);
  }
  throw InputError("unknown report '" + what + "'; expected transfer or html\n" + kUsage);
}

}  // namespace xrec::cli
