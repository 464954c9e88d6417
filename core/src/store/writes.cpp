// The run store: writing runs, metrics, case ranks, plugins and artifacts; closing runs.
#include "xrec/store.hpp"

#include <unistd.h>

#include <cstdio>
#include <optional>
#include <vector>

#include "xrec/api/version.hpp"

#include "internal.hpp"

namespace xrec {

using namespace store_detail;

int64_t Store::create_sweep(const std::string& name, const std::string& base_config_yaml,
                            const std::string& base_config_hash) {
  auto fail = [&](const std::string& what) { fail_sqlite("create_sweep('" + name + "'): " + what); };
  Transaction tx(db_, fail, write_patience_ms_);
  sqlite3_stmt* s =
      statement("INSERT INTO sweeps (name, base_config_yaml, base_config_hash) VALUES (?, ?, ?)");
  Reset reset{s};
  bind_text(s, 1, name);
  bind_text(s, 2, base_config_yaml);
  bind_text(s, 3, base_config_hash);
  if (sqlite3_step(s) != SQLITE_DONE) fail("inserting the sweep");
  int64_t id = sqlite3_last_insert_rowid(db_);
  tx.commit(fail);
  return id;
}

int64_t Store::begin_run(const RunInfo& info,
                         const std::vector<std::pair<std::string, std::string>>& params) {
  if (info.name.empty()) throw Error("begin_run: the run has no name");
  auto fail = [&](const std::string& what) { fail_sqlite("begin_run('" + info.name + "'): " + what); };
  Transaction tx(db_, fail, write_patience_ms_);
  sqlite3_stmt* s = statement(
      "INSERT INTO runs (sweep_id, name, host, pid, git_sha, xrec_version, torch_version, seed, threads, "
      "device,"
      " blas, command, config_yaml, config_hash, run_dir, select_metric, select_mode)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  {
    Reset reset{s};
    if (info.sweep_id)
      sqlite3_bind_int64(s, 1, *info.sweep_id);
    else
      sqlite3_bind_null(s, 1);
    bind_text(s, 2, info.name);
    bind_text(s, 3, info.host.empty() ? this_host() : info.host);
    sqlite3_bind_int64(s, 4, info.pid != 0 ? info.pid : static_cast<int64_t>(getpid()));
    bind_text_or_null(s, 5, info.git_sha);
    bind_text(s, 6, info.xrec_version.empty() ? std::string(XREC_VERSION_STRING) : info.xrec_version);
    bind_text_or_null(s, 7, info.torch_version);
    sqlite3_bind_int64(s, 8, info.seed);
    sqlite3_bind_int64(s, 9, info.threads);
    bind_text(s, 10, info.device);
    bind_text_or_null(s, 11, info.blas);
    bind_text_or_null(s, 12, info.command);
    bind_text(s, 13, info.config_yaml);
    bind_text(s, 14, info.config_hash);
    bind_text_or_null(s, 15, info.run_dir);
    bind_text_or_null(s, 16, info.select_metric);
    bind_text(s, 17, info.select_higher_is_better ? "max" : "min");
    if (sqlite3_step(s) != SQLITE_DONE) fail("inserting the run");
  }
  int64_t id = sqlite3_last_insert_rowid(db_);
  sqlite3_stmt* p = statement("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)");
  for (const auto& [key, value] : params) {
    Reset reset{p};
    sqlite3_bind_int64(p, 1, id);
    bind_text(p, 2, key);
    bind_text(p, 3, value);
    if (sqlite3_step(p) != SQLITE_DONE) fail("param '" + key + "'");
  }
  tx.commit(fail);
  return id;
}

void Store::log_metric(int64_t run, const std::string& stage, const std::string& split,
                       const std::string& key, int64_t step, double value) {
  check_names("log_metric", run, split, key);
  pending_.push_back({run, stage, split, key, step, value});
  write_pending_metrics(/*patient=*/false);
}

void Store::flush_metrics() { write_pending_metrics(/*patient=*/true); }

// Metrics are the one write a run makes often, in the middle of training: when another process holds the
// store longer than the busy timeout they wait in memory (in order) and go in with the next write that
// gets the lock, so the run never dies for a busy store (its closing writes wait up to the patience).
bool Store::write_pending_metrics(bool patient) {
  if (pending_.empty()) return true;
  const auto now = std::chrono::steady_clock::now();
  const bool buffering = pending_.size() > 1;
  if (!patient && buffering && now < next_try_) return false;
  const PendingMetric& first = pending_.front();
  auto fail = [&](const std::string& what) {
    fail_sqlite("log_metric(run " + std::to_string(first.run) + ", " + first.split + " " + first.key + " step " +
                std::to_string(first.step) + (pending_.size() > 1 ? ", and " + std::to_string(pending_.size() - 1) + " more" : "") +
                "): " + what);
  };
  std::optional<Transaction> tx;
  if (patient) {
    tx.emplace(db_, fail, write_patience_ms_);
  } else {
    // Already buffering: a quick try, so a store locked for minutes costs training nothing.
    if (buffering) sqlite3_busy_timeout(db_, 20);
    const int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if (buffering) sqlite3_busy_timeout(db_, busy_timeout_ms_);
    if ((rc & 0xff) == SQLITE_BUSY) {
      if (!buffering)
        std::fprintf(stderr,
                     "xrec: warning: run store %s is locked by another process; metrics are kept in memory "
                     "and written when it is free\n",
                     path_.c_str());
      next_try_ = now + std::chrono::seconds(2);
      return false;
    }
    if (rc != SQLITE_OK) fail("cannot start a write transaction");
    tx.emplace(db_, Transaction::AlreadyBegun{});
  }
  sqlite3_stmt* s = statement(
      "INSERT INTO metrics (run_id, stage, split, key, step, value) VALUES (?, ?, ?, ?, ?, ?)"
      " ON CONFLICT (run_id, stage, split, key, step)"
      " DO UPDATE SET value = excluded.value, logged_at = excluded.logged_at");
  for (const PendingMetric& m : pending_) {
    Reset reset{s};
    sqlite3_bind_int64(s, 1, m.run);
    bind_text(s, 2, m.stage);
    bind_text(s, 3, m.split);
    bind_text(s, 4, m.key);
    sqlite3_bind_int64(s, 5, m.step);
    bind_real(s, 6, m.value);
    if (sqlite3_step(s) != SQLITE_DONE) {
      // Not a lock: this value itself is refused (e.g. its run does not exist). Drop it, so it cannot
      // hold back the others, which stay buffered for the next write.
      const size_t bad = static_cast<size_t>(&m - pending_.data());
      const PendingMetric refused = m;
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(bad));
      fail_sqlite("log_metric(run " + std::to_string(refused.run) + ", " + refused.split + " " + refused.key +
                  " step " + std::to_string(refused.step) + "): writing");
    }
  }
  tx->commit(fail);
  if (buffering)
    std::fprintf(stderr, "xrec: run store %s is free again; %zu buffered metric value(s) written\n", path_.c_str(),
                 pending_.size());
  pending_.clear();
  return true;
}

