// `xrec report html`: one self-contained HTML file of Vega-Lite charts over selected runs. Every series is
// aggregated by SQL (mean and sample std per group and step), so the page draws at most a few thousand
// points whatever the number of runs; the vega bundles are inlined so the file opens offline.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "xrec/api/errors.hpp"
#include "xrec/json.hpp"
#include "xrec/report.hpp"

namespace xrec::report {

namespace {

constexpr size_t kPerRunCharts = 12;  // up to this many runs (outside a sweep): learning curves per run
constexpr size_t kDiffColumns = 20;   // up to this many runs: the config difference as a key x run table
constexpr size_t kCurveGroups = 20;   // at most this many series groups (sweep points, run names) per curve chart
constexpr size_t kExtraCharts = 60;   // at most this many charts of other per-step metrics

std::string sql_text(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string id_list(const std::vector<int64_t>& ids) {
  std::string s;
  for (int64_t id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

// The rows of a query as a JSON array of objects (numbers stay numbers, NULL is null).
std::string rows_json(const QueryResult& q) {
  json::Writer w;
  w.begin_array();
  for (size_t r = 0; r < q.rows.size(); ++r) {
    w.begin_object();
    for (size_t c = 0; c < q.columns.size(); ++c) {
      w.key(q.columns[c]);
      const auto& v = q.rows[r][c];
      const SqlType t = q.types[r][c];
      if (!v)
        w.null();
      else if (t == SqlType::Integer)
        w.value(static_cast<int64_t>(std::stoll(*v)));
      else if (t == SqlType::Real)
        w.value(std::strtod(v->c_str(), nullptr));
      else
        w.value(*v);
    }
    w.end_object();
  }
  w.end_array();
  return w.str();
}

std::string cell(const std::optional<std::string>& v) { return v ? escape_html(*v) : "<i>NULL</i>"; }

std::string fixed(const std::optional<std::string>& v, int digits = 4) {
  if (!v) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, std::strtod(v->c_str(), nullptr));
  return buf;
}

std::string fixed(double v, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string table_html(const QueryResult& q, const std::set<size_t>& numeric = {}) {
  std::string s = "<table><thead><tr>";
  for (auto& c : q.columns) s += "<th>" + escape_html(c) + "</th>";
  s += "</tr></thead><tbody>\n";
  for (auto& row : q.rows) {
    s += "<tr>";
    for (size_t c = 0; c < row.size(); ++c)
      s += numeric.count(c) ? "<td class=num>" + fixed(row[c]) + "</td>" : "<td>" + cell(row[c]) + "</td>";
    s += "</tr>\n";
  }
  return s + "</tbody></table>\n";
}

// Mean and sample std of `value` per group, SQL text (std NULL below two values).
const char* kAgg =
    "avg(value) AS mean, "
    "CASE WHEN count(value) > 1 THEN sqrt(max(0.0, (sum(value * value) - sum(value) * avg(value)) / (count(value) - "
    "1)))"
    " END AS sd, count(value) AS n";

// A line of the mean with a band of mean ± std, one colour per series; x = epoch (step + 1).
std::string band_spec(const std::string& title, const std::string& y_title, const std::string& data, size_t rows) {
  // Point markers only on small charts: thousands of SVG circles are most of a large page's render time.
  const std::string points = rows <= 400 ? "true" : "false";
  return R"({"$schema":"https://vega.github.io/schema/vega-lite/v6.json","title":)" + json::quote(title) +
         R"(,"width":420,"height":220,"data":{"values":)" + data +
         R"(},"transform":[{"calculate":"datum.sd == null ? datum.mean : datum.mean - datum.sd","as":"lo"},)"
         R"({"calculate":"datum.sd == null ? datum.mean : datum.mean + datum.sd","as":"hi"}],)"
         R"("encoding":{"x":{"field":"epoch","type":"quantitative","title":"epoch","axis":{"tickMinStep":1,"format":"d"}},)"
         R"("color":{"field":"series","type":"nominal","title":null}},)"
         R"("layer":[{"mark":{"type":"area","opacity":0.2},"encoding":{"y":{"field":"lo","type":"quantitative","title":)" +
         json::quote(y_title) +
         R"(},"y2":{"field":"hi"}}},)"
         R"({"mark":{"type":"line","point":)" +
         points +
         R"(},"encoding":{"y":{"field":"mean","type":"quantitative"},)"
         R"("tooltip":[{"field":"series"},{"field":"epoch"},{"field":"mean","format":".4f"},{"field":"sd","format":".4f"},{"field":"n"}]}}]})";
}

// Bars of the mean with error bars of ± std per group, one bar per split side by side.
std::string bars_spec(const std::string& title, const std::string& y_title, const std::string& data,
                      const std::string& color_field, const std::string& y_field = "mean") {
  return R"({"$schema":"https://vega.github.io/schema/vega-lite/v6.json","title":)" + json::quote(title) +
         R"(,"width":{"step":28},"height":240,"data":{"values":)" + data +
         R"(},"transform":[{"calculate":"datum.sd == null ? datum.)" + y_field + R"( : datum.)" + y_field +
         R"( - datum.sd","as":"lo"},{"calculate":"datum.sd == null ? datum.)" + y_field + R"( : datum.)" + y_field +
         R"( + datum.sd","as":"hi"}],)"
         R"("encoding":{"x":{"field":"group","type":"nominal","title":null,"sort":null,"axis":{"labelLimit":240}},)"
         R"("xOffset":{"field":")" +
         color_field + R"("},"color":{"field":")" + color_field +
         R"(","type":"nominal","title":null}},"layer":[{"mark":"bar","encoding":{"y":{"field":")" + y_field +
         R"(","type":"quantitative","title":)" + json::quote(y_title) + R"(},"tooltip":[{"field":"group"},{"field":")" +
         color_field + R"("},{"field":")" + y_field +
         R"(","format":".4f"},{"field":"sd","format":".4f"},{"field":"n"}]}},)"
         R"({"mark":{"type":"errorbar","ticks":true},"encoding":{"y":{"field":"lo","type":"quantitative","title":)" +
         json::quote(y_title) + R"(},"y2":{"field":"hi"},"color":{"value":"black"}}}]})";
}

