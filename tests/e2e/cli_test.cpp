// The other subcommands through the real binary: plugins, runs, query, usage errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "harness.hpp"

using namespace xrec::test;

TEST(CliE2E, PluginsListShowsTheBuiltInPlugins) {
  auto r = xrec_cmd("plugins list");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* name : {"user_sequences", "sasrec", "scratch"}) EXPECT_NE(r.output.find(name), std::string::npos) << name;
}

TEST(CliE2E, PluginsInspectDescribesEveryParameter) {
  auto r = xrec_cmd("plugins inspect sasrec");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* s : {"hidden", "int in [1, 8192]", "norm", "{post, pre}", "max_len", "1.13"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  auto j = xrec_cmd("plugins inspect sasrec --json");
  ASSERT_EQ(j.code, 0) << j.output;
  EXPECT_EQ(j.output.find('{'), j.output.find_first_not_of(" \n"));
  EXPECT_NE(j.output.find("\"hidden\""), std::string::npos);
  auto bad = xrec_cmd("plugins inspect sasrek");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.output.find("sasrec"), std::string::npos) << bad.output;  // did you mean
}

// Issue 12, crash 1: a truncated plugin killed `plugins list` with SIGBUS inside dlopen. Now the file is
// checked before it is loaded: listed as skipped, the other plugins still listed, exit 0.
TEST(CliE2E, PluginsListReportsATruncatedLibraryAsSkipped) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("xrec_cli_trunc_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path good = fs::path(XREC_TEST_FIXTURE_PLUGINS) / "good" / "fixture_good.so";
  fs::copy_file(good, dir / "fixture_good.so");
  fs::copy_file(good, dir / "fixture_cut.so");
  fs::resize_file(dir / "fixture_cut.so", fs::file_size(good) / 2);
  auto r = xrec_cmd("plugins list --plugin-path " + dir.string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("fixture_good_data"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("skipped " + fs::canonical(dir / "fixture_cut.so").string() + ": truncated ELF file"),
            std::string::npos)
      << r.output;
  fs::remove_all(dir);
}

TEST(CliE2E, UsageErrorsExitNonZero) {
  EXPECT_EQ(xrec_cmd("").code, 2);
  EXPECT_EQ(xrec_cmd("frobnicate").code, 2);
  auto r = xrec_cmd("run");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("usage"), std::string::npos);
  auto missing = xrec_cmd("run /no/such/config.yaml");
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("/no/such/config.yaml"), std::string::npos);
  EXPECT_EQ(xrec_cmd("version").code, 0);
}

TEST(CliE2E, RunsAndQueryReadTheStore) {
  TempDir dir("cli");
  const std::string db = dir.file("xrec.db");
  const std::string data = dir.write("d.txt", successor_dataset(30, 20, 8));
  const std::string cfg = dir.write("c.yaml", "name: cli-run\nthreads: 1\ndevice: cpu\ndata: {target: {type: user_sequences, path: " +
                                                  data + "}}\nbackbone: {type: sasrec, hidden: 8, layers: 1, heads: 1, max_len: 6}\n"
                                                         "transfer: {type: scratch}\ntrain: {epochs: 2, batch_size: 8}\n");
  ASSERT_EQ(xrec_cmd("run " + cfg + " --db " + db).code, 0);
  auto runs = xrec_cmd("runs --db " + db);
  ASSERT_EQ(runs.code, 0) << runs.output;
  EXPECT_NE(runs.output.find("cli-run"), std::string::npos) << runs.output;
  EXPECT_NE(runs.output.find("finished"), std::string::npos) << runs.output;
  auto q = xrec_cmd("query \"SELECT name, status FROM runs\" --csv --db " + db);
  ASSERT_EQ(q.code, 0) << q.output;
  EXPECT_NE(q.output.find("cli-run,finished"), std::string::npos) << q.output;
  auto w = xrec_cmd("query \"DELETE FROM runs\" --db " + db);
  EXPECT_NE(w.code, 0) << w.output;
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM runs"), "1");
  auto none = xrec_cmd("query \"SELECT 1\" --db " + dir.file("absent.db"));
  EXPECT_NE(none.code, 0);
}

// A neural run and a baseline on the same data: their per-case ranks pair up for `xrec compare`.
TEST(CliE2E, CompareReportsAPairedTestOfTwoRuns) {
  TempDir dir("compare");
  const std::string db = dir.file("xrec.db");
  const std::string data = dir.write("d.txt", successor_dataset(40, 20, 8));
  const std::string base = "threads: 1\ndevice: cpu\ndata: {target: {type: user_sequences, path: " + data + "}}\n";
  const std::string neural = dir.write("n.yaml", "name: neural\n" + base +
                                                      "backbone: {type: sasrec, hidden: 8, layers: 1, heads: 1, max_len: 6}\n"
                                                      "transfer: {type: scratch}\ntrain: {epochs: 3, batch_size: 8}\n");
  const std::string pop = dir.write("p.yaml", "name: pop\n" + base + "baseline: {type: pop}\n");
  ASSERT_EQ(xrec_cmd("run " + neural + " --db " + db).code, 0);
  ASSERT_EQ(xrec_cmd("run " + pop + " --db " + db).code, 0);
  EXPECT_EQ(one_value(db, "SELECT count(*) FROM case_ranks WHERE run_id = 2 AND split = 'test'"), "40");
  auto r = xrec_cmd("compare 2 1 --metric hr@10 --db " + db);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("hr@10 on test, 40 paired cases"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("paired t-test"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Wilcoxon signed-rank"), std::string::npos) << r.output;
  auto j = xrec_cmd("compare 2 1 --metric mrr --json --db " + db);
  ASSERT_EQ(j.code, 0) << j.output;
  EXPECT_NE(j.output.find("\"cases\":40"), std::string::npos) << j.output;
  // The same value as SQL over the stored ranks.
  EXPECT_EQ(one_value(db, "SELECT round(avg(rank < 10), 6) FROM case_ranks WHERE run_id = 2 AND split = 'test'"),
            one_value(db, "SELECT round(value, 6) FROM final_metrics WHERE run_id = 2 AND split = 'test' AND key = 'hr@10'"));
  EXPECT_EQ(xrec_cmd("compare 1 --db " + db).code, 2);
  EXPECT_EQ(xrec_cmd("compare 1 x --db " + db).code, 2);
  EXPECT_EQ(xrec_cmd("compare 1 2 --metric map@10 --db " + db).code, 2);
  auto missing = xrec_cmd("compare 1 7 --db " + db);
  EXPECT_EQ(missing.code, 2);
  // A run that does not exist is named as such, not as a run without ranks (issue 12, item 15).
  EXPECT_NE(missing.output.find("no run 7 in"), std::string::npos) << missing.output;
  EXPECT_EQ(missing.output.find("per-case ranks"), std::string::npos) << missing.output;
}