void Store::log_final(int64_t run, const std::string& split, const std::string& key, double value) {
  check_names("log_final", run, split, key);
  write_pending_metrics(/*patient=*/true);
  auto fail = [&](const std::string& what) {
    fail_sqlite("log_final(run " + std::to_string(run) + ", " + split + " " + key + "): " + what);
  };
  sqlite3_stmt* s = statement(
      "INSERT INTO final_metrics (run_id, split, key, value) VALUES (?, ?, ?, ?)"
      " ON CONFLICT (run_id, split, key) DO UPDATE SET value = excluded.value");
  write_one(db_, s, write_patience_ms_, fail, [&] {
    sqlite3_bind_int64(s, 1, run);
    bind_text(s, 2, split);
    bind_text(s, 3, key);
    bind_real(s, 4, value);
  });
}

void Store::log_case_ranks(int64_t run, const std::string& stage, const std::string& split,
                           const std::vector<CaseRank>& cases) {
  check_names("log_case_ranks", run, split, "case_ranks");
  auto fail = [&](const std::string& what) {
    fail_sqlite("log_case_ranks(run " + std::to_string(run) + ", " + stage + " " + split + "): " + what);
  };
  Transaction tx(db_, fail, write_patience_ms_);
  sqlite3_stmt* del = statement("DELETE FROM case_ranks WHERE run_id = ? AND stage = ? AND split = ?");
  {
    Reset reset{del};
    sqlite3_bind_int64(del, 1, run);
    bind_text(del, 2, stage);
    bind_text(del, 3, split);
    if (sqlite3_step(del) != SQLITE_DONE) fail("deleting earlier rows");
  }
  sqlite3_stmt* ins = statement(
      "INSERT INTO case_ranks (run_id, stage, split, case_index, user, target, rank, candidates)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  for (size_t i = 0; i < cases.size(); ++i) {
    Reset reset{ins};
    sqlite3_bind_int64(ins, 1, run);
    bind_text(ins, 2, stage);
    bind_text(ins, 3, split);
    sqlite3_bind_int64(ins, 4, static_cast<int64_t>(i));
    sqlite3_bind_int64(ins, 5, cases[i].user);
    sqlite3_bind_int64(ins, 6, cases[i].target);
    sqlite3_bind_int64(ins, 7, cases[i].rank);
    sqlite3_bind_int64(ins, 8, cases[i].candidates);
    if (sqlite3_step(ins) != SQLITE_DONE) fail("writing case " + std::to_string(i));
  }
  tx.commit(fail);
}

