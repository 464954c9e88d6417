// The run store: sweeps and their trials (`xrec sweep`), with the driver's liveness (pid + heartbeat).
#include <unistd.h>

#include <string>
#include <vector>

#include "internal.hpp"
#include "xrec/store.hpp"

namespace xrec {

using namespace store_detail;

namespace {
// A driver that has not written a heartbeat for this long is gone (another host, or a hung machine).
constexpr double kHeartbeatStaleSeconds = 120.0;
}  // namespace

int64_t Store::open_sweep(const std::string& name, const std::string& spec_yaml, const std::string& base_config_yaml,
                          const std::string& base_config_hash, const std::string& select_metric,
                          bool higher_is_better) {
  if (name.empty()) throw InputError("a sweep needs a name (--name)");
  auto fail = [&](const std::string& what) { fail_sqlite("open_sweep('" + name + "'): " + what); };
  const std::string host = this_host();
  Transaction tx(db_, fail, write_patience_ms_);
  int64_t id = 0;
  {
    sqlite3_stmt* s = statement(
        "SELECT id, status, driver_host, driver_pid,"
        " (julianday(heartbeat_at) - 2440587.5) * 86400.0,"
        " (julianday('now') - julianday(heartbeat_at)) * 86400.0"
        " FROM sweeps WHERE name = ? ORDER BY id DESC LIMIT 1");
    Reset reset{s};
    bind_text(s, 1, name);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      id = sqlite3_column_int64(s, 0);
      const std::string status = column_text(s, 1);
      if (status == "running" && sqlite3_column_type(s, 3) != SQLITE_NULL) {
        const std::string driver_host = column_text(s, 2);
        const int64_t pid = sqlite3_column_int64(s, 3);
        const double age = sqlite3_column_double(s, 5);
        const bool alive =
            age < kHeartbeatStaleSeconds &&
            (driver_host != host || (pid != getpid() && process_alive(pid, sqlite3_column_double(s, 4))));
        if (alive)
          throw InputError("sweep '" + name + "' (id " + std::to_string(id) + ") is being run by process " +
                           std::to_string(pid) + " on " + driver_host + " (heartbeat " +
                           std::to_string(static_cast<int>(age)) + " s ago); wait for it or stop it first");
      }
    } else if (rc != SQLITE_DONE) {
      fail("looking up the sweep");
    }
  }
  if (id == 0) {
    sqlite3_stmt* s = statement(
        "INSERT INTO sweeps (name, base_config_yaml, base_config_hash, spec_yaml, select_metric, select_mode,"
        " status, driver_host, driver_pid, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, " XREC_NOW_SQL ")");
    Reset reset{s};
    bind_text(s, 1, name);
    bind_text(s, 2, base_config_yaml);
    bind_text(s, 3, base_config_hash);
    bind_text(s, 4, spec_yaml);
    bind_text_or_null(s, 5, select_metric);
    bind_text(s, 6, higher_is_better ? "max" : "min");
    bind_text(s, 7, host);
    sqlite3_bind_int64(s, 8, getpid());
    if (sqlite3_step(s) != SQLITE_DONE) fail("inserting the sweep");
    id = sqlite3_last_insert_rowid(db_);
  } else {
    // The latest spec wins (a spec may grow: more seeds, more grid values); its trials keep their keys.
    sqlite3_stmt* s = statement(
        "UPDATE sweeps SET spec_yaml = ?, base_config_yaml = ?, base_config_hash = ?, select_metric = ?,"
        " select_mode = ?, status = 'running', ended_at = NULL, driver_host = ?, driver_pid = ?,"
        " heartbeat_at = " XREC_NOW_SQL " WHERE id = ?");
    Reset reset{s};
    bind_text(s, 1, spec_yaml);
    bind_text(s, 2, base_config_yaml);
    bind_text(s, 3, base_config_hash);
    bind_text_or_null(s, 4, select_metric);
    bind_text(s, 5, higher_is_better ? "max" : "min");
    bind_text(s, 6, host);
    sqlite3_bind_int64(s, 7, getpid());
    sqlite3_bind_int64(s, 8, id);
    if (sqlite3_step(s) != SQLITE_DONE) fail("taking over the sweep");
    // Trials left 'running' by a driver that is gone: re-queued as interrupted.
    sqlite3_stmt* t =
        statement("UPDATE trials SET status = 'interrupted', ended_at = " XREC_NOW_SQL
                  ", pid = NULL, error = 'the sweep driver vanished while the trial ran (noticed when the sweep was"
                  " opened again)' WHERE sweep_id = ? AND status = 'running'");
    Reset reset_t{t};
    sqlite3_bind_int64(t, 1, id);
    if (sqlite3_step(t) != SQLITE_DONE) fail("re-queueing vanished trials");
  }
  tx.commit(fail);
  return id;
}

