// The leaderboard: one row per point, mean and sample std over finished seeds, best first.
#include "xrec/sweep/leaderboard.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "support/temp_dir.hpp"
#include "xrec/sha256.hpp"

using namespace xrec;
using namespace xrec::sweep;

TEST(SweepLeaderboard, StatIsMeanAndSampleStd) {
  Stat s = stat_of({1.0, 2.0, 3.0});
  EXPECT_EQ(s.n, 3);
  EXPECT_DOUBLE_EQ(s.mean, 2.0);
  EXPECT_DOUBLE_EQ(s.std, 1.0);
  EXPECT_DOUBLE_EQ(stat_of({5.0}).std, 0.0);
  EXPECT_EQ(stat_of({}).n, 0);
}

TEST(SweepLeaderboard, RowsPerPointBestFirstAndTheViewsAgree) {
  xrec::test::TempDir dir("board");
  Store store(dir.file("x.db"));
  const int64_t sweep = store.open_sweep("b", "spec", "base", "hash", "ndcg@10", true);
  // Point 0: valid 0.2, 0.4 (test 0.1, 0.3); point 1: valid 0.5 and one failed seed; point 2: failed only.
  struct T {
    int64_t point;
    int64_t seed;
    const char* status;
    double valid, test;
  };
  std::vector<T> spec = {{0, 1, "finished", 0.2, 0.1},
                         {0, 2, "finished", 0.4, 0.3},
                         {1, 1, "finished", 0.5, 0.45},
                         {1, 2, "failed", 0, 0},
                         {2, 1, "failed", 0, 0}};
  std::vector<TrialRecord> records;
  for (auto& t : spec) {
    TrialRecord r;
    r.point = t.point;
    r.point_label = "p" + std::to_string(t.point);
    r.seed = t.seed;
    r.config_hash = "c" + std::to_string(t.point) + std::to_string(t.seed);
    r.plugins_sha = "p";
    r.key = sha256_hex(r.config_hash);
    records.push_back(r);
  }
  store.add_trials(sweep, records);
  for (size_t i = 0; i < spec.size(); ++i) {
    RunInfo info;
    info.name = "r";
    info.sweep_id = sweep;
    info.config_yaml = "x";
    info.config_hash = records[i].config_hash;
    info.device = "cpu";
    info.select_metric = "ndcg@10";
    const int64_t run = store.begin_run(info, {});
    store.trial_started(sweep, records[i].key, 1);
    store.trial_run(sweep, records[i].key, run);
    if (std::string(spec[i].status) == "finished") {
      store.log_final(run, "valid", "ndcg@10", spec[i].valid);
      store.log_final(run, "test", "ndcg@10", spec[i].test);
      store.log_final(run, "test", "hr@10", 2 * spec[i].test);
      store.finish_run(run, RunStatus::Finished);
      store.trial_ended(sweep, records[i].key, RunStatus::Finished);
    } else {
      store.finish_run(run, RunStatus::Failed, "boom");
      store.trial_ended(sweep, records[i].key, RunStatus::Failed, "boom");
    }
  }
  auto rec = store.find_sweep("b");
  ASSERT_TRUE(rec);
  EXPECT_EQ(store.find_sweep(std::to_string(sweep))->name, "b");
  Leaderboard board = leaderboard(store, *rec);
  ASSERT_EQ(board.rows.size(), 3u);
  EXPECT_EQ(board.test_keys, (std::vector<std::string>{"hr@10", "ndcg@10"}));
  EXPECT_EQ(board.rows[0].point, 1);  // 0.5 beats 0.3
  EXPECT_EQ(board.rows[0].finished, 1);
  EXPECT_EQ(board.rows[0].failed, 1);
  EXPECT_EQ(board.rows[1].point, 0);
  EXPECT_DOUBLE_EQ(board.rows[1].valid.mean, 0.3);
  EXPECT_NEAR(board.rows[1].valid.std, std::sqrt(0.02), 1e-12);
  EXPECT_DOUBLE_EQ(board.rows[1].test[1].second.mean, 0.2);  // ndcg@10
  EXPECT_DOUBLE_EQ(board.rows[1].test[0].second.mean, 0.4);  // hr@10
  EXPECT_EQ(board.rows[2].point, 2);
  EXPECT_EQ(board.rows[2].valid.n, 0);

  QueryResult text = leaderboard_table(board, true);
  EXPECT_EQ(text.columns, (std::vector<std::string>{"rank", "point", "label", "finished", "failed", "valid ndcg@10",
                                                    "test hr@10", "test ndcg@10"}));
  EXPECT_EQ(text.rows[1][5].value_or(""), "0.3000 ± 0.1414");
  EXPECT_EQ(text.rows[1][3].value_or(""), "2/2");
  EXPECT_EQ(text.rows[2][0].value_or(""), "-");  // no rank without a value
  EXPECT_FALSE(leaderboard_table(board, false).rows[2][0].has_value());
  QueryResult csv = leaderboard_table(board, false, {"ndcg@10"});
  EXPECT_EQ(csv.columns.back(), "test_ndcg@10_std");
  EXPECT_EQ(csv.columns.size(), 9u);
  EXPECT_EQ(default_test_keys(board), (std::vector<std::string>{"ndcg@10", "hr@10"}));

  // The store's views give the same numbers in one SELECT.
  auto v = store.query(
      "SELECT finished, failed, valid_mean, round(valid_std, 6), test_mean FROM sweep_points"
      " WHERE point = 0");
  ASSERT_EQ(v.rows.size(), 1u);
  EXPECT_EQ(v.rows[0][0].value_or(""), "2");
  EXPECT_EQ(v.rows[0][1].value_or(""), "0");
  EXPECT_NEAR(std::stod(*v.rows[0][2]), 0.3, 1e-12);
  EXPECT_EQ(v.rows[0][3].value_or(""), "0.141421");
  EXPECT_NEAR(std::stod(*v.rows[0][4]), 0.2, 1e-12);
  auto t = store.query("SELECT count(*), sum(status = 'failed') FROM sweep_trials WHERE sweep = 'b'");
  EXPECT_EQ(t.rows[0][0].value_or(""), "5");
  EXPECT_EQ(t.rows[0][1].value_or(""), "2");
}