// Curves are drawn for training stages (those with a training loss), not for one-off evaluations such as a
// run's 'final' stage.
const std::string kTrainingStage =
    " AND EXISTS (SELECT 1 FROM metrics AS l WHERE l.run_id = m.run_id AND l.stage = m.stage AND l.split = 'train'"
    " AND l.key = 'loss')";

std::string section(const std::string& title, const std::string& body) {
  return "<section><h2>" + escape_html(title) + "</h2>\n" + body + "</section>\n";
}

}  // namespace

std::string escape_inline_script(const std::string& js) {
  std::string out;
  out.reserve(js.size());
  for (size_t i = 0; i < js.size(); ++i) {
    if (js[i] == '<' && i + 1 < js.size() && js[i + 1] == '/') {
      static const char* word = "script";
      bool match = true;
      for (size_t k = 0; k < 6 && match; ++k)
        match = i + 2 + k < js.size() && std::tolower(static_cast<unsigned char>(js[i + 2 + k])) == word[k];
      if (match) {
        out += "<\\/";
        ++i;  // skip '/'
        continue;
      }
    }
    out += js[i];
  }
  return out;
}

std::string escape_html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<int64_t> select_runs(Store& store, const Selection& sel) {
  const int given = !sel.runs.empty() + sel.sweep.has_value() + !sel.where.empty();
  if (given != 1)
    throw InputError("name the runs of the report: run ids, --sweep ID, or --where \"SQL condition\" (one of them)");
  std::vector<int64_t> ids;
  if (!sel.runs.empty()) {
    for (int64_t id : sel.runs) {
      if (store.query("SELECT 1 FROM runs WHERE id = " + std::to_string(id)).rows.empty())
        throw InputError("no run " + std::to_string(id) + " in " + store.path() + " (xrec runs lists them)");
      ids.push_back(id);
    }
  } else if (sel.sweep) {
    if (store.query("SELECT 1 FROM sweeps WHERE id = " + std::to_string(*sel.sweep)).rows.empty())
      throw InputError("no sweep " + std::to_string(*sel.sweep) + " in " + store.path() + " (xrec sweep list)");
    auto q = store.query("SELECT DISTINCT run_id FROM trials WHERE sweep_id = " + std::to_string(*sel.sweep) +
                         " AND current = 1 AND run_id IS NOT NULL");
    for (auto& r : q.rows) ids.push_back(std::stoll(*r[0]));
    if (ids.empty())
      throw InputError("sweep " + std::to_string(*sel.sweep) + " has no runs yet (xrec sweep show " +
                       std::to_string(*sel.sweep) + ")");
  } else {
    QueryResult q;
    try {
      q = store.query("SELECT r.id FROM runs AS r WHERE (" + sel.where + ") ORDER BY r.id");
    } catch (const InputError& e) {
      throw InputError("--where \"" + sel.where + "\": " + e.what() +
                       " (a condition on the runs table, alias r, e.g. \"r.name LIKE 'sasrec%'\")");
    }
    for (auto& r : q.rows) ids.push_back(std::stoll(*r[0]));
    if (ids.empty()) throw InputError("--where \"" + sel.where + "\" selects no run");
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

HtmlReport html_report(Store& store, const Selection& selection, const std::string& vega_js) {
  HtmlReport rep;
  rep.runs = select_runs(store, selection);
  const std::string in = "(" + id_list(rep.runs) + ")";
  const size_t n = rep.runs.size();
  // The series a run belongs to: its sweep point, else its name (repeats of one config share a name).
  // MATERIALIZED with a join: a correlated lookup here would run once per metric row (docs/performance.md).
  const std::string sel_cte =
      selection.sweep
          ? "WITH sel AS MATERIALIZED (SELECT r.id, coalesce(t.point_label, r.name) AS grp, r.select_metric AS metric"
            " FROM runs AS r LEFT JOIN trials AS t ON t.run_id = r.id AND t.current = 1 AND t.sweep_id = " +
                std::to_string(*selection.sweep) + " WHERE r.id IN " + in + ") "
          : "WITH sel AS MATERIALIZED (SELECT r.id, r.name AS grp, r.select_metric AS metric FROM runs AS r WHERE r.id "
            "IN " +
                in + ") ";
  std::string body;
  int chart_no = 0;
  auto add_chart = [&](const std::string& title, const std::string& spec) {
    Chart c{"chart" + std::to_string(++chart_no), title, spec};
    rep.charts.push_back(c);
    return "<div class=chart id=" + c.id + " data-title=\"" + escape_html(title) + "\"></div>\n";
  };

  if (selection.sweep) {
    auto s = store.query("SELECT name FROM sweeps WHERE id = " + std::to_string(*selection.sweep));
    rep.title = "xrec report: sweep " + s.rows[0][0].value_or("") + " (" + std::to_string(n) + " runs)";
  } else {
    rep.title = "xrec report: " + std::to_string(n) + (n == 1 ? " run" : " runs");
  }

  // Run facts.
  {
    auto q = store.query(
        "SELECT r.id, r.name, r.status, r.sweep_id AS sweep, r.seed, r.started_at, o.duration_s, r.git_sha, r.device, "
        "r.threads,"
        " r.blas, r.xrec_version, r.torch_version, r.select_metric AS metric, o.final_valid AS valid, o.final_test AS "
        "test"
        " FROM runs AS r JOIN run_overview AS o ON o.id = r.id WHERE r.id IN " +
        in + " ORDER BY r.id");
    body += section("Runs", "<div class=scroll>" + table_html(q, {14, 15}) + "</div>");
  }

  // Config difference: keys whose value differs between the runs (or that some runs lack).
  {
    auto keys = store.query(
        "SELECT key, count(DISTINCT value) AS distinct_values, count(*) AS runs,"
        " group_concat(DISTINCT value) AS vals FROM params WHERE run_id IN " +
        in + " AND key <> 'seed' GROUP BY key HAVING count(DISTINCT value) > 1 OR count(*) < " + std::to_string(n) +
        " ORDER BY key");
    std::string html;
    if (n == 1) {
      html =
          "<p>One run: nothing to compare. Its resolved config is in <code>xrec query \"SELECT config_yaml FROM runs "
          "WHERE id = " +
          std::to_string(rep.runs[0]) + "\"</code>.</p>";
    } else if (keys.rows.empty()) {
      html = "<p>Every run has the same config (seeds aside).</p>";
    } else if (n <= kDiffColumns) {
      std::string key_list;
      for (auto& r : keys.rows) key_list += (key_list.empty() ? "" : ",") + sql_text(*r[0]);
      auto vals =
          store.query("SELECT run_id, key, value FROM params WHERE run_id IN " + in + " AND key IN (" + key_list + ")");
      std::map<std::string, std::map<int64_t, std::string>> grid;
      for (auto& r : vals.rows) grid[*r[1]][std::stoll(*r[0])] = *r[2];
      html = "<div class=scroll><table><thead><tr><th>key</th>";
      for (int64_t id : rep.runs) html += "<th>run " + std::to_string(id) + "</th>";
      html += "</tr></thead><tbody>\n";
      for (auto& [key, per_run] : grid) {
        html += "<tr><td>" + escape_html(key) + "</td>";
        for (int64_t id : rep.runs) {
          auto it = per_run.find(id);
          html += it == per_run.end() ? "<td><i>absent</i></td>" : "<td>" + escape_html(it->second) + "</td>";
        }
        html += "</tr>\n";
      }
      html += "</tbody></table></div>";
    } else {
      html = "<div class=scroll>" + table_html(keys) + "</div>";
    }
    body += section("Config difference", html);
  }

  std::vector<std::string> ranked_groups;
  // Leaderboard: the select metric per group (sweep point or run name), mean ± std over runs.
  {
    auto q = store.query(
        sel_cte + "SELECT sel.grp AS \"group\", f.split, sel.metric, " + kAgg +
        " FROM sel JOIN final_metrics AS f ON f.run_id = sel.id AND f.key = sel.metric AND f.split IN ('valid', 'test')"
        " GROUP BY sel.grp, f.split, sel.metric"
        " ORDER BY (SELECT avg(v.value) FROM final_metrics AS v JOIN sel AS s2 ON s2.id = v.run_id"
        "           WHERE s2.grp = sel.grp AND v.split = 'valid' AND v.key = sel.metric) DESC, sel.grp, f.split DESC");
    for (auto& r : q.rows)  // best first by validation: the groups the curves keep when there are many
      if (r[0] && std::find(ranked_groups.begin(), ranked_groups.end(), *r[0]) == ranked_groups.end())
        ranked_groups.push_back(*r[0]);
    if (!q.rows.empty()) {
      std::set<std::string> metrics;
      for (auto& r : q.rows) metrics.insert(r[2].value_or(""));
      std::string metric_names;
      for (auto& m : metrics) metric_names += (metric_names.empty() ? "" : ", ") + m;
      std::string html =
          "<p>Final metrics of the selected model (validation selects, test reports), mean ± sample std over "
          "the runs of each " +
          std::string(selection.sweep ? "sweep point (its seeds)" : "run name") + ".</p>";
      html += add_chart("Leaderboard: " + metric_names,
                        bars_spec("Leaderboard (" + metric_names + ")", metric_names, rows_json(q), "split"));
      html += "<div class=scroll>" + table_html(q, {3, 4}) + "</div>";
      body += section("Leaderboard", html);
    }
  }

  // Transfer against scratch, for the sweeps among the runs that name a reference variant.
  {
    auto sweeps = store.query(
        "SELECT DISTINCT s.id FROM sweeps AS s JOIN runs AS r ON r.sweep_id = s.id"
        " WHERE r.id IN " +
        in + " AND s.reference IS NOT NULL ORDER BY s.id");
    for (auto& srow : sweeps.rows) {
      const int64_t sweep = std::stoll(*srow[0]);
      TransferReport tr;
      try {
        tr = transfer_report(store, sweep);
      } catch (const InputError& e) {  // an ambiguous pair: the section says so, the rest of the report stands
        body += section("Transfer against scratch: sweep " + std::to_string(sweep),
                        "<p class=note>Refused: " + escape_html(e.what()) + "</p>");
        continue;
      }
      if (tr.rows.empty()) continue;
      json::Writer w;
      w.begin_array();
      std::string table =
          "<table><thead><tr><th>variant</th><th>vs</th><th>metric</th><th>seeds</th><th>transfer</th>"
          "<th>reference</th><th>relative</th><th>diff [95% CI] over users</th><th>Wilcoxon "
          "p</th><th>verdict</th></tr></thead><tbody>\n";
      for (auto& r : tr.rows) {
        w.begin_object()
            .member("group", r.variant)
            .member("verdict", r.verdict)
            .member("relative", r.relative_mean)
            .member("sd", r.seeds.size() > 1 ? r.relative_std : std::nan(""))
            .member("n", static_cast<int64_t>(r.seeds.size()))
            .end_object();
        const bool negative = r.verdict == "negative transfer";
        table += std::string(negative ? "<tr class=negative>" : "<tr>") + "<td>" + escape_html(r.variant) +
                 "</td><td>" + escape_html(r.reference) + "</td><td>" + escape_html(r.metric) + "</td><td>" +
                 std::to_string(r.seeds.size()) + "</td><td class=num>" + fixed(r.transfer_mean) + " ± " +
                 fixed(r.transfer_std) + "</td><td class=num>" + fixed(r.reference_mean) + " ± " +
                 fixed(r.reference_std) + "</td><td class=num>" + fixed(100 * r.relative_mean, 1) + "% ± " +
                 fixed(100 * r.relative_std, 1) + "%</td><td class=num>" +
                 (r.tested ? fixed(r.diff) + " [" + fixed(r.ci_low) + ", " + fixed(r.ci_high) + "] (" +
                                 std::to_string(r.cases) + ")"
                           : escape_html(r.note)) +
                 "</td><td class=num>" + (r.tested ? fixed(r.wilcoxon_p, 4) : "") + "</td><td>" +
                 escape_html(r.verdict) + "</td></tr>\n";
      }
      w.end_array();
      table += "</tbody></table>\n";
      for (auto& note : tr.notes) table += "<p class=note>" + escape_html(note) + "</p>\n";
      std::string spec =
          R"j({"$schema":"https://vega.github.io/schema/vega-lite/v6.json","title":"Relative difference to the reference (test)",)j"
          R"("width":{"step":32},"height":220,"data":{"values":)" +
          w.str() +
          R"(},"transform":[{"calculate":"datum.sd == null ? datum.relative : datum.relative - datum.sd","as":"lo"},)"
          R"({"calculate":"datum.sd == null ? datum.relative : datum.relative + datum.sd","as":"hi"}],)"
          R"("encoding":{"x":{"field":"group","type":"nominal","title":null,"sort":null,"axis":{"labelLimit":240}}},)"
          R"("layer":[{"mark":"bar","encoding":{"y":{"field":"relative","type":"quantitative","axis":{"format":"%"},"title":"(transfer - scratch) / scratch"},)"
          R"j("color":{"field":"verdict","type":"nominal","scale":{"domain":["negative transfer","worse (not significant)","equal","better (not significant)","better"],)j"
          R"("range":["#c0392b","#e6a19a","#aaaaaa","#9ccb9c","#2e8b57"]}},"tooltip":[{"field":"group"},{"field":"relative","format":".2%"},{"field":"sd","format":".2%"},{"field":"verdict"}]}},)"
          // The error bars carry the bars' axis title: Vega-Lite joins the titles of a shared axis ("..., lo").
          R"({"mark":{"type":"errorbar","ticks":true,"color":"black"},"encoding":{"y":{"field":"lo","type":"quantitative","title":"(transfer - scratch) / scratch"},"y2":{"field":"hi"}}},)"
          R"({"mark":{"type":"rule","color":"black"},"encoding":{"y":{"datum":0}}}]})";
      body += section("Transfer against scratch: sweep " + tr.rows[0].sweep,
                      "<p>Each transfer variant against the reference variant <b>" + escape_html(tr.rows[0].reference) +
                          "</b> on the same seed, target data and evaluation (view <code>transfer_vs_scratch</code>). "
                          "Relative difference: mean ± std over seeds; the paired test pools every seed's users.</p>" +
                          add_chart("Transfer vs scratch: " + tr.rows[0].sweep, spec) + table);
    }
  }

  std::string curve_filter;  // the groups drawn when there are too many
  // Learning curves: training loss and the validation select metric per epoch, one line per stage.
  // `+m.key` keeps SQLite on the metrics primary key (run_id first): through metrics_by_key it would scan
  // every run's validation rows once per selected run (21 s instead of 0.5 s for 1,000 runs).
  {
    std::string html;
    if (!selection.sweep && n <= kPerRunCharts) {
      for (int64_t id : rep.runs) {
        auto q = store.query(
            "SELECT m.stage || ' ' || CASE WHEN m.split = 'train' THEN 'loss' ELSE m.key END AS series, m.split, "
            "m.step + 1 AS epoch,"
            " m.value AS mean, NULL AS sd, 1 AS n FROM metrics AS m JOIN runs AS r ON r.id = m.run_id"
            " WHERE m.run_id = " +
            std::to_string(id) +
            " AND m.stage <> 'data' AND m.value IS NOT NULL AND ((m.split = 'train' AND m.key = 'loss') OR (m.split = "
            "'valid' AND m.key = r.select_metric))" +
            kTrainingStage + " ORDER BY m.stage, m.split, m.step");
        if (q.rows.empty()) continue;
        QueryResult loss, valid;
        loss.columns = valid.columns = q.columns;
        for (size_t i = 0; i < q.rows.size(); ++i) {
          QueryResult& t = *q.rows[i][1] == "train" ? loss : valid;
          t.rows.push_back(q.rows[i]);
          t.types.push_back(q.types[i]);
        }
        if (!loss.rows.empty())
          html += add_chart(
              "run " + std::to_string(id) + ": training loss",
              band_spec("run " + std::to_string(id) + ": training loss", "loss", rows_json(loss), loss.rows.size()));
        if (!valid.rows.empty())
          html += add_chart("run " + std::to_string(id) + ": validation",
                            band_spec("run " + std::to_string(id) + ": validation", "validation select metric",
                                      rows_json(valid), valid.rows.size()));
      }
    } else {
      // Many groups make unreadable charts and slow pages: the kCurveGroups best by validation are drawn.
      std::string keep;
      if (ranked_groups.size() > kCurveGroups) {
        for (size_t i = 0; i < kCurveGroups; ++i) keep += (keep.empty() ? "" : ",") + sql_text(ranked_groups[i]);
        keep = " AND sel.grp IN (" + keep + ")";
        html += "<p class=note>Curves of the " + std::to_string(kCurveGroups) + " best of " +
                std::to_string(ranked_groups.size()) +
                " groups by validation (all of them are in the leaderboard).</p>\n";
      }
      curve_filter = keep;
      for (const char* split : {"train", "valid"}) {
        const bool train = std::string(split) == "train";
        auto q =
            store.query(sel_cte + "SELECT sel.grp || ' · ' || m.stage AS series, m.step + 1 AS epoch, " + kAgg +
                        " FROM sel JOIN metrics AS m ON m.run_id = sel.id WHERE m.stage <> 'data' AND m.split = '" +
                        split + "' AND +m.key = " + (train ? std::string("'loss'") : std::string("sel.metric")) +
                        kTrainingStage + keep + " GROUP BY sel.grp, m.stage, m.step ORDER BY series, epoch");
        if (!q.rows.empty())
          html += add_chart(train ? "training loss" : "validation select metric",
                            band_spec(train ? "Training loss (mean ± std over runs)"
                                            : "Validation select metric (mean ± std over runs)",
                                      train ? "loss" : "validation", rows_json(q), q.rows.size()));
      }
    }
    if (!html.empty()) body += section("Learning curves", html);
  }

  // Every other per-step metric a strategy recorded (loss terms, per-source weights, codebook usage, ...):
  // any (split, key) outside the train loss and the validation / test ranking metrics, with more than one step.
  {
    auto keys = store.query(
        "SELECT m.split, m.key FROM metrics AS m WHERE m.run_id IN " + in +
        " AND m.stage <> 'data' AND m.split NOT IN ('valid', 'test') AND NOT (m.split = 'train' AND m.key = 'loss')"
        " GROUP BY m.split, m.key HAVING count(DISTINCT m.step) > 1 ORDER BY m.split, m.key");
    std::string html;
    size_t drawn = 0;
    for (auto& k : keys.rows) {
      if (drawn == kExtraCharts) {
        html += "<p class=note>" + std::to_string(keys.rows.size() - drawn) +
                " more per-step metrics are not drawn (query the metrics table).</p>";
        break;
      }
      const std::string series = (n <= kPerRunCharts && !selection.sweep) ? "'run ' || sel.id || ' · ' || m.stage"
                                                                          : "sel.grp || ' · ' || m.stage";
      const std::string grouping =
          (n <= kPerRunCharts && !selection.sweep) ? "sel.id, m.stage, m.step" : "sel.grp, m.stage, m.step";
      auto q = store.query(
          sel_cte + "SELECT " + series + " AS series, m.step + 1 AS epoch, " + kAgg +
          " FROM sel JOIN metrics AS m ON m.run_id = sel.id WHERE m.stage <> 'data' AND m.split = " + sql_text(*k[0]) +
          " AND m.key = " + sql_text(*k[1]) + curve_filter + " GROUP BY " + grouping + " ORDER BY series, epoch");
      const std::string title = *k[0] + " / " + *k[1];
      html += add_chart(title, band_spec(title, *k[1], rows_json(q), q.rows.size()));
      ++drawn;
    }
    if (!html.empty()) body += section("Recorded per-step metrics", html);
  }

  // The page.
  std::string specs = "{";
  for (size_t i = 0; i < rep.charts.size(); ++i)
    specs += (i ? ",\n" : "\n") + json::quote(rep.charts[i].id) + ":" + rep.charts[i].spec;
  specs += "}";
  const std::string& js = vega_js.empty() ? vega_bundle() : vega_js;
  std::ostringstream page;
  page
      << "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>" << escape_html(rep.title) << "</title>\n"
      << "<meta name=generator content=\"xrec report (" << escape_html(vega_versions()) << ")\">\n"
      << "<style>body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}h2{font-size:1.15em;"
         "border-bottom:1px solid #ccc;margin-top:1.6em}table{border-collapse:collapse;font-size:12px}td,th{border:1px "
         "solid #ddd;"
         "padding:2px "
         "6px;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}tr.negative{background:#fbe3e0}"
         ".chart{display:inline-block;margin:6px 12px 6px 0;vertical-align:top}.scroll{max-height:420px;overflow:auto}"
         ".note{color:#666;font-size:12px}</style>\n</head><body>\n<h1>"
      << escape_html(rep.title) << "</h1>\n"
      << body << "<script>" << escape_inline_script(js) << "</script>\n"
      << "<script>\n(function(){\nconst specs = " << escape_inline_script(specs) << ";\n"
      << "const errors = [];\nwindow.addEventListener('error', e => errors.push(String(e.message)));\n"
         "window.addEventListener('unhandledrejection', e => errors.push(String(e.reason)));\n"
         "const consoleError = console.error.bind(console);\n"
         "console.error = (...a) => { errors.push(a.map(String).join(' ')); consoleError(...a); };\n"
         "const jobs = Object.keys(specs).map(id => vegaEmbed('#' + id, specs[id], {renderer: 'svg', actions: false})\n"
         "  .then(r => { window.xrecViews = window.xrecViews || {}; window.xrecViews[id] = r.view; })\n"
         "  .catch(e => { errors.push(id + ': ' + e); document.getElementById(id).setAttribute('data-error', "
         "String(e)); console.error(e); }));\n"
         "Promise.all(jobs).then(() => { document.body.setAttribute('data-errors', errors.join('; '));\n"
         "  document.body.setAttribute('data-rendered', String(jobs.length)); if (window.xrecAfterRender) "
         "window.xrecAfterRender(); });\n"
         "})();\n</script>\n</body></html>\n";
  rep.html = page.str();
  return rep;
}

}  // namespace xrec::report