std::optional<SweepRecord> Store::find_sweep(const std::string& name_or_id) const {
  Finalizer q;
  const char* sql =
      "SELECT id, name, status, created_at, coalesce(select_metric, ''), select_mode FROM sweeps"
      " WHERE name = ?1 OR CAST(id AS TEXT) = ?1 ORDER BY (name = ?1) DESC, id DESC LIMIT 1";
  if (sqlite3_prepare_v2(db_, sql, -1, &q.stmt, nullptr) != SQLITE_OK) fail_sqlite("looking up a sweep");
  bind_text(q.stmt, 1, name_or_id);
  int rc = sqlite3_step(q.stmt);
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) fail_sqlite("looking up sweep '" + name_or_id + "'");
  SweepRecord r;
  r.id = sqlite3_column_int64(q.stmt, 0);
  r.name = column_text(q.stmt, 1);
  r.status = column_text(q.stmt, 2);
  r.created_at = column_text(q.stmt, 3);
  r.select_metric = column_text(q.stmt, 4);
  r.select_higher_is_better = column_text(q.stmt, 5) != "min";
  return r;
}

void Store::sweep_heartbeat(int64_t sweep) {
  auto fail = [&](const std::string& what) { fail_sqlite("sweep_heartbeat(" + std::to_string(sweep) + "): " + what); };
  sqlite3_stmt* s = statement("UPDATE sweeps SET heartbeat_at = " XREC_NOW_SQL " WHERE id = ?");
  write_one(db_, s, write_patience_ms_, fail, [&] { sqlite3_bind_int64(s, 1, sweep); });
}

void Store::set_sweep_reference(int64_t sweep, const std::string& variant) {
  auto fail = [&](const std::string& what) { fail_sqlite("set_sweep_reference(" + std::to_string(sweep) + "): " + what); };
  sqlite3_stmt* s = statement("UPDATE sweeps SET reference = ? WHERE id = ?");
  write_one(db_, s, write_patience_ms_, fail, [&] {
    if (variant.empty())
      sqlite3_bind_null(s, 1);
    else
      bind_text(s, 1, variant);
    sqlite3_bind_int64(s, 2, sweep);
  });
}

void Store::close_sweep(int64_t sweep, RunStatus status) {
  auto fail = [&](const std::string& what) { fail_sqlite("close_sweep(" + std::to_string(sweep) + "): " + what); };
  sqlite3_stmt* s = statement("UPDATE sweeps SET status = ?, ended_at = " XREC_NOW_SQL
                              ", driver_pid = NULL, heartbeat_at = " XREC_NOW_SQL " WHERE id = ?");
  write_one(db_, s, write_patience_ms_, fail, [&] {
    bind_text(s, 1, to_string(status));
    sqlite3_bind_int64(s, 2, sweep);
  });
}

std::vector<TrialRecord> Store::trials(int64_t sweep) const {
  Finalizer q;
  const char* sql =
      "SELECT trial_key, point, point_label, seed, config_hash, plugins_sha, plugins, status, run_id, attempts,"
      " coalesce(error, '') FROM trials WHERE sweep_id = ? ORDER BY point, seed, trial_key";
  if (sqlite3_prepare_v2(db_, sql, -1, &q.stmt, nullptr) != SQLITE_OK) fail_sqlite("reading trials");
  sqlite3_bind_int64(q.stmt, 1, sweep);
  std::vector<TrialRecord> out;
  int rc;
  while ((rc = sqlite3_step(q.stmt)) == SQLITE_ROW) {
    TrialRecord t;
    t.key = column_text(q.stmt, 0);
    t.point = sqlite3_column_int64(q.stmt, 1);
    t.point_label = column_text(q.stmt, 2);
    t.seed = sqlite3_column_int64(q.stmt, 3);
    t.config_hash = column_text(q.stmt, 4);
    t.plugins_sha = column_text(q.stmt, 5);
    t.plugins = column_text(q.stmt, 6);
    t.status = column_text(q.stmt, 7);
    if (sqlite3_column_type(q.stmt, 8) != SQLITE_NULL) t.run_id = sqlite3_column_int64(q.stmt, 8);
    t.attempts = sqlite3_column_int64(q.stmt, 9);
    t.error = column_text(q.stmt, 10);
    out.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) fail_sqlite("reading the trials of sweep " + std::to_string(sweep));
  return out;
}

