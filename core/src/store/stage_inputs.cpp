// The run store: stage checkpoints and stage inputs (init_from, stage cache, resume; schema 4).
#include <unistd.h>

#include <string>
#include <vector>

#include "internal.hpp"
#include "xrec/store.hpp"

namespace xrec {

using namespace store_detail;

namespace {
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
}  // namespace

std::optional<CheckpointRecord> Store::stage_checkpoint(int64_t run, const std::string& stage, bool last) {
  sqlite3_stmt* s = statement(
      "SELECT path, bytes, sha256 FROM artifacts WHERE run_id = ? AND kind = 'checkpoint' ORDER BY created_at DESC");
  Reset reset{s};
  sqlite3_bind_int64(s, 1, run);
  // The file name carries the stage (save_checkpoint writes <stage>-best.pt); matched here rather than by
  // LIKE, which would read '_' and '%' in a stage name as wildcards.
  const std::string tail = "/" + stage + (last ? "-last.pt" : "-best.pt");
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    CheckpointRecord r{column_text(s, 0), sqlite3_column_int64(s, 1), column_text(s, 2)};
    if (ends_with(r.path, tail) || r.path == tail.substr(1)) return r;
  }
  if (rc != SQLITE_DONE) fail_sqlite("reading the checkpoints of run " + std::to_string(run));
  return std::nullopt;
}

std::optional<std::string> Store::run_status(int64_t run) {
  sqlite3_stmt* s = statement("SELECT status FROM runs WHERE id = ?");
  Reset reset{s};
  sqlite3_bind_int64(s, 1, run);
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return column_text(s, 0);
  if (rc != SQLITE_DONE) fail_sqlite("reading the status of run " + std::to_string(run));
  return std::nullopt;
}

void Store::add_stage_input(int64_t run, const StageInput& in) {
  auto fail = [&](const std::string& what) {
    fail_sqlite("add_stage_input(run " + std::to_string(run) + ", " + in.stage + "): " + what);
  };
  sqlite3_stmt* s = statement(
      "INSERT OR REPLACE INTO stage_inputs (run_id, stage, source, source_run, source_stage, cache_key, path, sha256)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  write_one(db_, s, write_patience_ms_, fail, [&] {
    sqlite3_bind_int64(s, 1, run);
    bind_text(s, 2, in.stage);
    bind_text(s, 3, in.source);
    if (in.source_run) sqlite3_bind_int64(s, 4, *in.source_run);
    else sqlite3_bind_null(s, 4);
    bind_text_or_null(s, 5, in.source_stage);
    bind_text_or_null(s, 6, in.cache_key);
    bind_text(s, 7, in.path);
    bind_text(s, 8, in.sha256);
  });
}

std::vector<StageInput> Store::stage_inputs(int64_t run) {
  sqlite3_stmt* s = statement(
      "SELECT stage, source, source_run, source_stage, cache_key, path, sha256 FROM stage_inputs WHERE run_id = ?"
      " ORDER BY created_at, stage");
  Reset reset{s};
  sqlite3_bind_int64(s, 1, run);
  std::vector<StageInput> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    StageInput in;
    in.stage = column_text(s, 0);
    in.source = column_text(s, 1);
    if (sqlite3_column_type(s, 2) != SQLITE_NULL) in.source_run = sqlite3_column_int64(s, 2);
    in.source_stage = column_text(s, 3);
    in.cache_key = column_text(s, 4);
    in.path = column_text(s, 5);
    in.sha256 = column_text(s, 6);
    out.push_back(std::move(in));
  }
  if (rc != SQLITE_DONE) fail_sqlite("reading the stage inputs of run " + std::to_string(run));
  return out;
}

void Store::resume_run(int64_t run) {
  auto fail = [&](const std::string& what) { fail_sqlite("resume_run(" + std::to_string(run) + "): " + what); };
  Transaction tx(db_, fail, write_patience_ms_);
  sqlite3_stmt* s = statement(
      "UPDATE runs SET status = 'running', ended_at = NULL, error = NULL, pid = ?, host = ?,"
      " resumed_at = " XREC_NOW_SQL ", resumes = resumes + 1 WHERE id = ? AND status IN ('failed', 'interrupted')");
  {
    Reset reset{s};
    sqlite3_bind_int64(s, 1, static_cast<int64_t>(::getpid()));
    bind_text(s, 2, this_host());
    sqlite3_bind_int64(s, 3, run);
    if (sqlite3_step(s) != SQLITE_DONE) fail("writing");
  }
  if (sqlite3_changes(db_) != 1) {
    const auto status = run_status(run);
    if (!status) throw InputError("--resume " + std::to_string(run) + ": the store " + path_ + " has no such run");
    throw InputError("--resume " + std::to_string(run) + ": the run is " + *status +
                     (*status == "finished" ? " (nothing to resume)" : " (another process runs it)"));
  }
  tx.commit(fail);
}

}  // namespace xrec
