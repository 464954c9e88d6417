// `xrec data` and the data layer end to end: every plugin's smoke config, statistics on real data, named
// datasets, conversion to atomic files and back.
#include <gtest/gtest.h>

#include "harness.hpp"

using namespace xrec::test;

namespace {
const std::string kSource = XREC_TEST_SOURCE_DIR;
const bool kHaveData = fs::exists(fs::path(XREC_TEST_SHARED_DATA) / "README.md");

}  // namespace

TEST(DataE2E, EveryPluginSmokeConfigRuns) {
  TempDir dir("smoke");
  int ran = 0;
  for (auto& kind : fs::directory_iterator(fs::path(kSource) / "plugins")) {
    if (!kind.is_directory()) continue;
    for (auto& plugin : fs::directory_iterator(kind.path())) {
      const fs::path smoke = plugin.path() / "smoke.yaml";
      if (!fs::exists(smoke)) continue;
      auto r = xrec_cmd("run '" + smoke.string() + "' train.epochs=1 --db '" + dir.file("xrec.db") + "'",
                        "XREC_DATA='" + std::string(XREC_TEST_SHARED_DATA) + "' XREC_CACHE='" + dir.file("cache") + "'",
                        kSource);
      if (r.code != 0 && !kHaveData && r.output.find("not found; looked in") != std::string::npos) {
        std::cout << "[ SKIPPED ] " << smoke << ": needs ../shared/data\n";
        continue;
      }
      EXPECT_EQ(r.code, 0) << smoke << "\n" << r.output;
      ++ran;
    }
  }
  EXPECT_GE(ran, kHaveData ? 8 : 3);
}

// Every experiment config shipped under configs/ (not the base/ fragments they include) validates against
// the schema and every plugin's specs, and its data loads: a renamed key or a moved file fails here, not in
// the middle of an hour-long reproduction.
TEST(DataE2E, EveryShippedConfigValidatesAndLoads) {
  if (!kHaveData) GTEST_SKIP() << "real data not found at " << XREC_TEST_SHARED_DATA;
  TempDir dir("configs");
  int checked = 0;
  for (auto& e : fs::recursive_directory_iterator(fs::path(kSource) / "configs")) {
    const fs::path p = e.path();
    if (!e.is_regular_file() || p.extension() != ".yaml") continue;
    if (p.parent_path().filename() == "base") continue;
    if (p.filename() == "catalog.yaml") continue;  // the dataset catalog, not an experiment
    const std::string env =
        "XREC_DATA='" + std::string(XREC_TEST_SHARED_DATA) + "' XREC_CACHE='" + dir.file("cache") + "'";
    // A sweep spec (it has `base:`; under configs/sweeps/ or a study's configs/<method>/) plans every trial with
    // `xrec sweep --dry-run`; the other files under configs/sweeps/ are the bases the specs complete with a
    // method, so only their data is checked.
    const bool sweeps = p.parent_path().filename() == "sweeps";
    std::ifstream in(p);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const bool spec = text.rfind("base:", 0) == 0 || text.find("\nbase:") != std::string::npos;
    if (spec) {
      auto plan = xrec_cmd("sweep '" + p.string() + "' --dry-run --db '" + dir.file("xrec.db") + "'", env, kSource);
      EXPECT_EQ(plan.code, 0) << p << "\n" << plan.output;
      ++checked;
      continue;
    }
    if (!sweeps) {
      auto check = xrec_cmd("run '" + p.string() + "' --check --db '" + dir.file("xrec.db") + "'", env, kSource);
      EXPECT_EQ(check.code, 0) << p << "\n" << check.output;
    }
    auto r = xrec_cmd("data stats '" + p.string() + "'", env, kSource);
    EXPECT_EQ(r.code, 0) << p << "\n" << r.output;
    ++checked;
  }
  EXPECT_GE(checked, 10);  // the quickstart and the reproductions
  EXPECT_FALSE(fs::exists(dir.file("xrec.db"))) << "run --check must not touch the store";
}

