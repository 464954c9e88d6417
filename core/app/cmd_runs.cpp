// xrec runs [--db PATH] [--limit N] [--status S] [--json]: the recent runs, newest first. Runs whose process
// is gone are marked interrupted first, so the list never shows a dead run as running.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/store.hpp"

namespace xrec::cli {

namespace {

const char* kUsage =
    "usage: xrec runs [--db PATH] [--limit N] [--status running|finished|failed|interrupted] [--json]\n"
    "  Lists the most recent runs (default 20; --limit 0 lists all), with the final validation and test\n"
    "  value of each run's select_metric. --json prints every column of the run_overview view.\n";

// "12.3s", "4m05s", "2h03m".
std::string format_duration(const std::optional<std::string>& seconds_text) {
  if (!seconds_text) return "";
  double s = std::stod(*seconds_text);
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  return buf;
}

std::string format_metric(const std::optional<std::string>& value) {
  if (!value) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", std::stod(*value));
  return std::string(buf);
}

// "2024-05-01T12:03:04.123Z" -> "2024-05-01 12:03:04" (UTC, as stored).
std::string format_time(const std::optional<std::string>& iso) {
  if (!iso) return "";
  std::string t = iso->substr(0, 19);
  if (t.size() > 10 && t[10] == 'T') t[10] = ' ';
  return t;
}

// The first line of an error, cut to fit the table.
std::string short_error(const std::optional<std::string>& error) {
  if (!error) return "";
  std::string line = error->substr(0, error->find('\n'));
  return line.size() <= 50 ? line : line.substr(0, 47) + "...";
}

int64_t parse_limit(const std::string& text) {
  size_t used = 0;
  long long n = -1;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  if (used != text.size() || n < 0)
    throw InputError("--limit expects a whole number >= 0 (0 = all), got '" + text + "'");
  return n;
}

}  // namespace

int cmd_runs(const std::vector<std::string>& argv) {
  Args args = parse("runs", argv, {"db", "limit", "status"}, {"json", "help"});
  if (args.flag("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!args.positional.empty())
    throw InputError("unexpected argument '" + args.positional[0] + "'\n" + kUsage);
  const int64_t limit = parse_limit(args.option("limit").value_or("20"));
  const std::string status = args.option("status").value_or("");
  if (!status.empty() && status != "running" && status != "finished" && status != "failed" &&
      status != "interrupted")
    throw InputError("--status must be running, finished, failed or interrupted, got '" + status + "'");
  const std::string path = db_path(args);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    std::fprintf(stderr, "xrec runs: error: no store at %s (run `xrec run CONFIG` first or pass --db)\n",
                 path.c_str());
    return 1;
  }

  Store store(path);
  if (int n = store.reconcile_stale_runs())
    std::fprintf(stderr,
                 "xrec runs: marked %d run(s) interrupted: their processes ended without closing them\n", n);

  // status is one of four fixed words and limit a number, so both can be spliced into the SQL.
  std::string sql =
      "SELECT id, name, status, started_at, ended_at, duration_s, host, pid, seed, threads, device, "
      "select_metric,"
      " final_valid, final_test, sweep_id, config_hash, error FROM run_overview";
  if (!status.empty()) sql += " WHERE status = '" + status + "'";
  sql += " ORDER BY id DESC";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  QueryResult r = store.query(sql);

  if (args.flag("json")) {
    std::cout << to_json(r);
    return 0;
  }
  if (r.rows.empty()) {
    std::cout << "no " << (status.empty() ? "" : status + " ") << "runs in " << path << '\n';
    return 0;
  }
  auto col = [&](const std::string& name) {
    for (size_t c = 0; c < r.columns.size(); ++c)
      if (r.columns[c] == name) return c;
    throw Error("the run_overview view has no column '" + name + "'");
  };
  const size_t id = col("id"), name = col("name"), st = col("status"), started = col("started_at"),
               duration = col("duration_s"), seed = col("seed"), threads = col("threads"),
               device = col("device"), metric = col("select_metric"), valid = col("final_valid"),
               test = col("final_test"), error = col("error");
  std::vector<std::vector<std::optional<std::string>>> rows;
  for (const auto& row : r.rows) {
    rows.push_back({row[id], row[name], row[st], format_time(row[started]), format_duration(row[duration]),
                    row[seed], row[threads], row[device], row[metric].value_or(""), format_metric(row[valid]),
                    format_metric(row[test]),
                    *row[st] == "finished" ? std::string() : short_error(row[error])});
  }
  print_table({"id", "name", "status", "started (UTC)", "duration", "seed", "threads", "device", "metric",
               "valid", "test", "error"},
              rows);
  return 0;
}

}  // namespace xrec::cli
