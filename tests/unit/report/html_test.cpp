// The HTML report without a browser: which charts it has, every Vega-Lite spec checked as JSON (its data
// inline, every encoded field present), values aggregated by SQL, selection errors, inline escaping.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <set>

#include "report/report_fixture.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/report.hpp"

namespace xrec {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

// Every "field" named anywhere in the spec's encodings.
void collect_fields(const YAML::Node& n, std::set<std::string>& out) {
  if (n.IsMap()) {
    for (auto kv : n) {
      const std::string k = kv.first.as<std::string>();
      if (k == "field" && kv.second.IsScalar()) out.insert(kv.second.Scalar());
      if (k != "data") collect_fields(kv.second, out);
    }
  } else if (n.IsSequence()) {
    for (auto x : n) collect_fields(x, out);
  }
}

// Parses a spec (JSON is YAML's flow style) and checks what vega-embed needs: the schema, inline data with
// rows, marks, and every encoded field present in the rows or made by a transform.
YAML::Node check_spec(const report::Chart& c) {
  YAML::Node s;
  EXPECT_NO_THROW(s = YAML::Load(c.spec)) << c.title;
  EXPECT_TRUE(s.IsMap()) << c.title;
  EXPECT_NE(s["$schema"].as<std::string>().find("vega-lite/v6"), std::string::npos);
  EXPECT_TRUE(s["data"]["values"].IsSequence()) << c.title;
  EXPECT_GT(s["data"]["values"].size(), 0u) << c.title;
  EXPECT_TRUE(s["layer"].IsSequence() || s["mark"]) << c.title;
  std::set<std::string> have, used;
  for (auto kv : s["data"]["values"][0]) have.insert(kv.first.as<std::string>());
  if (s["transform"])
    for (auto t : s["transform"]) have.insert(t["as"].as<std::string>());
  collect_fields(s, used);
  for (auto& f : used) EXPECT_TRUE(have.count(f)) << c.title << ": field '" << f << "' is not in the data";
  return s;
}

const report::Chart* chart_titled(const report::HtmlReport& r, const std::string& part) {
  for (auto& c : r.charts)
    if (c.title.find(part) != std::string::npos) return &c;
  return nullptr;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(HtmlReport, SweepReportHasLeaderboardTransferCurvesAndRecordedMetrics) {
  Store store(":memory:");
  auto f = test::build_report_fixture(store);
  report::Selection sel;
  sel.sweep = f.sweep;
  auto rep = report::html_report(store, sel, "/* vega */");
  EXPECT_EQ(rep.runs.size(), 9u);
  ASSERT_EQ(rep.charts.size(), 5u);  // leaderboard, transfer, loss band, validation band, meta/source_weight
  for (auto& c : rep.charts) check_spec(c);

  auto lb = check_spec(*chart_titled(rep, "Leaderboard"));
  bool seen = false;
  for (auto row : lb["data"]["values"])
    if (row["group"].as<std::string>() == "finetune" && row["split"].as<std::string>() == "test") {
      EXPECT_NEAR(row["mean"].as<double>(), 0.09, 1e-12);
      EXPECT_NEAR(row["sd"].as<double>(), 0.01, 1e-12);
      EXPECT_EQ(row["n"].as<int>(), 3);
      seen = true;
    }
  EXPECT_TRUE(seen);

  auto tr = check_spec(*chart_titled(rep, "Transfer vs scratch"));
  ASSERT_EQ(tr["data"]["values"].size(), 2u);
  EXPECT_EQ(tr["data"]["values"][0]["verdict"].as<std::string>(), "negative transfer");
  EXPECT_NE(rep.html.find("<tr class=negative><td>finetune</td>"), std::string::npos);

  // The loss band: one series per point and stage, 4 epochs each, mean over the 3 seeds.
  auto loss = check_spec(*chart_titled(rep, "training loss"));
  EXPECT_EQ(loss["data"]["values"].size(), 12u);
  EXPECT_EQ(loss["data"]["values"][0]["series"].as<std::string>(), "finetune · target");
  EXPECT_NEAR(loss["data"]["values"][0]["mean"].as<double>(), 5.02, 1e-12);  // 5 + 0.01 * mean seed (2)

  // A metric only a strategy knows, found without naming it.
  auto meta = check_spec(*chart_titled(rep, "meta / source_weight"));
  EXPECT_EQ(meta["data"]["values"].size(), 4u);

  // Data facts (stage 'data') are not curves.
  EXPECT_EQ(chart_titled(rep, "users"), nullptr);
}

TEST(HtmlReport, AnAmbiguousTransferPairIsShownAsRefused) {
  Store store(":memory:");
  auto f = test::build_report_fixture(store);
  test::add_fixture_run(store, f.sweep, "scratch train.lr=0.01", "scratch", 1, 0.2, std::vector<int64_t>(60, 0));
  report::Selection sel;
  sel.sweep = f.sweep;
  auto rep = report::html_report(store, sel, "/* vega */");
  EXPECT_EQ(chart_titled(rep, "Transfer vs scratch"), nullptr);
  EXPECT_NE(rep.html.find("Refused: ambiguous reference runs"), std::string::npos);
  EXPECT_NE(chart_titled(rep, "Leaderboard"), nullptr);
}

TEST(HtmlReport, RunIdsGivePerRunCurvesAndTheConfigDifference) {
  Store store(":memory:");
  auto f = test::build_report_fixture(store);
  // A one-off evaluation stage (no training loss) is not a curve.
  store.log_metric(f.finetune[0], "final", "valid", "ndcg@10", 0, 0.5);
  report::Selection sel;
  sel.runs = {f.finetune[0], f.relearn[0]};
  auto rep = report::html_report(store, sel, "/* vega */");
  EXPECT_NE(chart_titled(rep, "run " + std::to_string(f.finetune[0]) + ": training loss"), nullptr);
  auto valid = check_spec(*chart_titled(rep, "run " + std::to_string(f.finetune[0]) + ": validation"));
  ASSERT_EQ(valid["data"]["values"].size(), 4u);
  for (auto row : valid["data"]["values"]) EXPECT_EQ(row["series"].as<std::string>(), "target ndcg@10");
  EXPECT_NE(chart_titled(rep, "run " + std::to_string(f.relearn[0]) + ": validation"), nullptr);
  for (auto& c : rep.charts) check_spec(c);
  // train.lr differs (0.001 vs 0.0003); data.target.path does not.
  const size_t diff = rep.html.find("Config difference");
  ASSERT_NE(diff, std::string::npos);
  const std::string diff_part = rep.html.substr(diff, rep.html.find("</section>", diff) - diff);
  EXPECT_NE(diff_part.find("<td>train.lr</td><td>0.001</td><td>0.0003</td>"), std::string::npos) << diff_part;
  EXPECT_EQ(diff_part.find("data.target.path"), std::string::npos);
  // Facts: git sha, device, threads, BLAS.
  EXPECT_NE(rep.html.find("<td>abc123</td><td>cpu</td><td>1</td><td>openblas</td>"), std::string::npos);
}

TEST(HtmlReport, WhereSelectsRunsAndBadSelectionsAreInputErrors) {
  Store store(":memory:");
  test::build_report_fixture(store);
  report::Selection sel;
  sel.where = "r.name = 'relearn'";
  EXPECT_EQ(report::select_runs(store, sel).size(), 3u);
  sel.where = "r.nme = 1";
  EXPECT_NE(error_of([&] { report::select_runs(store, sel); }).find("no such column: r.nme"), std::string::npos);
  sel.where = "r.name = 'nothing'";
  EXPECT_NE(error_of([&] { report::select_runs(store, sel); }).find("selects no run"), std::string::npos);
  sel.where = "1); DELETE FROM runs; SELECT (1";
  EXPECT_FALSE(error_of([&] { report::select_runs(store, sel); }).empty());
  EXPECT_EQ(store.query("SELECT count(*) FROM runs").rows[0][0], "9");
  report::Selection none;
  EXPECT_NE(error_of([&] { report::select_runs(store, none); }).find("name the runs"), std::string::npos);
  report::Selection missing;
  missing.runs = {999};
  EXPECT_NE(error_of([&] { report::select_runs(store, missing); }).find("no run 999"), std::string::npos);
}

TEST(HtmlReport, PageInlinesTheBundlesOnceAndEscapesOnlyScriptEnds) {
  Store store(":memory:");
  auto f = test::build_report_fixture(store);
  // A run name that would end the inline script and inject markup.
  store.query("UPDATE runs SET name = '</script><b>x' WHERE id = " + std::to_string(f.scratch[0]), false);
  report::Selection sel;
  sel.runs = {f.scratch[0], f.finetune[0]};
  auto rep = report::html_report(store, sel, "var re = /<\\/?[a-z]+>/; var s = '</script>';");
  EXPECT_EQ(count(rep.html, "<script>"), 2u);
  EXPECT_EQ(count(rep.html, "</script>"), 2u);
  EXPECT_NE(rep.html.find("var re = /<\\/?[a-z]+>/; var s = '<\\/script>';"), std::string::npos);
  EXPECT_NE(rep.html.find("<td>&lt;/script&gt;&lt;b&gt;x</td>"), std::string::npos);
  // Inside the specs (a JavaScript string) the name stays text: its script end is escaped.
  EXPECT_GT(count(rep.html, "<\\/script><b>x"), 0u);
  EXPECT_EQ(count(rep.html, "<b>x"), count(rep.html, "<\\/script><b>x"));
  // The compiled-in bundles: all three libraries.
  const std::string& js = report::vega_bundle();
  EXPECT_GT(js.size(), 800000u);
  EXPECT_NE(js.find("vegaEmbed"), std::string::npos);
  EXPECT_NE(js.find("vegaLite"), std::string::npos);
}

TEST(EscapeInlineScript, OnlyScriptEndTagsAnyCase) {
  EXPECT_EQ(report::escape_inline_script("a</script>b</SCRIPT c</Script"), "a<\\/script>b<\\/SCRIPT c<\\/Script");
  EXPECT_EQ(report::escape_inline_script("x</div> y</scrip z</"), "x</div> y</scrip z</");
  EXPECT_EQ(report::escape_html("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

}  // namespace
}  // namespace xrec