std::vector<CaseRank> Store::case_ranks(int64_t run, const std::string& stage, const std::string& split) {
  sqlite3_stmt* s = statement(
      "SELECT user, target, rank, candidates FROM case_ranks WHERE run_id = ? AND stage = ? AND split = ?"
      " ORDER BY case_index");
  Reset reset{s};
  sqlite3_bind_int64(s, 1, run);
  bind_text(s, 2, stage);
  bind_text(s, 3, split);
  std::vector<CaseRank> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    out.push_back({sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
                   sqlite3_column_int64(s, 3)});
  if (rc != SQLITE_DONE) fail_sqlite("reading case ranks of run " + std::to_string(run));
  return out;
}

std::vector<std::string> Store::case_rank_stages(int64_t run, const std::string& split) {
  sqlite3_stmt* s = statement("SELECT DISTINCT stage FROM case_ranks WHERE run_id = ? AND split = ? ORDER BY stage");
  Reset reset{s};
  sqlite3_bind_int64(s, 1, run);
  bind_text(s, 2, split);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  if (rc != SQLITE_DONE) fail_sqlite("reading case-rank stages of run " + std::to_string(run));
  return out;
}

void Store::add_plugin(int64_t run, const std::string& name, const std::string& version,
                       const std::string& path, const std::string& sha256) {
  auto fail = [&](const std::string& what) {
    fail_sqlite("add_plugin(run " + std::to_string(run) + ", " + name + "): " + what);
  };
  sqlite3_stmt* s = statement(
      "INSERT INTO plugins (run_id, name, version, path, sha256) VALUES (?, ?, ?, ?, ?)"
      " ON CONFLICT (run_id, name) DO UPDATE SET version = excluded.version, path = excluded.path,"
      " sha256 = excluded.sha256");
  write_one(db_, s, write_patience_ms_, fail, [&] {
    sqlite3_bind_int64(s, 1, run);
    bind_text(s, 2, name);
    bind_text(s, 3, version);
    bind_text(s, 4, path);
    bind_text(s, 5, sha256);
  });
}

