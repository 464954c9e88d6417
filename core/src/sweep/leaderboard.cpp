#include "xrec/sweep/leaderboard.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace xrec::sweep {

Stat stat_of(const std::vector<double>& values) {
  Stat s;
  s.n = static_cast<int>(values.size());
  if (values.empty()) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / s.n;
  if (s.n > 1) {
    double sq = 0;
    for (double v : values) sq += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(sq / (s.n - 1));
  }
  return s;
}

Leaderboard leaderboard(const Store& store, const SweepRecord& sweep) {
  Leaderboard board;
  board.sweep = sweep;
  std::string metric;
  for (char ch : sweep.select_metric) metric += ch == '\'' ? std::string("''") : std::string(1, ch);
  const std::string id = std::to_string(sweep.id);
  auto trials = store.query("SELECT point, point_label, status, run_id FROM trials WHERE sweep_id = " + id +
                            " AND current = 1 ORDER BY point, seed");
  auto values = store.query(
      "SELECT t.point, f.split, f.key, f.value FROM trials AS t JOIN final_metrics AS f ON f.run_id = t.run_id"
      " WHERE t.sweep_id = " +
      id +
      " AND t.current = 1 AND t.status = 'finished' AND f.value IS NOT NULL AND"
      " ((f.split = 'valid' AND f.key = '" +
      metric +
      "') OR f.split = 'test')"
      " ORDER BY t.point, f.key");
  std::map<int64_t, LeaderRow> rows;
  for (const auto& r : trials.rows) {
    LeaderRow& row = rows[std::stoll(*r[0])];
    row.point = std::stoll(*r[0]);
    row.label = r[1].value_or("");
    ++row.trials;
    const std::string status = r[2].value_or("");
    row.finished += status == "finished";
    row.failed += status == "failed";
    row.running += status == "running";
  }
  std::map<int64_t, std::vector<double>> valid;
  std::map<int64_t, std::map<std::string, std::vector<double>>> test;
  std::set<std::string> keys;
  for (const auto& r : values.rows) {
    const int64_t point = std::stoll(*r[0]);
    const double v = std::stod(*r[3]);
    if (*r[1] == "valid") {
      valid[point].push_back(v);
    } else {
      test[point][*r[2]].push_back(v);
      keys.insert(*r[2]);
    }
  }
  board.test_keys.assign(keys.begin(), keys.end());
  for (auto& [point, row] : rows) {
    row.valid = stat_of(valid[point]);
    for (const auto& k : board.test_keys) row.test.emplace_back(k, stat_of(test[point][k]));
    board.rows.push_back(row);
  }
  const bool higher = sweep.select_higher_is_better;
  std::stable_sort(board.rows.begin(), board.rows.end(), [&](const LeaderRow& a, const LeaderRow& b) {
    if ((a.valid.n > 0) != (b.valid.n > 0)) return a.valid.n > 0;
    if (a.valid.n == 0) return a.point < b.point;
    return higher ? a.valid.mean > b.valid.mean : a.valid.mean < b.valid.mean;
  });
  return board;
}

namespace {
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}
std::string real(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}
}  // namespace

std::vector<std::string> default_test_keys(const Leaderboard& board) {
  const std::string& m = board.sweep.select_metric;
  const size_t at = m.find('@');
  std::vector<std::string> wanted{m};
  if (at != std::string::npos)
    for (const char* name : {"hr", "ndcg", "mrr"}) wanted.push_back(name + m.substr(at));
  std::vector<std::string> out;
  for (const auto& k : wanted)
    if (std::find(board.test_keys.begin(), board.test_keys.end(), k) != board.test_keys.end() &&
        std::find(out.begin(), out.end(), k) == out.end())
      out.push_back(k);
  return out;
}

QueryResult leaderboard_table(const Leaderboard& board, bool combined, const std::vector<std::string>& keys) {
  QueryResult t;
  auto shown = [&](const std::string& k) {
    return keys.empty() || std::find(keys.begin(), keys.end(), k) != keys.end();
  };
  const std::string m = board.sweep.select_metric;
  t.columns = {"rank", "point", "label", "finished", "failed"};
  if (combined) {
    t.columns.push_back("valid " + m);
    for (auto& k : board.test_keys)
      if (shown(k)) t.columns.push_back("test " + k);
  } else {
    t.columns.push_back("valid_" + m + "_mean");
    t.columns.push_back("valid_" + m + "_std");
    for (auto& k : board.test_keys) {
      if (!shown(k)) continue;
      t.columns.push_back("test_" + k + "_mean");
      t.columns.push_back("test_" + k + "_std");
    }
  }
  int rank = 0;
  for (const auto& row : board.rows) {
    std::vector<std::optional<std::string>> cells;
    std::vector<SqlType> types;
    auto add = [&](std::optional<std::string> v, SqlType type) {
      if (combined && !v) v = "-";  // for the eye; CSV and JSON keep NULL
      types.push_back(v ? type : SqlType::Null);
      cells.push_back(std::move(v));
    };
    add(row.valid.n > 0 ? std::optional<std::string>(std::to_string(++rank)) : std::nullopt, SqlType::Integer);
    add(std::to_string(row.point), SqlType::Integer);
    add(row.label, SqlType::Text);
    add(std::to_string(row.finished) + (combined ? "/" + std::to_string(row.trials) : ""),
        combined ? SqlType::Text : SqlType::Integer);
    add(std::to_string(row.failed), SqlType::Integer);
    auto stat = [&](const Stat& s) {
      if (combined) {
        add(s.n == 0 ? std::nullopt : std::optional<std::string>(num(s.mean) + (s.n > 1 ? " ± " + num(s.std) : "")),
            SqlType::Text);
      } else {
        add(s.n ? std::optional<std::string>(real(s.mean)) : std::nullopt, SqlType::Real);
        add(s.n > 1 ? std::optional<std::string>(real(s.std)) : std::nullopt, SqlType::Real);
      }
    };
    stat(row.valid);
    for (auto& [k, s] : row.test)
      if (shown(k)) stat(s);
    t.rows.push_back(std::move(cells));
    t.types.push_back(std::move(types));
  }
  return t;
}

}  // namespace xrec::sweep