int Store::add_trials(int64_t sweep, const std::vector<TrialRecord>& trials) {
  auto fail = [&](const std::string& what) { fail_sqlite("add_trials(sweep " + std::to_string(sweep) + "): " + what); };
  Transaction tx(db_, fail, write_patience_ms_);
  // The given trials are the sweep's current spec; the others stay, marked as from an earlier spec.
  sqlite3_stmt* old = statement("UPDATE trials SET current = 0 WHERE sweep_id = ?");
  {
    Reset reset{old};
    sqlite3_bind_int64(old, 1, sweep);
    if (sqlite3_step(old) != SQLITE_DONE) fail("marking earlier trials");
  }
  sqlite3_stmt* exists = statement("SELECT 1 FROM trials WHERE sweep_id = ? AND trial_key = ?");
  sqlite3_stmt* s = statement(
      "INSERT INTO trials (sweep_id, trial_key, point, point_label, seed, config_hash, plugins_sha, plugins)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sweep_id, trial_key)"
      " DO UPDATE SET current = 1, point = excluded.point, point_label = excluded.point_label");
  int added = 0;
  for (const TrialRecord& t : trials) {
    {
      Reset reset{exists};
      sqlite3_bind_int64(exists, 1, sweep);
      bind_text(exists, 2, t.key);
      int rc = sqlite3_step(exists);
      if (rc == SQLITE_DONE)
        ++added;
      else if (rc != SQLITE_ROW)
        fail("looking up trial " + t.key);
    }
    Reset reset{s};
    sqlite3_bind_int64(s, 1, sweep);
    bind_text(s, 2, t.key);
    sqlite3_bind_int64(s, 3, t.point);
    bind_text(s, 4, t.point_label);
    sqlite3_bind_int64(s, 5, t.seed);
    bind_text(s, 6, t.config_hash);
    bind_text(s, 7, t.plugins_sha);
    bind_text(s, 8, t.plugins);
    if (sqlite3_step(s) != SQLITE_DONE) fail("trial " + t.key);
  }
  tx.commit(fail);
  return added;
}

void Store::trial_started(int64_t sweep, const std::string& key, int64_t pid) {
  auto fail = [&](const std::string& what) { fail_sqlite("trial_started(" + key.substr(0, 12) + "): " + what); };
  sqlite3_stmt* s =
      statement("UPDATE trials SET status = 'running', pid = ?, attempts = attempts + 1, started_at = " XREC_NOW_SQL
                ", ended_at = NULL, error = NULL, run_id = NULL WHERE sweep_id = ? AND trial_key = ?");
  write_one(db_, s, write_patience_ms_, fail, [&] {
    sqlite3_bind_int64(s, 1, pid);
    sqlite3_bind_int64(s, 2, sweep);
    bind_text(s, 3, key);
  });
}

void Store::trial_run(int64_t sweep, const std::string& key, int64_t run) {
  auto fail = [&](const std::string& what) { fail_sqlite("trial_run(" + key.substr(0, 12) + "): " + what); };
  sqlite3_stmt* s = statement("UPDATE trials SET run_id = ? WHERE sweep_id = ? AND trial_key = ?");
  write_one(db_, s, write_patience_ms_, fail, [&] {
    sqlite3_bind_int64(s, 1, run);
    sqlite3_bind_int64(s, 2, sweep);
    bind_text(s, 3, key);
  });
}

void Store::trial_ended(int64_t sweep, const std::string& key, RunStatus status, const std::string& error) {
  auto fail = [&](const std::string& what) { fail_sqlite("trial_ended(" + key.substr(0, 12) + "): " + what); };
  sqlite3_stmt* s = statement("UPDATE trials SET status = ?, pid = NULL, ended_at = " XREC_NOW_SQL
                              ", error = ? WHERE sweep_id = ? AND trial_key = ?");
  write_one(db_, s, write_patience_ms_, fail, [&] {
    bind_text(s, 1, to_string(status));
    bind_text_or_null(s, 2, error);
    sqlite3_bind_int64(s, 3, sweep);
    bind_text(s, 4, key);
  });
}

bool Store::close_orphan_run(int64_t run, RunStatus status, const std::string& error) {
  auto fail = [&](const std::string& what) { fail_sqlite("close_orphan_run(" + std::to_string(run) + "): " + what); };
  Transaction tx(db_, fail, write_patience_ms_);
  // The driver saw how the process ended; that beats another process's guess: a trial killed while a sibling
  // started may already be closed as 'interrupted' by that sibling's reconcile_stale_runs ("ended without
  // closing the run"), and is then corrected here.
  sqlite3_stmt* s = statement("UPDATE runs SET status = ?, ended_at = " XREC_NOW_SQL
                              ", error = ? WHERE id = ? AND (status = 'running' OR (status = 'interrupted' AND"
                              " error LIKE 'process % ended without closing the run%'))");
  {
    Reset reset{s};
    bind_text(s, 1, to_string(status));
    bind_text_or_null(s, 2, error);
    sqlite3_bind_int64(s, 3, run);
    if (sqlite3_step(s) != SQLITE_DONE) fail("updating");
  }
  const bool changed = sqlite3_changes(db_) > 0;
  tx.commit(fail);
  return changed;
}

}  // namespace xrec
