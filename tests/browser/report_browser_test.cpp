// The HTML report in a real browser: headless Chromium opens a generated report of the hand-built sweep
// and every chart must have rendered (an SVG with marks in its div), with no console or script error.
// CTest label `browser`; skips with a message when Chromium is absent (cmake/setup-debian.sh installs it).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "report/report_fixture.hpp"
#include "support/temp_dir.hpp"
#include "xrec/report.hpp"

namespace xrec {
namespace {

#define REQUIRE_CHROMIUM(var)                                                                                  \
  auto var = report::find_chromium();                                                                          \
  if (!var)                                                                                                    \
    GTEST_SKIP() << "headless Chromium not found: install Debian's `chromium` (cmake/setup-debian.sh) or set " \
                    "$XREC_CHROMIUM; the report's specs are still checked by report_test";

// The markup of the chart div `id` in the rendered DOM.
std::string chart_markup(const std::string& dom, const std::string& id) {
  const size_t a = dom.find("id=\"" + id + "\"");
  if (a == std::string::npos) return "";
  size_t b = dom.size();
  for (const char* end : {"class=\"chart\"", "</section>", "<script"}) b = std::min(b, dom.find(end, a + 1));
  return dom.substr(a, b - a);
}

TEST(ReportBrowser, EveryChartRendersWithoutErrors) {
  REQUIRE_CHROMIUM(chromium);
  test::TempDir dir("report-browser");
  Store store(dir.path("xrec.db"));
  auto f = test::build_report_fixture(store);
  report::Selection sel;
  sel.sweep = f.sweep;
  auto rep = report::html_report(store, sel);
  ASSERT_GE(rep.charts.size(), 5u);
  const std::string page = dir.path("report.html");
  std::ofstream(page, std::ios::binary) << rep.html;
  auto r = report::render_in_browser(*chromium, page);
  ASSERT_EQ(r.exit_code, 0) << r.log.substr(0, 2000);
  EXPECT_NE(r.dom.find("data-rendered=\"" + std::to_string(rep.charts.size()) + "\""), std::string::npos)
      << "the page's script did not finish: " << r.log.substr(0, 2000);
  EXPECT_NE(r.dom.find("data-errors=\"\""), std::string::npos) << r.dom.substr(0, 500);
  EXPECT_TRUE(report::console_errors(r.log).empty()) << report::console_errors(r.log).front();
  for (auto& c : rep.charts) {
    const std::string m = chart_markup(r.dom, c.id);
    EXPECT_NE(m.find("<svg"), std::string::npos) << c.title << " has no SVG";
    EXPECT_NE(m.find("class=\"mark-"), std::string::npos) << c.title << " has no marks";
    EXPECT_EQ(m.find("data-error"), std::string::npos) << c.title;
  }
  // The leaderboard has a bar per point and split (3 x 2) and the transfer chart one per variant (2).
  EXPECT_EQ(std::regex_search(chart_markup(r.dom, rep.charts[0].id), std::regex("mark-rect role-mark")), true);
  std::printf("rendered %zu charts in %.2f s\n", rep.charts.size(), r.seconds);
}

// The checks above can fail: a spec vega rejects shows up in the page's error record and the console.
TEST(ReportBrowser, ABrokenChartIsDetected) {
  REQUIRE_CHROMIUM(chromium);
  test::TempDir dir("report-browser-broken");
  Store store(":memory:");
  auto f = test::build_report_fixture(store);
  report::Selection sel;
  sel.runs = {f.scratch[0]};
  auto rep = report::html_report(store, sel);
  const std::string good = rep.charts[0].spec;
  const std::string bad = R"({"mark":"no-such-mark","data":{"values":[{"a":1}]}})";
  std::string html = rep.html;
  const size_t at = html.find(good);
  ASSERT_NE(at, std::string::npos);
  html.replace(at, good.size(), bad);
  const std::string page = dir.path("broken.html");
  std::ofstream(page, std::ios::binary) << html;
  auto r = report::render_in_browser(*chromium, page);
  EXPECT_EQ(r.dom.find("data-errors=\"\""), std::string::npos) << "the error was not recorded";
  EXPECT_NE(r.dom.find("no-such-mark"), std::string::npos);
  EXPECT_FALSE(report::console_errors(r.log).empty()) << r.log.substr(0, 2000);
}

TEST(ReportBrowser, SingleChartAsSvgAndPng) {
  REQUIRE_CHROMIUM(chromium);
  Store store(":memory:");
  auto f = test::build_report_fixture(store);
  report::Selection sel;
  sel.sweep = f.sweep;
  auto rep = report::html_report(store, sel, "/* not used */");
  const std::string svg = report::export_chart(rep.charts[0], "svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u) << svg.substr(0, 200);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("finetune"), std::string::npos);  // an axis label
  const std::string png = report::export_chart(rep.charts[0], "png");
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

}  // namespace
}  // namespace xrec