void Store::add_artifact(int64_t run, const std::string& kind, const std::string& path, int64_t bytes,
                         const std::string& sha256) {
  auto fail = [&](const std::string& what) {
    fail_sqlite("add_artifact(run " + std::to_string(run) + ", " + path + "): " + what);
  };
  sqlite3_stmt* s = statement(
      "INSERT INTO artifacts (run_id, kind, path, bytes, sha256) VALUES (?, ?, ?, ?, ?)"
      " ON CONFLICT (run_id, path) DO UPDATE SET kind = excluded.kind, bytes = excluded.bytes,"
      " sha256 = excluded.sha256, created_at = excluded.created_at");
  write_one(db_, s, write_patience_ms_, fail, [&] {
    sqlite3_bind_int64(s, 1, run);
    bind_text(s, 2, kind);
    bind_text(s, 3, path);
    sqlite3_bind_int64(s, 4, bytes);
    bind_text_or_null(s, 5, sha256);
  });
}

void Store::set_run_dir(int64_t run, const std::string& dir) {
  auto fail = [&](const std::string& what) {
    fail_sqlite("set_run_dir(run " + std::to_string(run) + "): " + what);
  };
  Transaction tx(db_, fail, write_patience_ms_);
  sqlite3_stmt* s = statement("UPDATE runs SET run_dir = ? WHERE id = ?");
  {
    Reset reset{s};
    bind_text_or_null(s, 1, dir);
    sqlite3_bind_int64(s, 2, run);
    if (sqlite3_step(s) != SQLITE_DONE) fail("updating");
  }
  if (sqlite3_changes(db_) == 0) throw Error("set_run_dir: no run " + std::to_string(run) + " in " + path_);
  tx.commit(fail);
}

void Store::finish_run(int64_t run, RunStatus status, const std::string& error) {
  const std::string what = "finish_run(run " + std::to_string(run) + ", " + to_string(status) + ")";
  if (status == RunStatus::Running)
    throw Error(what + ": a run closes as finished, failed or interrupted, not running");
  auto fail = [&](const std::string& why) { fail_sqlite(what + ": " + why); };
  write_pending_metrics(/*patient=*/true);
  Transaction tx(db_, fail, write_patience_ms_);
  sqlite3_stmt* s = statement("UPDATE runs SET status = ?, ended_at = " XREC_NOW_SQL
                              ", error = ? WHERE id = ? AND status = 'running'");
  {
    Reset reset{s};
    bind_text(s, 1, to_string(status));
    bind_text_or_null(s, 2, error);
    sqlite3_bind_int64(s, 3, run);
    if (sqlite3_step(s) != SQLITE_DONE) fail("updating");
  }
  if (sqlite3_changes(db_) == 0) {
    sqlite3_stmt* q = statement("SELECT status FROM runs WHERE id = ?");
    Reset reset{q};
    sqlite3_bind_int64(q, 1, run);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) throw Error(what + ": the run is already closed as '" + column_text(q, 0) + "'");
    if (rc != SQLITE_DONE) fail("reading the run");
    throw Error(what + ": no run " + std::to_string(run) + " in " + path_);
  }
  tx.commit(fail);
}

RunScope::~RunScope() {
  if (closed_) return;
  try {
    std::string why = "run scope left without finish()";
    if (std::uncaught_exceptions() > exceptions_) why += " while an exception was propagating";
    store_.finish_run(run_, RunStatus::Failed, why);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xrec: error: run %lld: could not close the run in the store: %s\n",
                 static_cast<long long>(run_), e.what());
  } catch (...) {
    std::fprintf(stderr, "xrec: error: run %lld: could not close the run in the store\n",
                 static_cast<long long>(run_));
  }
}

void RunScope::finish() {
  store_.finish_run(run_, RunStatus::Finished);
  closed_ = true;
}

void RunScope::fail(RunStatus status, const std::string& error) {
  store_.finish_run(run_, status, error);
  closed_ = true;
}

}  // namespace xrec
