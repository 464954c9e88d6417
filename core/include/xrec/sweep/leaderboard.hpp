#pragma once
// The leaderboard of a sweep: one row per point, mean and sample std over its finished seeds of the
// select metric on validation and of every test metric, with trials finished / failed.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xrec/store.hpp"

namespace xrec::sweep {

struct Stat {
  int n = 0;
  double mean = 0, std = 0;  // std: sample (n - 1); 0 below two values
};

struct LeaderRow {
  int64_t point = 0;
  std::string label;
  int trials = 0, finished = 0, failed = 0, running = 0;
  Stat valid;                                      // the select metric on validation
  std::vector<std::pair<std::string, Stat>> test;  // every test metric, by key
};

struct Leaderboard {
  SweepRecord sweep;
  std::vector<std::string> test_keys;  // sorted
  std::vector<LeaderRow> rows;         // best first (select mode), points without a value last
};

Stat stat_of(const std::vector<double>& values);
Leaderboard leaderboard(const Store& store, const SweepRecord& sweep);
// The leaderboard as a table: text cells "0.1234 ± 0.0056" when `combined`, else mean and std columns.
// `test_keys` picks the test metrics shown (empty = all).
QueryResult leaderboard_table(const Leaderboard& board, bool combined, const std::vector<std::string>& test_keys = {});
// The test metrics a terminal shows by default: the select metric and hr / ndcg / mrr at its cut-off.
std::vector<std::string> default_test_keys(const Leaderboard& board);

}  // namespace xrec::sweep
