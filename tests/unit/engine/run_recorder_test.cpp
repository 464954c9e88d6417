#include "xrec/engine/run_recorder.hpp"

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"
#include "xrec/api/errors.hpp"

namespace fs = std::filesystem;
using namespace xrec;
using namespace xrec::engine;

TEST(RunFolder, EachStoreHasItsOwnNamespaceBesideIt) {
  EXPECT_EQ(run_folder("/s/runs/xrec.db", 12), fs::path("/s/runs/xrec/12"));
  EXPECT_EQ(run_folder("/s/runs/other.db", 12), fs::path("/s/runs/other/12"));
  EXPECT_EQ(run_folder("/s/runs/store", 3), fs::path("/s/runs/store.runs/3"));  // never the store file itself
  EXPECT_EQ(run_folder("rel/x.sqlite", 1), fs::absolute("rel") / "x" / "1");
}

TEST(RunFolder, AnEmptyStorePathIsRefused) {
  EXPECT_THROW(check_db_path(""), InputError);
  EXPECT_NO_THROW(check_db_path("runs/xrec.db"));
}

TEST(RunRecorder, RecordsTheRowFolderArtifactsAndFinalMetrics) {
  xrec::test::TempDir dir("recorder");
  ResolvedConfig config;
  config.yaml = "name: r\n";
  config.flat = {{"name", "r"}};
  RunInfo info;
  info.name = "r";
  auto log = std::make_shared<spdlog::logger>("xrec");
  int64_t id = 0;
  {
    RunRecorder rec(dir.file("s.db"), info, config, log);
    id = rec.id();
    rec.open_folder(config.yaml);
    EXPECT_EQ(rec.dir(), fs::absolute(dir.file("s")) / "1");
    rec.record_result({{{"hr@10", 0.5}}, {{"hr@10", 0.25}}}, 1.5);
    rec.finish();
  }
  Store store(dir.file("s.db"), true);
  auto q = [&](const std::string& sql) { return *store.query(sql).rows.at(0).at(0); };
  EXPECT_EQ(q("SELECT status FROM runs WHERE id = " + std::to_string(id)), "finished");
  EXPECT_EQ(q("SELECT count(*) FROM artifacts WHERE kind IN ('config', 'log')"), "2");
  EXPECT_EQ(q("SELECT value FROM final_metrics WHERE split = 'test' AND key = 'hr@10'"), "0.25");
  EXPECT_EQ(q("SELECT value FROM final_metrics WHERE split = 'run' AND key = 'seconds'"), "1.5");
  EXPECT_TRUE(fs::exists(fs::path(dir.file("s")) / "1" / "config.yaml"));
}

TEST(RunRecorder, LeavingWithoutFinishClosesTheRunAsFailed) {
  xrec::test::TempDir dir("recorderfail");
  ResolvedConfig config;
  RunInfo info;
  info.name = "left";
  { RunRecorder rec(dir.file("s.db"), info, config, std::make_shared<spdlog::logger>("xrec")); }
  Store store(dir.file("s.db"), true);
  EXPECT_EQ(*store.query("SELECT status FROM runs").rows.at(0).at(0), "failed");
}
