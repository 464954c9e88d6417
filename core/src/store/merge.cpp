// The run store: folding shard stores (one per Slurm array task, `xrec merge`) into this one.
// Rows are copied column by column over the columns both files have (so a shard written by a build with
// an extra column still merges), run and sweep ids are remapped, and a run already merged (same host,
// pid, start time and config hash) is recognised, so merging a shard twice adds nothing. Everything
// happens in one transaction: a bad shard leaves this store untouched.
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "internal.hpp"
#include "xrec/store.hpp"

namespace xrec {

using namespace store_detail;

namespace {

struct ValueFree {
  void operator()(sqlite3_value* v) const { sqlite3_value_free(v); }
};
using Value = std::unique_ptr<sqlite3_value, ValueFree>;
using Row = std::map<std::string, Value>;

std::vector<std::string> table_columns(sqlite3* db, const std::string& table) {
  Finalizer q;
  std::vector<std::string> out;
  if (sqlite3_prepare_v2(db, ("PRAGMA table_info(" + table + ")").c_str(), -1, &q.stmt, nullptr) != SQLITE_OK)
    return out;
  while (sqlite3_step(q.stmt) == SQLITE_ROW) out.push_back(column_text(q.stmt, 1));
  return out;
}

}  // namespace

MergeReport Store::merge(const std::vector<std::string>& shard_paths) {
  if (read_only_) throw InputError("merge: the store " + path_ + " is open read-only");
  namespace fs = std::filesystem;
  // Open (and so check) every shard before anything is written.
  std::vector<std::unique_ptr<Store>> shards;
  std::set<std::string> seen;
  std::error_code ec;
  const fs::path self = fs::weakly_canonical(path_, ec);
  for (const auto& p : shard_paths) {
    const fs::path canon = fs::weakly_canonical(p, ec);
    if (canon == self) throw InputError("merge: " + p + " is the main store itself (--db); pass the shards only");
    if (!seen.insert(canon.string()).second) continue;
    if (!fs::is_regular_file(p, ec)) throw InputError("merge: no shard store at " + p);
    auto shard = std::make_unique<Store>(p, /*read_only=*/true);
    if (shard->schema_version() != latest_schema_version())
      throw InputError("merge: shard " + p + " has schema version " + std::to_string(shard->schema_version()) +
                       ", this store " + std::to_string(latest_schema_version()) +
                       "; open it once with this xrec (`xrec runs --db " + p + "`) to migrate it, then merge");
    shards.push_back(std::move(shard));
  }

  MergeReport report;
  auto fail = [&](const std::string& what) { fail_sqlite("merge: " + what); };
  Transaction tx(db_, fail, write_patience_ms_);
  for (auto& shard : shards) {
    const std::string& spath = shard->path();
    sqlite3* src = shard->db_;
    auto sfail = [&](const std::string& what) {
      throw Error("merge: shard " + spath + ": " + what + ": " + sqlite3_errmsg(src));
    };
    // Reads every row of `sql` on the shard as column -> value.
    auto read_rows = [&](const std::string& sql, int64_t bind = 0) {
      Finalizer q;
      std::vector<Row> rows;
      if (sqlite3_prepare_v2(src, sql.c_str(), -1, &q.stmt, nullptr) != SQLITE_OK) sfail("reading");
      if (bind) sqlite3_bind_int64(q.stmt, 1, bind);
      int rc;
      while ((rc = sqlite3_step(q.stmt)) == SQLITE_ROW) {
        Row row;
        for (int i = 0; i < sqlite3_column_count(q.stmt); ++i)
          row[sqlite3_column_name(q.stmt, i)] = Value(sqlite3_value_dup(sqlite3_column_value(q.stmt, i)));
        rows.push_back(std::move(row));
      }
      if (rc != SQLITE_DONE) sfail("reading");
      return rows;
    };
    // Inserts `row` into `table` over the columns both stores have, minus `skip`, with `set` replacing
    // values (remapped ids). Returns the new rowid.
    auto insert = [&](const std::string& table, const Row& row, const std::set<std::string>& skip,
                      const std::map<std::string, std::optional<int64_t>>& set, bool or_ignore) {
      const auto main_cols = table_columns(db_, table);
      std::vector<std::string> cols;
      for (const auto& c : main_cols)
        if (!skip.count(c) && (row.count(c) || set.count(c))) cols.push_back(c);
      std::string sql = std::string("INSERT ") + (or_ignore ? "OR IGNORE " : "") + "INTO " + table + " (";
      for (size_t i = 0; i < cols.size(); ++i) sql += (i ? ", \"" : "\"") + cols[i] + "\"";
      sql += ") VALUES (";
      for (size_t i = 0; i < cols.size(); ++i) sql += i ? ", ?" : "?";
      sql += ")";
      Finalizer s;
      if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s.stmt, nullptr) != SQLITE_OK) fail("preparing " + table);
      for (size_t i = 0; i < cols.size(); ++i) {
        const int at = static_cast<int>(i) + 1;
        if (auto it = set.find(cols[i]); it != set.end()) {
          if (it->second)
            sqlite3_bind_int64(s.stmt, at, *it->second);
          else
            sqlite3_bind_null(s.stmt, at);
        } else {
          sqlite3_bind_value(s.stmt, at, row.at(cols[i]).get());
        }
      }
      if (sqlite3_step(s.stmt) != SQLITE_DONE) fail("copying a row of " + table + " from " + spath);
      return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
    };
    auto text = [](const Row& row, const std::string& c) {
      auto it = row.find(c);
      const unsigned char* t = it == row.end() ? nullptr : sqlite3_value_text(it->second.get());
      return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
    };
    auto integer = [](const Row& row, const std::string& c) -> std::optional<int64_t> {
      auto it = row.find(c);
      if (it == row.end() || sqlite3_value_type(it->second.get()) == SQLITE_NULL) return std::nullopt;
      return sqlite3_value_int64(it->second.get());
    };
    // One value from the main store.
    auto lookup = [&](const std::string& sql, const std::vector<std::string>& binds) -> std::optional<int64_t> {
      Finalizer q;
      if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &q.stmt, nullptr) != SQLITE_OK) fail("looking up");
      for (size_t i = 0; i < binds.size(); ++i) bind_text(q.stmt, static_cast<int>(i) + 1, binds[i]);
      int rc = sqlite3_step(q.stmt);
      if (rc == SQLITE_DONE || sqlite3_column_type(q.stmt, 0) == SQLITE_NULL) return std::nullopt;
      if (rc != SQLITE_ROW) fail("looking up");
      return sqlite3_column_int64(q.stmt, 0);
    };

    // 1. Sweeps: the same name is the same sweep (as for `xrec sweep` resume).
    std::map<int64_t, int64_t> sweep_map;
    for (auto& row : read_rows("SELECT * FROM sweeps ORDER BY id")) {
      const int64_t old = *integer(row, "id");
      if (auto id = lookup("SELECT id FROM sweeps WHERE name = ? ORDER BY id DESC LIMIT 1", {text(row, "name")})) {
        sweep_map[old] = *id;
        continue;
      }
      // No driver holds the merged copy; a shard still 'running' was cut off.
      std::map<std::string, std::optional<int64_t>> set{{"driver_pid", std::nullopt}};
      const int64_t id = insert("sweeps", row, {"id", "driver_pid"}, set, false);
      if (text(row, "status") == "running") {
        Finalizer u;
        sqlite3_prepare_v2(db_, "UPDATE sweeps SET status = 'interrupted' WHERE id = ?", -1, &u.stmt, nullptr);
        sqlite3_bind_int64(u.stmt, 1, id);
        if (sqlite3_step(u.stmt) != SQLITE_DONE) fail("closing a merged sweep");
      }
      sweep_map[old] = id;
      ++report.sweeps_added;
    }
    auto map_sweep = [&](std::optional<int64_t> old) -> std::optional<int64_t> {
      if (!old || !sweep_map.count(*old)) return std::nullopt;
      return sweep_map[*old];
    };

    // 2. Runs, identified across stores by (host, pid, started_at, config_hash).
    std::map<int64_t, int64_t> run_map;
    static const char* kChildren[] = {"params", "metrics", "final_metrics", "plugins", "artifacts", "case_ranks"};
    for (auto& row : read_rows("SELECT * FROM runs ORDER BY id")) {
      const int64_t old = *integer(row, "id");
      const std::string status = text(row, "status");
      bool copy_children = true;
      if (auto id = lookup("SELECT id FROM runs WHERE host = ? AND pid = ? AND started_at = ? AND config_hash = ?",
                           {text(row, "host"), std::to_string(integer(row, "pid").value_or(0)),
                            text(row, "started_at"), text(row, "config_hash")})) {
        run_map[old] = *id;
        // Merged while it still ran: take its end now (children below are added, never duplicated).
        auto main_status = lookup("SELECT status = 'running' FROM runs WHERE id = ?", {std::to_string(*id)});
        copy_children = main_status && *main_status == 1 && status != "running";
        if (copy_children) {
          Finalizer u;
          sqlite3_prepare_v2(db_, "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?", -1, &u.stmt,
                             nullptr);
          sqlite3_bind_value(u.stmt, 1, row.at("status").get());
          sqlite3_bind_value(u.stmt, 2, row.at("ended_at").get());
          sqlite3_bind_value(u.stmt, 3, row.at("error").get());
          sqlite3_bind_int64(u.stmt, 4, *id);
          if (sqlite3_step(u.stmt) != SQLITE_DONE) fail("updating a merged run");
          ++report.runs_updated;
        } else {
          ++report.runs_skipped;
        }
      } else {
        run_map[old] = insert("runs", row, {"id"}, {{"sweep_id", map_sweep(integer(row, "sweep_id"))}}, false);
        ++report.runs_added;
      }
      if (!copy_children) continue;
      for (const char* table : kChildren) {
        if (table_columns(src, table).empty()) continue;
        for (auto& child : read_rows(std::string("SELECT * FROM ") + table + " WHERE run_id = ?", old))
          insert(table, child, {}, {{"run_id", run_map[old]}}, /*or_ignore=*/true);
      }
    }

    // 3. Trials: the row with more attempts wins (a re-run task's shard holds every attempt of its trial).
    for (auto& row : read_rows("SELECT * FROM trials")) {
      auto sweep = map_sweep(integer(row, "sweep_id"));
      if (!sweep) continue;
      const std::string key = text(row, "trial_key");
      std::optional<int64_t> run;
      if (auto r = integer(row, "run_id"); r && run_map.count(*r)) run = run_map[*r];
      auto attempts = lookup("SELECT attempts FROM trials WHERE sweep_id = ? AND trial_key = ?",
                             {std::to_string(*sweep), key});
      if (attempts && *attempts >= integer(row, "attempts").value_or(0)) continue;
      if (attempts) {
        Finalizer d;
        sqlite3_prepare_v2(db_, "DELETE FROM trials WHERE sweep_id = ? AND trial_key = ?", -1, &d.stmt, nullptr);
        sqlite3_bind_int64(d.stmt, 1, *sweep);
        bind_text(d.stmt, 2, key);
        if (sqlite3_step(d.stmt) != SQLITE_DONE) fail("replacing a trial");
        ++report.trials_updated;
      } else {
        ++report.trials_added;
      }
      // A merged trial has no live process here.
      insert("trials", row, {"pid"}, {{"sweep_id", sweep}, {"run_id", run}}, false);
    }
    ++report.shards;
  }
  tx.commit(fail);
  return report;
}

}  // namespace xrec