// `xrec data` reads past the model's sections: their plugins need not exist. `xrec run --check` does not.
TEST(DataE2E, DataCommandsNeedOnlyTheDataSections) {
  TempDir dir("dataonly");
  const std::string data = dir.write("seq.txt", successor_dataset(25, 15, 7));
  const std::string cfg = dir.write("c.yaml", "data: {target: {type: user_sequences, path: " + data +
                                                  "}}\nbackbone: {type: not_installed, width: 3}\ntransfer: {type: scratch}\n");
  auto stats = xrec_cmd("data stats '" + cfg + "' --json");
  EXPECT_EQ(stats.code, 0) << stats.output;
  EXPECT_NE(stats.output.find("\"users\":25,"), std::string::npos) << stats.output;
  auto check = xrec_cmd("run '" + cfg + "' --check --db '" + dir.file("xrec.db") + "'");
  EXPECT_EQ(check.code, 2) << check.output;
  EXPECT_NE(check.output.find("unknown backbone 'not_installed'"), std::string::npos) << check.output;
  EXPECT_FALSE(fs::exists(dir.file("xrec.db")));
}

TEST(DataE2E, StatsOfTheQuickstartMatchTheDataReadme) {
  if (!kHaveData) GTEST_SKIP() << "real data not found at " << XREC_TEST_SHARED_DATA;
  TempDir dir("stats");
  auto r = xrec_cmd("data stats '" + kSource + "/configs/quickstart.yaml' --json",
                    "XREC_DATA='" + std::string(XREC_TEST_SHARED_DATA) + "' XREC_CACHE='" + dir.file("cache") + "'");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* n : {"22363", "12101", "198502"}) EXPECT_NE(r.output.find(n), std::string::npos) << n << r.output;
}

TEST(DataE2E, NamedDatasetsExpandFromTheCatalog) {
  if (!kHaveData) GTEST_SKIP() << "real data not found at " << XREC_TEST_SHARED_DATA;
  TempDir dir("named");
  const std::string cfg = dir.write("named.yaml", "data:\n  target: lastfm\n  sources: [ml-100k]\n");
  auto r = xrec_cmd("data stats '" + cfg + "'",
                    "XREC_DATA='" + std::string(XREC_TEST_SHARED_DATA) + "' XREC_CACHE='" + dir.file("cache") + "'");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* n : {"1090", "3646", "52551", "943", "1682", "100000"})
    EXPECT_NE(r.output.find(n), std::string::npos) << n << "\n" << r.output;
  auto bad = xrec_cmd("data stats '" + dir.write("bad.yaml", "data:\n  target: beuaty\n") + "'");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("beauty"), std::string::npos) << bad.output;  // did you mean
}

TEST(DataE2E, ConvertWritesAtomicFilesThatReadBackTheSame) {
  TempDir dir("convert");
  const std::string data = dir.write("seq.txt", successor_dataset(25, 15, 7));
  const std::string cfg = dir.write("c.yaml", "data: {target: {type: user_sequences, path: " + data + ", name: Seq}}\n");
  auto c = xrec_cmd("data convert '" + cfg + "' --out '" + dir.file("atomic") + "'");
  ASSERT_EQ(c.code, 0) << c.output;
  ASSERT_TRUE(fs::exists(dir.file("atomic/Seq/Seq.inter"))) << c.output;
  const std::string back = dir.write("back.yaml", "data: {target: {type: atomic, path: " + dir.file("atomic/Seq") + "}}\n");
  auto a = xrec_cmd("data stats '" + cfg + "' --json");
  auto b = xrec_cmd("data stats '" + back + "' --json");
  ASSERT_EQ(a.code, 0) << a.output;
  ASSERT_EQ(b.code, 0) << b.output;
  for (const char* key : {"\"users\":25,", "\"items\":15,", "\"interactions\":175,"}) {
    EXPECT_NE(a.output.find(key), std::string::npos) << key << a.output;
    EXPECT_NE(b.output.find(key), std::string::npos) << key << b.output;
  }
}

TEST(DataE2E, SelectionMetricMustBeComputed) {
  TempDir dir("select");
  const std::string data = dir.write("seq.txt", successor_dataset(10, 10, 5));
  const std::string cfg = dir.write(
      "c.yaml", "data: {target: {type: user_sequences, path: " + data +
                    "}}\nbackbone: {type: sasrec, hidden: 8, layers: 1, heads: 1, max_len: 5}\ntransfer: {type: scratch}\n"
                    "eval: {ks: [5]}\n");
  auto r = xrec_cmd("run '" + cfg + "' --db '" + dir.file("xrec.db") + "'");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("ndcg@10"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ndcg@5"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("xrec.db")));
}
